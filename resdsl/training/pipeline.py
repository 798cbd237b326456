"""The input pipeline, in numpy so that both frameworks see the same batches:
a per-epoch order, the paper's augmentation drawn per image from (seed, epoch),
and normalisation constants. Batches are produced on a background thread, one
or two ahead, so the accelerator never waits for them."""
from __future__ import annotations

import queue
import threading

import numpy as np

PAD = 4


def channel_stats(x: np.ndarray, normalize: str) -> tuple[list[float], list[float]]:
    """Mean and std per channel, in pixel units (0-255)."""
    if normalize == "unit":
        return [0.0] * x.shape[-1], [255.0] * x.shape[-1]
    flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
    return flat.mean(0).tolist(), flat.std(0).tolist()


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch, 0]).permutation(n)


class Augment:
    """Pad 4 + random crop back to size + random horizontal flip, the offsets and
    flips fixed per image for one epoch, so a batch's content does not depend on
    how the epoch is split across processes or where a run was resumed."""

    def __init__(self, n: int, seed: int, epoch: int):
        rng = np.random.default_rng([seed, epoch, 1])
        self.dy = rng.integers(0, 2 * PAD + 1, n)
        self.dx = rng.integers(0, 2 * PAD + 1, n)
        self.flip = rng.random(n) < 0.5

    def __call__(self, images: np.ndarray, idx: np.ndarray) -> np.ndarray:
        n, h, w, _ = images.shape
        padded = np.pad(images, ((0, 0), (PAD, PAD), (PAD, PAD), (0, 0)))
        out = np.empty_like(images)
        for i, j in enumerate(idx):
            crop = padded[i, self.dy[j]:self.dy[j] + h, self.dx[j]:self.dx[j] + w]
            out[i] = crop[:, ::-1] if self.flip[j] else crop
        return out


def batches(x: np.ndarray, y: np.ndarray, idx: np.ndarray, batch: int, augment: Augment | None = None,
            start: int = 0):
    """(images uint8 NHWC, labels int64) for consecutive full batches of `idx`,
    from batch number `start` on."""
    for k in range(start, len(idx) // batch):
        sel = idx[k * batch:(k + 1) * batch]
        images = x[sel]
        yield (augment(images, sel) if augment is not None else images), y[sel]


def eval_batches(x: np.ndarray, y: np.ndarray, batch: int, part: int = 0, parts: int = 1):
    """Every image once, in order (this process's share `part` of `parts`)."""
    idx = np.arange(part, len(x), parts)
    for k in range(0, len(idx), batch):
        sel = idx[k:k + batch]
        yield x[sel], y[sel]


def prefetch(iterable, depth: int = 2):
    """Run a generator on a background thread, `depth` items ahead. numpy
    releases the GIL in its copies, so this overlaps with the training step."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def work():
        try:
            for item in iterable:
                if stop.is_set():
                    return
                q.put(item)
        except BaseException as exc:  # re-raised in the consumer
            q.put(exc)
        finally:
            q.put(done)

    t = threading.Thread(target=work, daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while t.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                t.join(0.01)
