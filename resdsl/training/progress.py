"""Progress of one epoch, shared by both backends: on a terminal a tqdm bar with
loss, accuracy and images/s; into a pipe or a file (a CI log, `> train.log`) one
line when the epoch ends, as Keras' `fit(verbose=2)` writes, since a bar there
leaves every refresh in the log; silent where progress is off (tests, other ranks)."""
from __future__ import annotations

import sys
import time


def _on_terminal(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class EpochBar:
    """`name` starts each line (runs of `resdsl compare` may share one log); `start`
    is the step a resumed epoch continues from."""

    def __init__(self, epoch: int, epochs: int, steps: int, enabled: bool, start: int = 0, name: str = "",
                 stream=None):
        self.t0 = self.t_last = time.perf_counter()
        self.images, self.done, self.shown = 0, start, (float("nan"), float("nan"))
        self.title = f"epoch {epoch + 1}/{epochs}"
        self.steps, self.name, self.stream = steps, name, stream or sys.stderr
        self.bar, self.lines = None, enabled and not _on_terminal(self.stream)
        if enabled and not self.lines:
            from tqdm import tqdm
            self.bar = tqdm(total=steps, initial=start, desc=self.title, unit="step", file=self.stream,
                            dynamic_ncols=True, leave=True)

    def _rate(self) -> float:
        """Training images per second, up to the last step (validation not counted)."""
        return self.images / max(self.t_last - self.t0, 1e-9)

    def update(self, n_images: int, loss: float, acc: float) -> None:
        self.images += n_images
        self.done += 1
        self.t_last = time.perf_counter()
        self.shown = (loss, acc)
        if self.bar is not None:
            self.bar.set_postfix_str(f"loss {loss:.4f} acc {acc:.4f} {self._rate():,.0f} img/s", refresh=False)
            self.bar.update(1)

    def close(self, note: str = "") -> None:
        if self.bar is not None:
            if note:
                self.bar.set_postfix_str(self.bar.postfix + " | " + note if self.bar.postfix else note)
            self.bar.close()
        elif self.lines:
            loss, acc = self.shown
            parts = [f"{self.name} {self.title}".strip(), f"{self.done}/{self.steps} steps",
                     f"{time.perf_counter() - self.t0:.1f}s", f"loss {loss:.4f}", f"acc {acc:.4f}",
                     *([note] if note else []), f"{self._rate():,.0f} img/s"]
            print(" - ".join(parts), file=self.stream, flush=True)
