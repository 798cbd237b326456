"""resdsl's resnet50 against torchvision's on the CPU, side by side in one process.

Build time (construction plus initialisation) and inference throughput (batch 8,
3x224x224, eval mode, no grad) of three models: torchvision.models.resnet50(),
resdsl.build("resnet50") and resdsl.build("resnet50", fuse_bn=True). Results are
ratios to torchvision (> 1 means resdsl is faster). The models take turns, one
timed batch each, over many rounds, so that load from other processes on a
shared machine falls on all of them alike; the median of the rounds is reported.

Targets (issue 3): unfused within 2% of torchvision, fused faster.

    python bench/torch_vs_torchvision.py [--rounds N] [--threads N]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import resdsl

BATCH, SIZE = 8, 224


def build_times(rounds: int) -> dict[str, float]:
    makers = {"torchvision": torchvision.models.resnet50,
              "resdsl": lambda: resdsl.build("resnet50"),
              "resdsl fused": lambda: resdsl.build("resnet50", fuse_bn=True)}
    times: dict[str, list[float]] = {k: [] for k in makers}
    for _ in range(rounds):
        for name, make in makers.items():
            t = time.perf_counter()
            make()
            times[name].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def throughput(models: dict[str, torch.nn.Module], rounds: int) -> dict[str, float]:
    x = torch.randn(BATCH, 3, SIZE, SIZE)
    times: dict[str, list[float]] = {k: [] for k in models}
    with torch.no_grad():
        for m in models.values():  # warm-up: allocator, oneDNN primitive caches
            m(x)
            m(x)
        for _ in range(rounds):
            for name, m in models.items():
                t = time.perf_counter()
                m(x)
                times[name].append(time.perf_counter() - t)
    return {k: BATCH / statistics.median(v) for k, v in times.items()}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=30, help="timed batches per model (default 30)")
    p.add_argument("--build-rounds", type=int, default=5, help="builds per model (default 5)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    builds = build_times(args.build_rounds)
    tv = torchvision.models.resnet50().eval()
    ours = resdsl.build("resnet50").eval()
    ours.load_state_dict(tv.state_dict())
    fused = resdsl.build("resnet50", fuse_bn=True)
    ips = throughput({"torchvision": tv, "resdsl": ours, "resdsl fused": fused}, args.rounds)

    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, {torch.get_num_threads()} threads, "
          f"batch {BATCH}x3x{SIZE}x{SIZE}, {args.rounds} interleaved rounds")
    print(f"{'model':<14}{'build s':>9}{'images/s':>10}{'speed vs torchvision':>22}")
    for name in builds:
        print(f"{name:<14}{builds[name]:>9.3f}{ips[name]:>10.2f}{ips[name] / ips['torchvision']:>22.3f}")
    unfused, fused_ratio = ips["resdsl"] / ips["torchvision"], ips["resdsl fused"] / ips["torchvision"]
    print(f"build time ratio resdsl/torchvision: {builds['resdsl'] / builds['torchvision']:.3f}")
    ok = unfused >= 0.98 and fused_ratio > 1.0
    print(f"targets (unfused >= 0.98, fused > 1.00): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
