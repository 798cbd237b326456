"""Everything one run needs, prepared without any framework: the resolved
network, the data checked against it, the schedule, the run folder and the
history so far. The backends' trainers take a Job and return its history."""
from __future__ import annotations

import contextlib
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..datasets.common import Dataset
from ..ir import Resolved
from .config import Schedule, TrainConfig, TrainError
from .pipeline import channel_stats
from .runs import RunDir


@dataclass
class Job:
    cfg: TrainConfig
    resolved: Resolved
    data: Dataset
    schedule: Schedule
    run: RunDir
    history: list[dict]
    mean: list[float]
    std: list[float]
    softmax_output: bool        # the spec's head ends in softmax: the loss takes probabilities
    on_step: Callable[[int], None] | None = None
    notes: list[str] = field(default_factory=list)
    stop: "StopFlag" = None

    @property
    def checkpoint(self) -> Path:
        return self.run.file("checkpoint.pt" if self.cfg.backend == "torch" else "checkpoint.keras")


def check_one_output(resolved: Resolved) -> None:
    """Training and comparison fit one classifier: a network with several outputs
    (a backbone for detection) has no one loss to train."""
    if len(resolved.outputs) > 1:
        raise TrainError(f"'{resolved.name}' has {len(resolved.outputs)} outputs ({', '.join(resolved.output_names)}); "
                         "training needs one, the classifier's",
                         "train the spec without `outputs:` (its last layer is then the one output), "
                         "and build the multi-output network from the trained weights")


def check_fit(resolved: Resolved, data: Dataset) -> None:
    c, h, w = resolved.input_shape
    if data.image_shape != (h, w, c):
        dh, dw, dc = data.image_shape
        raise TrainError(f"{data.source}: the images are {dh}×{dw}×{dc} (H×W×C) but '{resolved.name}' takes "
                         f"{h}×{w}×{c}", "choose a spec whose input matches the data, or change its `input:`")
    out = resolved.output_shape
    if len(out) != 1 or out[0] < len(data.classes):
        raise TrainError(f"{data.source}: {len(data.classes)} classes but '{resolved.name}' outputs {out}",
                         f"end the head with `dense: {{units: {len(data.classes)}}}`")


def ends_in_softmax(resolved: Resolved) -> bool:
    return resolved.node(resolved.output)["attrs"].get("activation") == "softmax"


def make_stats(data: Dataset, normalize: str) -> tuple[list[float], list[float]]:
    return channel_stats(data.train_x, normalize)


def identity(cfg: TrainConfig, resolved: Resolved, data: Dataset, schedule: Schedule, mean, std) -> dict:
    from ..backends.common import fingerprint
    return {"spec": resolved.name, "spec_fingerprint": fingerprint(resolved), "backend": cfg.backend,
            "preset": cfg.preset, "batch_size": cfg.batch(), "epochs": schedule.epochs, "seed": cfg.seed,
            "steps_per_epoch": schedule.steps_per_epoch, "milestones": list(schedule.milestones),
            "base_lr": schedule.base_lr, "data": data.source, "data_name": data.name, "classes": data.classes,
            "train_images": int(len(data.train_x)), "val_images": int(len(data.val_x)),
            "mean": mean, "std": std, "params": resolved.params, "macs": resolved.macs,
            "device": cfg.device, "amp": cfg.amp}


class StopFlag:
    """Ctrl-C sets a flag the trainer checks between steps, so a checkpoint is
    never taken of half an optimizer update; a second Ctrl-C stops at once."""

    def __init__(self):
        self.set = False

    def _handler(self, signum, frame):
        if self.set:
            raise KeyboardInterrupt
        self.set = True

    @contextlib.contextmanager
    def installed(self):
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        old = signal.signal(signal.SIGINT, self._handler)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, old)


def top1(logits: np.ndarray, y: np.ndarray) -> int:
    return int((logits.argmax(1) == y).sum())
