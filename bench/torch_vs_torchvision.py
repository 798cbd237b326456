"""resdsl's resnet50 against torchvision's on the CPU, side by side in one process.

Build time (reading and resolving the spec, emitting its source, construction and
initialisation) and inference throughput (batch 8, 3x224x224, eval mode, no grad)
of torchvision.models.resnet50(), resdsl.build("resnet50") and
resdsl.build("resnet50", fuse_bn=True); torchvision's model converted to
channels_last runs beside them as a reference for what the memory layout alone
gives, and the fused model with each conv+ReLU pair run as one oneDNN
convolution with a ReLU post-op (rewritten here with torch.fx; resdsl does not
do this: the op is a private, CPU-only one) for what that fusion would add.
The models take turns, one build or one timed batch each, over many
rounds, so that load from other processes on a shared machine falls on all of
them alike; each round's figures are printed, and the summary gives the median
of the per-round ratios to torchvision with their spread (> 1 means resdsl is
faster). A split of resdsl's build into its parts follows.

Targets (issue 9): build time <= 1.0x torchvision's; unfused inference >= 0.98x,
fused >= 1.15x torchvision eager, fused outputs within 1e-4 of the unfused model.

    python bench/torch_vs_torchvision.py [--rounds N] [--build-rounds N] [--threads N]
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
import types
from pathlib import Path

import torch
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import resdsl
from resdsl.backends.torch import emit, load_source

BATCH, SIZE = 8, 224
TV = "torchvision"


def interleaved(sides: dict, rounds: int) -> dict[str, list[float]]:
    """Seconds per call of each side, the sides taking turns; what a call returns
    is dropped outside the timed span (freeing a model is not building it)."""
    times: dict[str, list[float]] = {k: [] for k in sides}
    for _ in range(rounds):
        for name, call in sides.items():
            gc.collect()
            t = time.perf_counter()
            out = call()
            times[name].append(time.perf_counter() - t)
            del out
    return times


def report(title: str, times: dict[str, list[float]], unit: str, scale) -> dict[str, float]:
    """Per-round figures, then medians and the median per-round ratio to torchvision
    (with its range); returns those median ratios."""
    print(f"\n{title}: each round, {unit}")
    for name, ts in times.items():
        print(f"  {name:<24}" + " ".join(f"{scale(t):7.2f}" for t in ts))
    print(f"  {'':<24}{'median ' + unit:>16}{'vs ' + TV + ' (per-round median, range)':>42}")
    ratios = {}
    for name, ts in times.items():
        per_round = [a / b for a, b in zip(times[TV], ts)]  # > 1: faster than torchvision
        ratios[name] = statistics.median(per_round)
        print(f"  {name:<24}{scale(statistics.median(ts)):>16.3f}{ratios[name]:>24.3f}"
              f"   {min(per_round):.3f}-{max(per_round):.3f}")
    return ratios


def build_split(rounds: int) -> None:
    """Medians of resdsl's build parts, each timed on its own (exec: uncached, which
    a real build pays once per distinct source; init: time in `init_weight`)."""
    parts: dict[str, list[float]] = {k: [] for k in ("resolve", "emit", "exec", "construct", "init", "fold")}
    for _ in range(rounds):
        t0 = time.perf_counter()
        r = resdsl.resolve("resnet50")
        t1 = time.perf_counter()
        source = emit(r, fuse_bn=True)
        t2 = time.perf_counter()
        module = types.ModuleType("split")
        exec(compile(source, "<split>", "exec"), module.__dict__)  # noqa: S102 (our emitted source)
        t3 = time.perf_counter()
        init, spent = module.init_weight, []

        def timed_init(layer, how, init=init, spent=spent):
            t = time.perf_counter()
            init(layer, how)
            spent.append(time.perf_counter() - t)
            return layer
        module.init_weight = timed_init
        gc.collect()
        t4 = time.perf_counter()
        model = module.build_model(fused=False)
        t5 = time.perf_counter()
        module.fold_batchnorm(model)
        t6 = time.perf_counter()
        for key, dt in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t5 - t4 - sum(spent), sum(spent), t6 - t5)):
            parts[key].append(dt)
        del model
    print(f"\nresdsl build, split (median of {rounds}, ms; fold: fuse_bn only): "
          + ", ".join(f"{k} {1e3 * statistics.median(v):.1f}" for k, v in parts.items()))


def conv_relu_fused(model: torch.nn.Module) -> torch.fx.GraphModule:
    """`model` with each Conv2d whose only use is a ReLU (through Identity,
    what folded BatchNorms become) replaced by oneDNN's convolution with a ReLU
    post-op, `torch.ops.mkldnn._convolution_pointwise` (what inductor emits
    for the pair on the CPU)."""
    gm = torch.fx.symbolic_trace(model)
    kind = {n: type(gm.get_submodule(n.target)) for n in gm.graph.nodes if n.op == "call_module"}
    for relu in list(gm.graph.nodes):
        if kind.get(relu) is not torch.nn.ReLU:
            continue
        conv = relu.args[0]
        while kind.get(conv) is torch.nn.Identity and len(conv.users) == 1:
            conv = conv.args[0]
        if kind.get(conv) is not torch.nn.Conv2d or len(conv.users) != 1:
            continue
        c = gm.get_submodule(conv.target)
        if isinstance(c.padding, str) or c.padding_mode != "zeros":
            continue
        with gm.graph.inserting_before(relu):
            w = gm.graph.get_attr(f"{conv.target}.weight")
            b = gm.graph.get_attr(f"{conv.target}.bias") if c.bias is not None else None
            fused = gm.graph.call_function(torch.ops.mkldnn._convolution_pointwise,
                                           (conv.args[0], w, b, list(c.padding), list(c.stride), list(c.dilation),
                                            c.groups, "relu", [], ""))
        relu.replace_all_uses_with(fused)
    gm.graph.eliminate_dead_code()
    gm.recompile()
    return gm


def fused_difference() -> float:
    """max |fused - unfused| on one batch, same weights, BatchNorms with random
    statistics (fresh ones would make folding a near no-op)."""
    torch.manual_seed(1)
    module = load_source(emit(resdsl.resolve("resnet50"), fuse_bn=True), "resnet50")
    model = module.build_model(fused=False)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
        x = torch.randn(2, 3, SIZE, SIZE)
        expected = model.eval()(x)
        return (module.fold_batchnorm(model)(x) - expected).abs().max().item()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=20, help="timed batches per model (default 20)")
    p.add_argument("--build-rounds", type=int, default=9, help="builds per model (default 9)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
    resdsl.build("resnet50")  # imports, caches and the emitted module, as torchvision's is imported
    resdsl.build("resnet50", fuse_bn=True)
    builds = interleaved({TV: torchvision.models.resnet50,
                          "resdsl": lambda: resdsl.build("resnet50"),
                          "resdsl fused": lambda: resdsl.build("resnet50", fuse_bn=True)}, args.build_rounds)
    build_ratio = 1 / report(f"build, {args.build_rounds} interleaved rounds", builds, "s", lambda t: t)["resdsl"]
    build_split(max(3, args.build_rounds // 3))

    tv = torchvision.models.resnet50().eval()
    ours = resdsl.build("resnet50").eval()
    ours.load_state_dict(tv.state_dict())
    module = load_source(emit(resdsl.resolve("resnet50"), fuse_bn=True), "resnet50")
    fused = module.build_model(fused=False)  # what build(fuse_bn=True) returns, with torchvision's weights
    fused.load_state_dict(tv.state_dict())
    fused = module.fold_batchnorm(fused)
    conv_relu = conv_relu_fused(fused)
    tv_cl = torchvision.models.resnet50().eval().to(memory_format=torch.channels_last)
    tv_cl.load_state_dict(tv.state_dict())
    x = torch.randn(BATCH, 3, SIZE, SIZE)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        relu_diff = (conv_relu(x) - fused(x)).abs().max().item()
        for m in (tv, ours, fused, conv_relu, tv_cl):  # warm-up: allocator, oneDNN primitive caches
            m(x)
            m(x)
        sides = {TV: lambda: tv(x), "resdsl": lambda: ours(x), "resdsl fused": lambda: fused(x),
                 "fused + conv-ReLU": lambda: conv_relu(x), f"{TV} channels_last": lambda: tv_cl(x_cl)}
        ips = report(f"inference, batch {BATCH}x3x{SIZE}x{SIZE}, eval, no grad, {args.rounds} interleaved rounds",
                     interleaved(sides, args.rounds), "images/s", lambda t: BATCH / t)
    diff = fused_difference()
    print(f"\nfused vs unfused, same weights, random BatchNorm statistics: max |diff| {diff:.2e}")
    n_fused = sum(n.target is torch.ops.mkldnn._convolution_pointwise for n in conv_relu.graph.nodes)
    print(f"fused + conv-ReLU: {n_fused} conv+ReLU pairs as one oneDNN op; max |diff| to fused {relu_diff:.2e}")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    ok = build_ratio <= 1.0 and ips["resdsl"] >= 0.98 and ips["resdsl fused"] >= 1.15 and diff <= 1e-4
    print(f"build time resdsl/torchvision {build_ratio:.3f} (target <= 1.0); inference unfused "
          f"{ips['resdsl']:.3f} (>= 0.98), fused {ips['resdsl fused']:.3f} (>= 1.15): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
