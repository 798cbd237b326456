"""One progress bar per epoch with loss, accuracy and images/s (tqdm), shared by
both backends; silent where progress is off (tests, other ranks)."""
from __future__ import annotations

import sys
import time


class EpochBar:
    def __init__(self, epoch: int, epochs: int, steps: int, enabled: bool, start: int = 0):
        self.t0 = time.perf_counter()
        self.images = 0
        self.bar = None
        if enabled:
            from tqdm import tqdm
            self.bar = tqdm(total=steps, initial=start, desc=f"epoch {epoch + 1}/{epochs}", unit="step",
                            file=sys.stderr, dynamic_ncols=True, leave=True)

    def update(self, n_images: int, loss: float, acc: float) -> None:
        self.images += n_images
        if self.bar is not None:
            rate = self.images / max(time.perf_counter() - self.t0, 1e-9)
            self.bar.set_postfix_str(f"loss {loss:.4f} acc {acc:.4f} {rate:,.0f} img/s", refresh=False)
            self.bar.update(1)

    def close(self, note: str = "") -> None:
        if self.bar is not None:
            if note:
                self.bar.set_postfix_str(self.bar.postfix + " | " + note if self.bar.postfix else note)
            self.bar.close()
