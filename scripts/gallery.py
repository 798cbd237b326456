"""Regenerate the docs gallery: docs/gallery.md and the stage-level SVG of every
shipped spec in docs/gallery/.

    python scripts/gallery.py           # rewrite the gallery
    python scripts/gallery.py --check   # exit 1 if the committed gallery is out of date

tests/test_docs.py runs the same comparison, one spec per test.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import resdsl
from resdsl.render import render
from resdsl.render.compare import svg_content

DOCS = Path(__file__).resolve().parent.parent / "docs"
LEVEL = "stage"


def draw(name: str, folder: Path) -> Path:
    """Render one shipped spec into folder/<name>.svg."""
    return render(resdsl.resolve(name), folder / f"{name}.svg", level=LEVEL)


def markdown(names: list[str]) -> str:
    from resdsl.render.labels import human
    lines = ["# Gallery", "",
             ("The stage-level picture of every shipped spec (`resdsl list`), drawn by `resdsl render NAME "
             "--level stage`. Each stage is one node, written like the ResNet paper's Table 1 "
             "(`[1×1, 64 → 3×3, 64 → 1×1, 256] ×3`); the coloured edge into ⊕ is the stage's first shortcut, "
             "and the node lists all of them. For every block, use `--level block`; for every op, `--level layer`."),
             "", "Regenerate with `python scripts/gallery.py` (a test fails when this page is out of date).", ""]
    for name in names:
        r = resdsl.resolve(name)
        lines += [f"## {name}", "", r.description, "",
                  (f"{r.params:,} trainable parameters ({human(r.params)}), {human(r.macs)}MACs, "
                  f"input {'×'.join(map(str, r.input_shape))}."), "",
                  f"![{name}](gallery/{name}.svg)", ""]
    return "\n".join(lines)


def generate(docs: Path = DOCS) -> None:
    (docs / "gallery").mkdir(parents=True, exist_ok=True)
    names = resdsl.shipped_names()
    for stale in (docs / "gallery").glob("*.svg"):
        if stale.stem not in names:
            stale.unlink()
    for name in names:
        draw(name, docs / "gallery")
    (docs / "gallery.md").write_text(markdown(names), encoding="utf-8")


def differences(docs: Path = DOCS) -> list[str]:
    """What differs between the committed gallery and a fresh one."""
    names = resdsl.shipped_names()
    out = []
    md = docs / "gallery.md"
    if not md.exists() or md.read_text(encoding="utf-8") != markdown(names):
        out.append(str(md))
    committed = {p.stem for p in (docs / "gallery").glob("*.svg")}
    out += [f"docs/gallery/{n}.svg (no such spec)" for n in sorted(committed - set(names))]
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            if not same_svg(docs / "gallery" / f"{name}.svg", draw(name, Path(tmp))):
                out.append(f"docs/gallery/{name}.svg")
    return out


def same_svg(a: Path, b: Path) -> bool:
    return a.exists() and svg_content(a.read_bytes()) == svg_content(b.read_bytes())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="only report whether the gallery is up to date")
    args = p.parse_args(argv)
    if args.check:
        stale = differences()
        for s in stale:
            print(f"out of date: {s}", file=sys.stderr)
        if stale:
            print("run: python scripts/gallery.py", file=sys.stderr)
        return 1 if stale else 0
    generate()
    print(f"wrote {DOCS / 'gallery.md'} and {len(resdsl.shipped_names())} SVGs in {DOCS / 'gallery'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
