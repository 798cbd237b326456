"""`resdsl compare`: train several specs the same way, then one table (final
and best validation accuracy, params, MACs, time) and one picture of all the
curves, as the paper's Figure 6. Runs go one after another, or one per GPU
(each a `resdsl train` process that sees one device) when several are visible."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..io import atomic_write
from . import History, train
from .config import TrainError


@dataclass
class Comparison:
    out: Path
    runs: list[History]
    table: Path
    pictures: list[Path]


def _gpu_count() -> int:
    try:
        import torch
        return torch.cuda.device_count()
    except ImportError:
        return 0


def compare(specs, data, backend: str = "torch", *, out="runs/compare", jobs: int | None = None,
            **options) -> Comparison:
    """Train each spec into OUT/<spec>-<backend>/ and write OUT/results.{csv,md}
    and OUT/curves.{svg,png}. Other options are those of `resdsl.train`."""
    from ..backends.resources import check_allocatable
    from ..ir import resolve
    from ..spec.load import load_spec
    if len(specs) < 1:
        raise TrainError("compare needs at least one spec")
    out = Path(out)
    from .job import check_one_output
    resolved = [resolve(load_spec(s, sets=options.get("sets") or ())) for s in specs]  # fail before training
    for r in resolved:
        check_one_output(r)
        check_allocatable(r, backend)  # the last spec too, before the first trains
    names = [r.name for r in resolved]
    plain = {r.name for r in resolved if not any(d["op"] == "add" for _, d in r.graph.nodes(data=True))}
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise TrainError(f"spec {dupes[0]!r} is given twice", "each run is named after its spec")
    out.mkdir(parents=True, exist_ok=True)
    dirs = [out / f"{n}-{backend}" for n in names]
    jobs = jobs or (_gpu_count() if backend == "torch" and _gpu_count() > 1 else 1)
    if jobs > 1:
        runs = _parallel(specs, names, dirs, data, backend, jobs, options)
    else:
        runs = [train(s, data, backend, out=d, **options) for s, d in zip(specs, dirs)]
    table = write_table(out, runs)
    from .plot import plot_curves
    pictures = plot_curves(runs, out / "curves", plain)
    return Comparison(out, runs, table, pictures)


def _parallel(specs, names, dirs, data, backend, jobs, options) -> list[History]:
    """One `resdsl train` process per run, `jobs` at a time, each on its own GPU."""
    gpus = _gpu_count()
    free = [str(i) for i in range(gpus)]
    pending = list(zip(specs, names, dirs))
    running: list[tuple[subprocess.Popen, str, str | None]] = []
    failed = []
    while pending or running:
        while pending and len(running) < jobs:
            spec, name, d = pending.pop(0)
            env, gpu = dict(os.environ), (free.pop(0) if free else None)
            if gpu is not None:
                env["CUDA_VISIBLE_DEVICES"] = gpu
            cmd = [sys.executable, "-m", "resdsl", "train", str(spec), "--data", str(data), "--backend", backend,
                   "--out", str(d), *_flags(options)]
            running.append((subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL), name, gpu))
        p, name, gpu = running.pop(0)
        if p.wait() != 0:
            failed.append(name)
        if gpu is not None:
            free.append(gpu)
    if failed:
        raise TrainError(f"training failed for {', '.join(failed)}", "its messages are printed above")
    return [load_history(d) for d in dirs]


def _flags(options: dict) -> list[str]:
    flags = []
    for key, value in options.items():
        if value is None or value is False or key in ("progress", "on_step"):
            continue
        if key == "sets":  # one --set per override
            flags += [x for v in value for x in ("--set", str(v))]
            continue
        flag = "--" + key.replace("_", "-")
        flags += [flag] if value is True else [flag, str(value)]
    return flags


def load_history(run_dir: Path) -> History:
    meta = json.loads((run_dir / "run.json").read_text("utf-8"))
    rows = json.loads((run_dir / "metrics.json").read_text("utf-8"))
    return History(meta["spec"], meta["backend"], run_dir, rows, meta["params"], meta["macs"],
                   sum(r["epoch_time_s"] for r in rows))


def write_table(out: Path, runs: list[History]) -> Path:
    header = ["spec", "backend", "epochs", "final_val_acc", "best_val_acc", "params", "macs", "train_time_s"]
    rows = [[h.spec, h.backend, len(h.rows), f"{h.final_val_acc:.4f}", f"{h.best_val_acc:.4f}", h.params,
             h.macs, f"{sum(r['epoch_time_s'] for r in h.rows):.1f}"] for h in runs]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *rows])
    atomic_write(out / "results.csv", buf.getvalue(), force=True)
    md = ["| Spec | Backend | Epochs | Final val acc | Best val acc | Params | MACs | Train time |",
          "|---|---|---:|---:|---:|---:|---:|---:|"]
    for h in runs:
        md.append(f"| {h.spec} | {h.backend} | {len(h.rows)} | {100 * h.final_val_acc:.2f}% | "
                  f"{100 * h.best_val_acc:.2f}% | {h.params:,} | {h.macs:,} | "
                  f"{sum(r['epoch_time_s'] for r in h.rows):.1f} s |")
    text = "\n".join(md) + "\n"
    atomic_write(out / "results.md", text, force=True)
    return out / "results.md"
