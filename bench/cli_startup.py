"""Whole-process time of `resdsl validate SPEC` against the bare import of the
libraries it cannot do without (`python -c "import yaml, pydantic, networkx"`).

    python bench/cli_startup.py [--rounds 21] [--spec cifar_resnet1202 ...] [--as-is] [--floor]

Each round starts every side once as a fresh process, in an order that
alternates from round to round, so a burst of load on a shared machine falls on
both. Reported: medians, the spread (min-max), and the ratio of medians, by
wall-clock time and by CPU time of the child (user + system: less sensitive to
other people's jobs than wall time, since waiting for a core is not counted).

By default Python may cache bytecode, in a temporary folder (PYTHONPYCACHEPREFIX),
for both sides alike, after two uncounted warm-up rounds: an installed package
has its .pyc files (pip writes them), and without this, a machine with
PYTHONDONTWRITEBYTECODE=1 would charge resdsl for compiling its own modules on
every start. `--as-is` runs under the environment unchanged.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE = [sys.executable, "-c", "import yaml, pydantic, networkx"]
# `import pydantic` loads little (its names load on first use); defining a model
# loads pydantic.main, fields and types and builds a validator: the floor for a
# spec layer built on pydantic, timed with the collector handled as resdsl's
# read-only commands handle it (off, objects frozen before exit).
MODELS = [sys.executable, "-c", "import gc; gc.disable()\nimport yaml, pydantic, networkx\n"
          "class M(pydantic.BaseModel):\n    x: pydantic.StrictInt = pydantic.Field(1, ge=0)\n"
          "M(x=2); gc.freeze()"]


def resdsl_command() -> list[str]:
    """The console script installed beside this interpreter, as a user runs it;
    `python -m resdsl` where there is none."""
    script = Path(sys.executable).parent / "resdsl"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "resdsl"]


def resdsl_location(env: dict) -> str:
    """Which resdsl the console script imports (PYTHONPATH, or the installed one):
    a child like it, without `-c`'s current folder in front of the path."""
    code = "import sys; sys.path.pop(0); import resdsl; print(resdsl.__file__)"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    return done.stdout.strip() or done.stderr.strip().splitlines()[-1]


def child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_once(cmd: list[str], env: dict) -> tuple[float, float]:
    cpu, t = child_cpu(), time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed (exit {done.returncode}):\n{done.stderr.decode(errors='replace')}")
    return wall, child_cpu() - cpu


def environment(as_is: bool, cache: str) -> dict:
    env = dict(os.environ)
    if not as_is:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = cache
    return env


def measure(sides: dict[str, list[str]], rounds: int, env: dict, warmup: int = 2) -> dict[str, list[tuple]]:
    names = list(sides)
    for _ in range(warmup):
        for name in names:
            run_once(sides[name], env)
    times: dict[str, list[tuple]] = {name: [] for name in names}
    for i in range(rounds):
        for name in (names if i % 2 == 0 else names[::-1]):
            times[name].append(run_once(sides[name], env))
    return times


def report(times: dict[str, list[tuple]], base: str) -> None:
    def column(name, k):
        return [t[k] for t in times[name]]

    bw, bc = statistics.median(column(base, 0)), statistics.median(column(base, 1))
    width = max(len(n) for n in times)
    print(f"{'':<{width}}  {'wall median':>11}  {'(min-max)':>13}  {'ratio':>6}  {'cpu median':>10}  {'ratio':>6}")
    for name in times:
        w, c = column(name, 0), column(name, 1)
        mw, mc = statistics.median(w), statistics.median(c)
        print(f"{name:<{width}}  {mw:>9.3f} s  ({min(w):.2f}-{max(w):.2f} s)  {mw / bw:>5.2f}x  "
              f"{mc:>8.3f} s  {mc / bc:>5.2f}x")
    for name in times:
        if name != base:
            per_round = [a[0] / b[0] for a, b in zip(times[name], times[base])]
            print(f"{name}: wall ratio per round, median {statistics.median(per_round):.2f} "
                  f"(min {min(per_round):.2f}, max {max(per_round):.2f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--spec", nargs="+", default=["cifar_resnet1202"], help="specs to validate, one side each")
    ap.add_argument("--as-is", action="store_true", help="keep the environment's bytecode settings")
    ap.add_argument("--floor", action="store_true",
                    help="also time the bare imports plus one pydantic model, collector off (pydantic's floor)")
    args = ap.parse_args()
    cli = resdsl_command()
    sides = {"bare imports": BARE} | ({"bare + a pydantic model, no GC": MODELS} if args.floor else {}) | \
        {f"validate {s}": cli + ["validate", s] for s in args.spec}
    load = os.getloadavg()[0]
    print(f"validate: {' '.join(cli)} validate SPEC   bare imports: {' '.join(BARE[1:])}")
    print(f"{args.rounds} rounds, interleaved; {os.cpu_count()} cores, load average {load:.1f} at the start; "
          f"bytecode {'as the environment says' if args.as_is else 'cached in a temporary folder'}")
    cache = tempfile.mkdtemp(prefix="resdsl-bench-pycache-")
    try:
        env = environment(args.as_is, cache)
        print(f"resdsl from {resdsl_location(env)}")
        times = measure(sides, args.rounds, env)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    report(times, "bare imports")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
