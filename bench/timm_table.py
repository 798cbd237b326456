"""The table of issue 10's closing note: each shipped timm-flavour spec against
installed timm (pretrained=False) — parameters (ours / timm's), MACs at timm's
native input (ours / PyTorch's FLOP counter on timm's model / 2), whether timm's
state_dict loads with strict=True, and the worst output difference in eval mode
(BatchNorm statistics randomised so every norm matters). The assertions live in
tests/backends/test_timm_parity.py; this prints the figures it checks.

    python bench/timm_table.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import timm
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' table and helpers
import resdsl  # noqa: E402
from tests.backends.test_timm_parity import TIMM_SPECS, _macs  # noqa: E402
from tests.helpers.norms import randomise_norms  # noqa: E402


def main() -> None:
    torch.set_num_threads(1)
    print(f"timm {timm.__version__}, torch {torch.__version__}")
    print("| spec | params (resdsl = timm) | MACs (resdsl = timm) | strict load | worst |diff| |")
    print("| --- | --- | --- | --- | --- |")
    for spec in sorted(TIMM_SPECS):
        name, size = TIMM_SPECS[spec]
        ref = timm.create_model(name, pretrained=False).eval()
        randomise_norms(ref)
        r = resdsl.resolve(spec)
        ref_params = sum(p.numel() for p in ref.parameters())
        ref_macs = _macs(name, r.input_shape[1])
        ours = resdsl.build(r, backend="torch").eval()
        res = ours.load_state_dict(ref.state_dict(), strict=True)
        strict = "ok" if not (res.missing_keys or res.unexpected_keys) else "FAILED"
        x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            worst = float((ours(x) - ref(x)).abs().max())
        mark = lambda a, b: f"{a:,}" + ("" if a == b else f" ≠ {b:,}")  # noqa: E731
        print(f"| {spec} | {mark(r.params, ref_params)} | {mark(r.macs, ref_macs)} | {strict} | "
              f"{worst:.1e} at {size}×{size} |")


if __name__ == "__main__":
    main()
