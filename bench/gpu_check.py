"""resdsl's resnet50 against torchvision's on a CUDA GPU: training-step and
inference throughput with AMP and channels_last, side by side in one process.

    python bench/gpu_check.py [--batch 256] [--rounds 6] [--amp bfloat16|float16] [--compile]

Run from the repository root; needs only torch, torchvision and this repo. Without
CUDA it says so and exits 0. The models take turns (a chunk of steps each per
round) so that clock and thermal drift fall on all of them alike; each figure is
the median over rounds. Takes about a minute on an H100 (several with --compile).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def timed(fn, steps: int) -> float:
    """Seconds per step over `steps` steps, GPU work included."""
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(steps):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t) / steps


def interleaved(fns: dict, rounds: int, steps: int, warmup: int) -> dict[str, float]:
    for fn in fns.values():
        timed(fn, warmup)  # cudnn.benchmark picks its algorithms here
    per_step: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            per_step[name].append(timed(fn, steps))
    return {k: statistics.median(v) for k, v in per_step.items()}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--steps", type=int, default=10, help="steps per model per round")
    p.add_argument("--amp", choices=("bfloat16", "float16"), default="bfloat16")
    p.add_argument("--compile", action="store_true", help="also time torch.compile'd models (slow to compile)")
    args = p.parse_args()
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; nothing to measure (skipped)")
        return 0

    import torchvision

    import resdsl
    from resdsl.backends.torch import load_source

    dev, cl = torch.device("cuda"), torch.channels_last
    torch.backends.cudnn.benchmark = True
    dtype = getattr(torch, args.amp)
    torch.manual_seed(0)
    tv = torchvision.models.resnet50()
    ours = resdsl.build("resnet50")
    ours.load_state_dict(tv.state_dict(), strict=True)
    # The fused model folds torchvision's weights: build unfused, load, fold.
    module = load_source(resdsl.emit("resnet50", backend="torch", fuse_bn=True), "resnet50")
    fused = module.build_model(fused=False)
    fused.load_state_dict(tv.state_dict(), strict=True)
    module.fold_batchnorm(fused)
    models = {"torchvision": tv, "resdsl": ours}
    for m in (*models.values(), fused):
        m.to(dev, memory_format=cl)

    # Same weights, same function: fp32 eval outputs on this GPU.
    x = torch.randn(8, 3, 224, 224, device=dev).to(memory_format=cl)
    with torch.no_grad():
        expected = tv.eval()(x)
        diff = (ours.eval()(x) - expected).abs().max().item()
        diff_fused = (fused(x) - expected).abs().max().item()

    images = torch.randn(args.batch, 3, 224, 224, device=dev).to(memory_format=cl)
    labels = torch.randint(0, 1000, (args.batch,), device=dev)
    scaler = torch.amp.GradScaler("cuda", enabled=args.amp == "float16")

    def train_step(model, opt):
        def step():
            with torch.autocast("cuda", dtype=dtype):
                loss = torch.nn.functional.cross_entropy(model(images), labels)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        return step

    def infer_step(model):
        def step():
            with torch.no_grad(), torch.autocast("cuda", dtype=dtype):
                model(images)
        return step

    for m in models.values():
        m.train()
    train = {k: train_step(m, torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)) for k, m in models.items()}
    t_train = interleaved(train, args.rounds, args.steps, warmup=5)
    for m in models.values():
        m.eval()
    infer = {k: infer_step(m) for k, m in {**models, "resdsl fused": fused}.items()}
    if args.compile:
        infer.update({f"{k} compiled": infer_step(torch.compile(m)) for k, m in models.items()})
    t_infer = interleaved(infer, args.rounds, args.steps * 2, warmup=5)

    def ips(sec: float) -> float:
        return args.batch / sec

    print(f"{torch.cuda.get_device_name(0)}; torch {torch.__version__}, torchvision {torchvision.__version__}; "
          f"AMP {args.amp}, channels_last, batch {args.batch}, {args.rounds} interleaved rounds")
    print(f"{'model':<22}{'train img/s':>12}{'vs tv':>8}{'infer img/s':>13}{'vs tv':>8}")
    for name in infer:
        tr = f"{ips(t_train[name]):>12.0f}{t_train['torchvision'] / t_train[name]:>8.3f}" if name in t_train \
            else f"{'-':>12}{'-':>8}"
        ref = "torchvision compiled" if name.endswith("compiled") else "torchvision"
        print(f"{name:<22}{tr}{ips(t_infer[name]):>13.0f}{t_infer[ref] / t_infer[name]:>8.3f}")
    print(f"fp32 eval max |diff| against torchvision, same weights (TF32 convs if enabled): "
          f"resdsl {diff:.3g}, resdsl fused {diff_fused:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
