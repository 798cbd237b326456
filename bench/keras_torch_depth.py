"""Where a deep network's Keras build departs from its torch build: float32
rounding or a real difference. For each spec, one set of torch weights is
ported into a float32 and a float64 Keras build, and four pairs are compared:

    torch32 vs torch64   float32's own error on this network (same weights, same framework)
    keras32 vs torch64   the Keras build's float32 error
    keras32 vs torch32   what a float32 comparison sees
    keras64 vs torch64   a real difference (wrong eps, padding, pooling) survives here; rounding does not

Each as max |difference| / max |torch64 output| (relative, the measure of
tests/test_cross_framework.py), at the output and at each stage's output, with
the magnitude of the activations there (ResNets without a zero-initialised
last BN grow with depth). `--bn random` gives every BatchNorm non-trivial
weights and statistics (the tests' randomisation); `--bn default` keeps fresh
ones (the identity). Last, the output's error element by element, a measure
that only says how close to zero the smallest logit happens to be.

    python bench/keras_torch_depth.py                          # resnet50d resnet152 resnet200d, both BN modes
    python bench/keras_torch_depth.py --spec resnet200d --size 100 --bn random
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import keras
import numpy as np
import torch

import resdsl
from resdsl.backends.keras import trace

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "backends"))
from conftest import _randomise_norms as randomise  # noqa: E402  (the tests' BN randomisation)
from conftest import _resolve_small as resolve_at  # noqa: E402  (ImageNet-sized inputs shrunk to --size)


def keras_build(r, floatx: str):
    """A Keras build whose variables and computations are `floatx`. Layers read the
    global dtype policy, which Keras fixes from floatx on first use: set both."""
    before, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx(floatx)
    keras.config.set_dtype_policy(floatx)
    try:
        model = resdsl.build(r, backend="keras")
    finally:
        keras.config.set_floatx(before)
        keras.config.set_dtype_policy(policy)
    assert all(w.dtype == floatx for w in model.weights), f"the Keras build is not {floatx}"
    return model


def stage_outputs(r) -> dict[str, str]:
    """Stage name -> its last node, and 'output'."""
    out = {s.name: r.blocks[[b.name for b in r.blocks].index(s.blocks[-1])].output for s in r.stages}
    out["output"] = r.output
    return out


def torch_taps(model, r, x) -> dict[str, np.ndarray]:
    mods, got, hooks = dict(model.named_modules()), {}, []
    for s in r.stages:
        hooks.append(mods[s.blocks[-1]].register_forward_hook(
            lambda m, i, o, n=s.name: got.__setitem__(n, o.detach().double().numpy())))
    with torch.no_grad():
        got["output"] = model(torch.from_numpy(x)).double().numpy()
    for h in hooks:
        h.remove()
    return got


def keras_taps(model, r, x) -> dict[str, np.ndarray]:
    outs = trace(model, r, x.transpose(0, 2, 3, 1))
    taps = {}
    for k, node in stage_outputs(r).items():
        y = np.asarray(keras.ops.convert_to_numpy(outs[node]), dtype="float64")
        taps[k] = y.transpose(0, 3, 1, 2) if y.ndim == 4 else y
    return taps


def measure(name: str, size: int, bn: str, batch: int) -> None:
    r = resolve_at(name, size)
    torch.manual_seed(0)  # the conv weights: the same figures on every run
    t32 = resdsl.build(r, backend="torch").eval()
    if bn == "random":
        randomise(t32)
    k32, k64 = keras_build(r, "float32"), keras_build(r, "float64")
    resdsl.port_weights(t32, k32)
    resdsl.port_weights(t32, k64)
    t64 = resdsl.build(r, backend="torch").eval()
    t64.load_state_dict(t32.state_dict())
    t64.double()
    x32 = np.random.default_rng(1).normal(size=(batch, *r.input_shape)).astype("float32")
    x64 = x32.astype("float64")  # the same input values
    ref = torch_taps(t64, r, x64)
    sides = {"torch32": torch_taps(t32, r, x32), "keras32": keras_taps(k32, r, x32), "keras64": keras_taps(k64, r, x64)}
    pairs = (("torch32", "torch64"), ("keras32", "torch64"), ("keras32", "torch32"), ("keras64", "torch64"))
    print(f"\n{name} at {r.input_shape[1]}x{r.input_shape[2]}, batch {batch}, BN {bn}:")
    print(f"  {'tap':8s} {'max|y|':>9s}  " + "  ".join(f"{a + '/' + b:>15s}" for a, b in pairs))
    for tap in stage_outputs(r):
        scale = np.abs(ref[tap]).max()
        rel = []
        for a, b in pairs:
            ya, yb = sides[a][tap], sides[b][tap] if b != "torch64" else ref[tap]
            rel.append(np.abs(ya - yb).max() / scale)
        print(f"  {tap:8s} {scale:9.2e}  " + "  ".join(f"{v:15.2e}" for v in rel))
    k, t = sides["keras32"]["output"], sides["torch32"]["output"]
    print(f"  output keras32/torch32 element by element, max |k - t| / |t|: {np.max(np.abs(k - t) / np.abs(t)):.2e} "
          "(set by the logit nearest zero)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", nargs="+", default=["resnet50d", "resnet152", "resnet200d"])
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--bn", nargs="+", default=["random", "default"], choices=["random", "default"])
    args = ap.parse_args(argv)
    torch.set_num_threads(1)  # torch's and TensorFlow's pools fight over few cores
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; torch {torch.__version__}, "
          f"keras {keras.__version__} ({keras.backend.backend()})")
    for name in args.spec:
        for bn in args.bn:
            measure(name, args.size, bn, args.batch)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
