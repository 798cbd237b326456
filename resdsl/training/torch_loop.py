"""The PyTorch trainer: a plain loop (timm's train.py, the PyTorch ImageNet
example), data-parallel under `torchrun` with DistributedDataParallel (gloo on
CPU, nccl on GPU) and a DistributedSampler; rank 0 alone logs and writes.

On CUDA it trains channels_last, with autocast (bf16 where the GPU has it,
else fp16 with a GradScaler) when asked; on CPU the same code runs in float32.
A checkpoint holds everything the next step depends on — weights, optimizer
and scaler state, the RNG, the position in the epoch and the epoch's running
sums — so `--resume` continues bit for bit."""
from __future__ import annotations

import io
import os
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.utils.data import DistributedSampler

from ..backends.torch import build
from .config import Interrupted, TrainError
from .job import Job
from .pipeline import Augment, batches, epoch_order, eval_batches, prefetch
from .progress import EpochBar

LOG_EVERY = 10  # steps between bar updates: reading the loss waits for the GPU


def _world() -> tuple[int, int, int]:
    return (int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")),
            int(os.environ.get("LOCAL_RANK", "0")))


def _device(choice: str, local_rank: int) -> torch.device:
    if choice == "cuda" and not torch.cuda.is_available():
        raise TrainError("--device cuda, but PyTorch sees no CUDA GPU", "use --device auto or cpu")
    if choice in ("cuda", "auto") and torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def _amp(job: Job, device: torch.device):
    """(autocast dtype or None, GradScaler or None)."""
    if not job.cfg.amp:
        return None, None
    if device.type != "cuda":
        job.notes.append("--amp needs a CUDA GPU; trained in float32")
        return None, None
    if torch.cuda.is_bf16_supported():
        return torch.bfloat16, None
    return torch.float16, torch.amp.GradScaler("cuda")


def _optimizer(job: Job, model: torch.nn.Module) -> torch.optim.Optimizer:
    r = job.cfg.recipe
    if r.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=r.lr, momentum=r.momentum, weight_decay=r.weight_decay)
    return torch.optim.Adam(model.parameters(), lr=r.lr, eps=r.adam_eps, weight_decay=r.weight_decay)


def loss_fn(softmax_output: bool):
    if softmax_output:  # probabilities out of the head: clip and log as Keras' crossentropy does
        return lambda out, y: F.nll_loss(torch.log(out.float().clamp(1e-7, 1 - 1e-7)), y)
    return lambda out, y: F.cross_entropy(out.float(), y)


