"""What each of the IR's speed-ups gains, measured against its plain version side by side:

- networkx's private dicts (`Builder.append`, the passes' graph copies and reads)
  against its public API: RESDSL_FASTPATH=0 for all of them, or one site at a time;
- the cyclic garbage collector paused while resolving (ir/__init__.py) and off for
  read-only commands (cli.py) against the collector left alone;
- ir/attrs.py's shared hand-written `__init__`, repr, eq, hash and frozen setattr
  against the methods `dataclass(frozen=True)` generates.

    python bench/ir_fastpaths.py [--rounds 11] [--variants shipped,nx_public,...]

Each variant runs in fresh processes (a setup snippet, then resdsl), in an order that
rotates from round to round, so load on a shared machine falls on all alike. Per
round: the whole process of `resdsl validate cifar_resnet1202` (wall and CPU time of
the child), and inside one process the median of 5 resolves of cifar_resnet1202 and of
resnet50 (spec loading included). Reported: medians over the rounds, and each
variant's time over the shipped one's (> 1: the plain version is slower, which is
what the speed-up gains).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

# networkx's public API at one site: that module's fastpath switch reads False.
_SITE_OFF = ("import types, resdsl.ir.{m} as m\n"
             "m.fastpath = types.SimpleNamespace(enabled=lambda: False)\n")
# The collector as Python leaves it: resolve's pause and the CLI's switch-off do nothing.
_GC_ALONE = ("import contextlib, resdsl.ir as ir, resdsl.cli as cli\n"
             "ir._gc_paused = contextlib.nullcontext\n"
             "cli._collector_off = lambda off, exiting: contextlib.nullcontext()\n")
# ir/attrs.py with dataclass(frozen=True) generating each class's methods, loaded in
# place of the module before anything imports it.
_PLAIN_ATTRS = """\
import importlib.util, sys, pathlib, resdsl
path = pathlib.Path(resdsl.__file__).parent / "ir" / "attrs.py"
text = path.read_text()
old = "cls = dataclass(init=False, repr=False, eq=False)(cls)"
assert old in text, "ir/attrs.py changed: update bench/ir_fastpaths.py"
spec = importlib.util.spec_from_file_location("resdsl.ir.attrs", path)
mod = importlib.util.module_from_spec(spec)
sys.modules["resdsl.ir.attrs"] = mod
exec(compile(text.replace(old, "cls = dataclass(frozen=True)(cls)"), str(path), "exec"), mod.__dict__)
"""
VARIANTS = {
    "shipped": ("", {}),
    "nx_public": ("", {"RESDSL_FASTPATH": "0"}),
    "append_public": (_SITE_OFF.format(m="graph"), {}),
    "passes_public": (_SITE_OFF.format(m="passes"), {}),
    "gc_alone": (_GC_ALONE, {}),
    "attrs_plain": (_PLAIN_ATTRS, {}),
    "all_plain": (_PLAIN_ATTRS + _GC_ALONE, {"RESDSL_FASTPATH": "0"}),
}
VALIDATE = "import sys\nfrom resdsl.cli import entry\nsys.argv = ['resdsl', 'validate', 'cifar_resnet1202']\nentry()\n"
RESOLVE = """\
import json, statistics, time, resdsl
out = {}
for name in ("cifar_resnet1202", "resnet50"):
    times = []
    for _ in range(5):
        t = time.perf_counter()
        resdsl.resolve(name)
        times.append(time.perf_counter() - t)
    out[name] = statistics.median(times)
print(json.dumps(out))
"""


def child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(setup: str, env: dict, code: str, cwd: str) -> tuple[float, float, str]:
    env = {**os.environ, **env}
    cpu, t = child_cpu(), time.perf_counter()
    done = subprocess.run([sys.executable, "-c", setup + code], env=env, cwd=cwd, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t, child_cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(f"variant failed:\n{setup}\n{done.stderr[-2000:]}")
    return wall, cpu, done.stdout


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=11)
    p.add_argument("--variants", default=",".join(VARIANTS))
    a = p.parse_args()
    names = a.variants.split(",")
    figures = {n: {"validate wall": [], "validate cpu": [], "resolve cifar_resnet1202": [], "resolve resnet50": []}
               for n in names}
    with tempfile.TemporaryDirectory() as cwd:  # no ./resdsl in front of the installed one
        for n in names:  # warm-up, uncounted: bytecode caches, page cache
            run(*VARIANTS[n], VALIDATE, cwd)
        print(f"load before: {open('/proc/loadavg').read().split()[:3]}")
        for k in range(a.rounds):
            for n in names[k % len(names):] + names[:k % len(names)]:
                setup, env = VARIANTS[n]
                wall, cpu, _ = run(setup, env, VALIDATE, cwd)
                figures[n]["validate wall"].append(wall)
                figures[n]["validate cpu"].append(cpu)
                _, _, out = run(setup, env, RESOLVE, cwd)
                for spec, t in json.loads(out).items():
                    figures[n][f"resolve {spec}"].append(t)
    print(f"load after: {open('/proc/loadavg').read().split()[:3]}")
    keys = list(figures[names[0]])
    print(f"\nmedians of {a.rounds} rounds, seconds (and / shipped)")
    print(f"{'variant':<16}" + "".join(f"{k:>30}" for k in keys))
    base = {k: statistics.median(figures["shipped"][k]) for k in keys} if "shipped" in figures else None
    for n in names:
        cells = []
        for k in keys:
            m = statistics.median(figures[n][k])
            cells.append(f"{m:.4f}" + (f" ({m / base[k]:.3f}x)" if base else ""))
        print(f"{n:<16}" + "".join(f"{c:>30}" for c in cells))


if __name__ == "__main__":
    main()
