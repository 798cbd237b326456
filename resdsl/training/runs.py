"""A run folder: `run.json` (what was asked), `metrics.csv` and `metrics.json`
(one row per finished epoch), the checkpoint and the final model. Every file is
replaced atomically, so an interrupted run never leaves half a file."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ..io import atomic_write
from .config import TrainConfig, TrainError

COLUMNS = ["epoch", "step", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "epoch_time_s", "images_per_s"]
# what must agree between a run and its --resume (device and AMP may change)
SAME_ON_RESUME = ("spec_fingerprint", "backend", "preset", "batch_size", "epochs", "seed", "data_name",
                  "steps_per_epoch")


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    def file(self, name: str) -> Path:
        return self.path / name

    def write(self, name: str, data: str | bytes) -> None:
        atomic_write(self.file(name), data, force=True)

    def has_run(self) -> bool:
        return self.file("run.json").exists()

    def prepare(self, cfg: TrainConfig, identity: dict, checkpoint: str) -> list[dict]:
        """Create or reopen the folder; the history so far (empty for a new run)."""
        if cfg.resume:
            if not self.has_run() or not self.file(checkpoint).exists():
                raise TrainError(f"nothing to resume in '{self.path}': no run.json and {checkpoint} there",
                                 "start the run without --resume")
            before = json.loads(self.file("run.json").read_text("utf-8"))
            for key in SAME_ON_RESUME:
                if before.get(key) != identity.get(key):
                    raise TrainError(f"cannot resume '{self.path}': {key} was {before.get(key)!r}, "
                                     f"now {identity.get(key)!r}", "resume with the options the run started with")
            return self.history()
        if self.has_run():
            raise TrainError(f"'{self.path}' already holds a run", "continue it with --resume, or give another --out")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TrainError(f"cannot create the run folder '{self.path}': {exc.strerror or exc}") from None
        self.write("run.json", json.dumps(identity, indent=2) + "\n")
        return []

    def history(self) -> list[dict]:
        f = self.file("metrics.json")
        return json.loads(f.read_text("utf-8")) if f.exists() else []

    def write_history(self, rows: list[dict]) -> None:
        buf = io.StringIO()
        w = csv.DictWriter(buf, COLUMNS, lineterminator="\n")
        w.writeheader()
        for row in rows:
            w.writerow({k: _fmt(row[k]) for k in COLUMNS})
        self.write("metrics.csv", buf.getvalue())
        self.write("metrics.json", json.dumps(rows, indent=1) + "\n")


def _fmt(v):
    return f"{v:.6g}" if isinstance(v, float) else v