class Normalize:
    """uint8 NHWC batch -> normalised float NCHW on the device (cheaper to move bytes)."""

    def __init__(self, mean, std, device, channels_last: bool):
        self.mean = torch.tensor(mean, device=device).view(1, -1, 1, 1)
        self.std = torch.tensor(std, device=device).view(1, -1, 1, 1)
        self.device, self.channels_last = device, channels_last

    def __call__(self, xb: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(xb).to(self.device, non_blocking=True).permute(0, 3, 1, 2).float()
        x = (x - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x.contiguous()


def run_torch(job: Job) -> list[dict]:
    rank, world, local = _world()
    device = _device(job.cfg.device, local)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if job.cfg.batch() % world:
        raise TrainError(f"--batch-size {job.cfg.batch()} does not split over {world} processes",
                         "the batch size is the global one; make it a multiple of the process count")
    torch.manual_seed(job.cfg.seed)
    model = build(job.resolved).to(device)
    cuda = device.type == "cuda"
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    opt = _optimizer(job, model)
    amp_dtype, scaler = _amp(job, device)
    state = {"epoch": 0, "step_in_epoch": 0, "global_step": 0, "sums": [0.0, 0, 0, 0.0]}
    if job.cfg.resume:
        state = _load(job, model, opt, scaler, device)
    net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[local] if cuda else None) \
        if world > 1 else model
    norm = Normalize(job.mean, job.std, device, cuda)
    crit = loss_fn(job.softmax_output)
    sched, data = job.schedule, job.data
    per_rank = job.cfg.batch() // world
    # The sampler shards positions of the epoch's order; the order itself is the numpy one the Keras
    # trainer uses, so both frameworks train on the same batches. Rank r takes every world-th position,
    # so each global batch is the same set of images as a one-process run's batch.
    sampler = DistributedSampler(range(len(data.train_x)), num_replicas=world, rank=rank, shuffle=False,
                                 drop_last=True)
    rows = [r for r in job.history if r["epoch"] <= state["epoch"]]
    step = state["global_step"]
    for epoch in range(state["epoch"], sched.epochs):
        idx = epoch_order(len(data.train_x), job.cfg.seed, epoch)[np.fromiter(iter(sampler), dtype=np.int64)]
        aug = Augment(len(data.train_x), job.cfg.seed, epoch) if job.cfg.recipe.augment else None
        start = state["step_in_epoch"] if epoch == state["epoch"] else 0
        loss_sum, correct, seen, elapsed = (state["sums"] if start else [0.0, 0, 0, 0.0])
        loss_sum = torch.tensor(loss_sum, dtype=torch.float64, device=device)
        correct = torch.tensor(correct, dtype=torch.int64, device=device)
        shown = (float("nan"), float("nan"))
        bar = EpochBar(epoch, sched.epochs, sched.steps_per_epoch, job.cfg.progress and rank == 0, start,
                       job.resolved.name)
        model.train()
        t0 = time.perf_counter()
        for k, (xb, yb) in enumerate(prefetch(batches(data.train_x, data.train_y, idx, per_rank, aug, start)),
                                     start):
            for g in opt.param_groups:
                g["lr"] = sched.lr_at(step)
            x, y = norm(xb), torch.from_numpy(yb).to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                out = net(x)
            loss = crit(out, y)
            opt.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
            step += 1
            loss_sum += loss.detach().double() * len(yb)
            correct += (out.detach().argmax(1) == y).sum()
            seen += len(yb)
            if k == start or (k + 1) % LOG_EVERY == 0 or k + 1 == sched.steps_per_epoch:
                shown = (float(loss_sum) / seen, int(correct) / seen)
            bar.update(len(yb) * world, *shown)
            if job.on_step is not None:
                job.on_step(step)
            if job.stop.set:
                elapsed += time.perf_counter() - t0
                bar.close("interrupted")
                if world == 1:
                    _save(job, model, opt, scaler, epoch, k + 1, step, [float(loss_sum), int(correct), seen, elapsed])
                    where = f"epoch {epoch + 1}, step {k + 1}"
                else:  # ranks may stop at different steps: the last epoch's checkpoint stands
                    where = f"the end of epoch {epoch}"
                raise Interrupted(f"interrupted; {job.checkpoint} holds the run at {where}",
                                  "continue with the same command and --resume")
        if device.type == "cuda":
            torch.cuda.synchronize()
        elapsed += time.perf_counter() - t0
        sums = torch.stack([loss_sum, correct.double(), torch.tensor(float(seen), dtype=torch.float64,
                                                                     device=device)])
        if world > 1:
            dist.all_reduce(sums)
        val_loss, val_acc = _evaluate(model, norm, crit, data, per_rank * 2, rank, world, device, amp_dtype)
        row = {"epoch": epoch + 1, "step": step, "lr": sched.lr_at(step - 1),
               "train_loss": float(sums[0] / sums[2]), "train_acc": float(sums[1] / sums[2]),
               "val_loss": val_loss, "val_acc": val_acc, "epoch_time_s": elapsed,
               "images_per_s": float(sums[2]) / max(elapsed, 1e-9)}
        bar.close(f"val_loss {val_loss:.4f} val_acc {val_acc:.4f}")
        rows.append(row)
        if rank == 0:
            job.run.write_history(rows)
            _save(job, model, opt, scaler, epoch + 1, 0, step, [0.0, 0, 0, 0.0])
    if rank == 0:
        buf = io.BytesIO()
        torch.save(model.state_dict(), buf)
        job.run.write("model.pt", buf.getvalue())
    if world > 1:
        dist.barrier()
    return rows


@torch.no_grad()
def _evaluate(model, norm, crit, data, batch, rank, world, device, amp_dtype) -> tuple[float, float]:
    """Loss and top-1 accuracy over the whole validation set, split across ranks."""
    model.eval()
    sums = torch.zeros(3, dtype=torch.float64, device=device)
    for xb, yb in eval_batches(data.val_x, data.val_y, batch, rank, world):
        y = torch.from_numpy(yb).to(device)
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            out = model(norm(xb))
        sums += torch.stack([crit(out, y).double() * len(yb), (out.argmax(1) == y).sum().double(),
                             torch.tensor(float(len(yb)), dtype=torch.float64, device=device)])
    if world > 1:
        dist.all_reduce(sums)
    return float(sums[0] / sums[2]), float(sums[1] / sums[2])


def _save(job: Job, model, opt, scaler, epoch: int, step_in_epoch: int, global_step: int, sums: list) -> None:
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(),
             "scaler": scaler.state_dict() if scaler is not None else None,
             "epoch": epoch, "step_in_epoch": step_in_epoch, "global_step": global_step, "sums": sums,
             "rng": torch.get_rng_state(),
             # drop_path and dropout draw on the GPU's generator when training there
             "cuda_rng": _cuda_rng(model)}
    buf = io.BytesIO()
    torch.save(state, buf)
    job.run.write(job.checkpoint.name, buf.getvalue())


def _load(job: Job, model, opt, scaler, device) -> dict:
    try:
        state = torch.load(job.checkpoint, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
    except Exception as exc:  # a damaged or foreign file: say so instead of a traceback
        raise TrainError(f"{job.checkpoint}: cannot resume from it ({type(exc).__name__}: {exc})",
                         "start a new run with another --out") from None
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    torch.set_rng_state(state["rng"].cpu())
    if state.get("cuda_rng") is not None and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda_rng"].cpu(), device)
    return state


def _cuda_rng(model):
    p = next(model.parameters(), None)
    return torch.cuda.get_rng_state(p.device) if p is not None and p.is_cuda else None
