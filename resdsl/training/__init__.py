"""`resdsl.train`: train a spec on a data set in PyTorch or Keras, with the
paper's CIFAR recipe or the articles' Adam one; metrics, checkpoints, resume.

The data, the schedule and the run folder are prepared here without a
framework; `torch_loop` (a plain loop, DDP under torchrun) and `keras_fit`
(`model.fit` with callbacks) do the training.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from .config import PRESETS, Interrupted, TrainConfig, TrainError

__all__ = ["History", "Interrupted", "PRESETS", "TrainConfig", "TrainError", "train"]


@dataclass
class History:
    spec: str
    backend: str
    run_dir: Path
    rows: list[dict]
    params: int
    macs: int
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def final_val_acc(self) -> float:
        return self.rows[-1]["val_acc"]

    @property
    def best_val_acc(self) -> float:
        return max(r["val_acc"] for r in self.rows)


def train(spec, data, backend: str = "torch", *, epochs: int | None = None, batch_size: int | None = None,
          preset: str = "paper-cifar", out=None, device: str = "auto", amp: bool = False, seed: int = 0,
          resume: bool = False, download: bool = False, progress: bool = True, devices=None,
          on_step=None, sets=()) -> History:
    """Train `spec` (a path, a shipped name or YAML text) on `data` (a path) and
    return its history, one row per epoch (also in RUN_DIR/metrics.csv/json).

    `devices` (Keras only): TensorFlow device names to train on under
    `tf.distribute.MirroredStrategy`, e.g. ("GPU:0", "GPU:1"); by default every
    GPU when more than one is visible, else one device. `on_step(global_step)`
    is called after every update (used by tests). `sets` are `--set PATH=VALUE`
    overrides of the spec, as for `resdsl.build`."""
    from ..backends.resources import check_allocatable
    from ..datasets import load_dataset
    from ..ir import resolve
    from ..spec.load import load_spec
    from .config import make_schedule
    from .job import Job, StopFlag, check_fit, check_one_output, ends_in_softmax, identity, make_stats
    from .runs import RunDir

    cfg = TrainConfig(spec=str(spec), data=str(data), backend=backend, preset=preset, epochs=epochs,
                      batch_size=batch_size, out=None if out is None else str(out), device=device, amp=amp,
                      seed=seed, resume=resume, download=download, progress=progress,
                      devices=None if devices is None else tuple(devices)).check()
    resolved = resolve(load_spec(spec, sets=sets or ()))
    check_one_output(resolved)
    check_allocatable(resolved, backend)  # before the data is read; the backend's build checks again
    c, h, w = resolved.input_shape
    dataset = load_dataset(data, size=(h, w), channels=c, download=download)
    check_fit(resolved, dataset)
    schedule = make_schedule(cfg, len(dataset.train_x))
    mean, std = make_stats(dataset, cfg.recipe.normalize)
    run = RunDir(out if out is not None else Path("runs") / f"{resolved.name}-{backend}")
    ident = identity(cfg, resolved, dataset, schedule, mean, std)
    history = run.prepare(cfg, ident, "checkpoint.pt" if backend == "torch" else "checkpoint.keras") \
        if _is_rank0() else []
    job = Job(cfg, resolved, dataset, schedule, run, history, mean, std, ends_in_softmax(resolved), on_step)
    job.stop = StopFlag()
    t0 = time.perf_counter()
    with job.stop.installed():
        if backend == "torch":
            from .torch_loop import run_torch
            rows = run_torch(job)
        else:
            from .keras_fit import run_keras
            rows = run_keras(job)
    return History(resolved.name, backend, run.path, rows, resolved.params, resolved.macs,
                   time.perf_counter() - t0, job.notes)


def _is_rank0() -> bool:
    import os
    return int(os.environ.get("RANK", "0")) == 0
