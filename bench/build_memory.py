"""Peak memory of `resdsl.build` over the network's float32 weights: the figures
behind resdsl/backends/resources.py's HEADROOM (docs/limits.md).

    python bench/build_memory.py                    # a 10,000 x 10,000 dense pair and wrn28_10, both backends

Each build runs in a fresh process (the framework imported first, so its own
memory is not counted): the growth of the process's maximum resident set while
building, divided by 4 bytes per parameter and buffer.
"""
from __future__ import annotations

import argparse
import subprocess
import sys

DENSE = ("resdsl: 1\nname: dense\ninput: {height: 1, width: 1, channels: 10000}\n"
         "head: [flatten, {dense: {units: 10000}}, {dense: {units: 10000}}]\n")

CHILD = """
import resource, sys, resdsl
backend, spec = sys.argv[1], sys.stdin.read()
r = resdsl.resolve(spec)
__import__("torch" if backend == "torch" else "keras")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
resdsl.build(r, backend)
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
weights = 4 * (r.params + r.buffers)
print(f"{backend:6} {r.name:10} weights {weights / 2**20:7.0f} MiB  peak growth {grown / 2**20:7.0f} MiB  "
      f"ratio {grown / weights:.2f}")
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--spec", action="append", help="a spec file or shipped name (default: the dense pair and wrn28_10)")
    args = p.parse_args()
    specs = [open(s).read() if s.endswith((".yaml", ".yml")) else s for s in args.spec] if args.spec \
        else [DENSE, "wrn28_10"]
    for spec in specs:
        for backend in ("torch", "keras"):
            done = subprocess.run([sys.executable, "-c", CHILD, backend], input=spec, text=True,
                                  capture_output=True, check=True)
            print(done.stdout.strip())


if __name__ == "__main__":
    main()
