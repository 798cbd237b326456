"""Keras ≡ torch per spec, as figures: for each spec, both builds' parameter counts
against the IR's, then one set of torch weights (BatchNorm randomised, as the tests
do) ported into Keras and back, and the outputs compared: max |Δ|, the relative
measure of tests/test_cross_framework.py (max |Δ| / max |output|), and torch ->
Keras -> torch, which must give 0.

    python bench/keras_torch_agree.py                       # the language-v3 timm specs and resnet200d
    python bench/keras_torch_agree.py resnet152 skresnet18  # any shipped specs
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.helpers, from a checkout

import numpy as np  # noqa: E402
import torch  # noqa: E402

import resdsl  # noqa: E402
from resdsl.backends import get_backend  # noqa: E402
from tests.helpers.norms import randomise_norms  # noqa: E402
from tests.helpers.numeric import relative  # noqa: E402
from tests.helpers.specs import resolve_small  # noqa: E402

V3 = ("skresnet18", "skresnext50_32x4d", "resnest14d", "resnest50d", "res2net50_26w_4s", "res2next50",
      "gcresnet50t", "resnetv2_50x1_bit", "resnetblur50", "resnet200d")


def compare(name: str) -> str:
    import keras

    t0 = time.time()
    r = resolve_small(name)
    km, tm = get_backend("keras").build(r), get_backend("torch").build(r).eval()
    assert km.count_params() == r.params + r.buffers, (name, km.count_params(), r.params + r.buffers)
    assert sum(p.numel() for p in tm.parameters()) == r.params, name
    randomise_norms(tm)
    resdsl.port_weights(tm, km)
    x = np.random.default_rng(1).normal(size=(2, *r.input_shape)).astype("float32")
    with torch.no_grad():
        yt = tm(torch.from_numpy(x)).numpy()
    yk = keras.ops.convert_to_numpy(km(x.transpose(0, 2, 3, 1), training=False))
    back = get_backend("torch").build(r).eval()
    resdsl.port_weights(km, back)
    with torch.no_grad():
        yb = back(torch.from_numpy(x)).numpy()
    return (f"{name:20s} params {r.params:>11,}  max|Δ| {np.abs(yt - yk).max():.1e}  relative {relative(yt, yk):.1e}"
            f"  torch->keras->torch {np.abs(yt - yb).max():.0e}  ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    torch.set_num_threads(1)
    for spec in sys.argv[1:] or V3:
        print(compare(spec), flush=True)
