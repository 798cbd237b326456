"""Training images/s of `resdsl train`'s loop against a minimal hand-written loop
on the same model, batch and optimizer: the data pipeline, progress bar and
metrics must not slow training (ratio >= 0.97). Torch: a bare PyTorch loop on
tensors already in memory. Keras: a bare `model.fit` on numpy arrays. By default
both frameworks are measured in one process and printed side by side.

    python bench/train_throughput.py [--backend both|torch|keras] [--device cuda --amp] [--spec cifar_resnet20]

Both sides run two epochs of the same number of steps and report the second
(the first pays for warm-up), alternating for --rounds rounds; the median of
each side's rounds is printed; resdsl's figure is its own `images_per_s`, which
times the training steps and leaves validation out, as the hand loop has none.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import resdsl
from resdsl.datasets.synthetic import toy_cifar, write_cifar_archive


def resdsl_rate(args, backend: str, archive: Path, out: Path) -> float:
    h = resdsl.train(args.spec, archive, backend, epochs=2, batch_size=args.batch, device=args.device,
                     amp=args.amp, out=out, progress=True)
    return h.rows[-1]["images_per_s"]


def torch_rate(args) -> float:
    import torch
    import torch.nn.functional as F
    device = torch.device("cuda" if args.device != "cpu" and torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    model = resdsl.build(args.spec, "torch").to(device)
    cl = device.type == "cuda"
    if cl:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    x, y = toy_cifar(args.batch * args.steps)
    xs = torch.from_numpy(x).permute(0, 3, 1, 2).float().div(255).contiguous().to(device)  # NCHW, as resdsl's
    ys = torch.from_numpy(y).to(device)
    if cl:
        xs = xs.contiguous(memory_format=torch.channels_last)
    amp = args.amp and device.type == "cuda"
    dtype = torch.bfloat16 if amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda") if amp and dtype == torch.float16 else None
    model.train()
    t0 = 0.0
    for _epoch in range(2):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for k in range(args.steps):
            xb, yb = xs[k * args.batch:(k + 1) * args.batch], ys[k * args.batch:(k + 1) * args.batch]
            with torch.autocast(device.type, dtype=dtype, enabled=amp):
                loss = F.cross_entropy(model(xb).float(), yb)
            opt.zero_grad(set_to_none=True)
            if scaler:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
    return args.batch * args.steps / (time.perf_counter() - t0)


def keras_rate(args) -> float:
    import keras
    policy = keras.mixed_precision.global_policy()
    if args.amp:  # what resdsl's Keras trainer picks: bf16 where the GPU has it
        from resdsl.training.keras_fit import amp_policy
        keras.mixed_precision.set_global_policy(amp_policy(keras) or policy)
    try:
        return _keras_fit_rate(args, keras)
    finally:
        keras.mixed_precision.set_global_policy(policy)


def _keras_fit_rate(args, keras) -> float:
    model = resdsl.build(args.spec, "keras")
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    x, y = toy_cifar(args.batch * args.steps)
    x = x.astype(np.float32) / 255

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds = time.perf_counter() - self.t0

    timer = Timer()
    model.fit(x, y, batch_size=args.batch, epochs=2, shuffle=True, verbose=0, callbacks=[timer])
    return args.batch * args.steps / timer.seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", choices=("both", "torch", "keras"), default="both")
    p.add_argument("--spec", default="cifar_resnet20")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=20, help="steps per epoch")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--amp", action="store_true")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds of both sides (median reported)")
    args = p.parse_args()
    backends = ("torch", "keras") if args.backend == "both" else (args.backend,)
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        archive = write_cifar_archive(Path(tmp) / "cifar-10-python.tar.gz", train=args.batch * args.steps,
                                      test=args.batch)
        for backend in backends:
            ours, bare = [], []
            for k in range(args.rounds):
                ours.append(resdsl_rate(args, backend, archive, Path(tmp) / f"run-{backend}-{k}"))
                bare.append(torch_rate(args) if backend == "torch" else keras_rate(args))
            rounds = "  rounds: " + ", ".join(f"{o:.0f}/{h:.0f}" for o, h in zip(ours, bare))
            ours, bare = float(np.median(ours)), float(np.median(bare))
            lines.append(f"{backend:5}  resdsl train {ours:8,.1f} img/s  hand-written {bare:8,.1f} img/s  "
                         f"ratio {ours / bare:.3f}{rounds}")
    print(f"{args.spec}, batch {args.batch}, {args.steps} steps/epoch, device {args.device}, amp {args.amp}, "
          f"median of {args.rounds} rounds")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
