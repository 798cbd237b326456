"""What a training run is: the options, the two presets, and the learning-rate
schedule — plain data shared by the torch loop and the Keras fit path, so both
frameworks train the same way."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from ..errors import HintedError, did_you_mean


class TrainError(HintedError):
    """A training option or run folder that cannot be used as given."""


class Interrupted(TrainError):
    """Ctrl-C: the run stopped between two steps and left a checkpoint to resume."""


@dataclass(frozen=True)
class Preset:
    optimizer: str              # 'sgd' or 'adam'
    lr: float
    batch_size: int
    momentum: float = 0.0
    weight_decay: float = 0.0   # L2, coupled into the gradient as torch.optim.SGD does
    iterations: int | None = None       # total updates when --epochs is not given
    epochs: int | None = None
    milestones: tuple[float, ...] = ()  # fractions of training where the lr is divided by 10
    augment: bool = False       # 4-pixel zero pad + random crop + horizontal flip
    normalize: str = "unit"     # 'channel': per-channel mean/std of the training set; 'unit': /255
    adam_eps: float = 1e-7      # Keras' default, used by both frameworks


PRESETS = {
    # He et al. 2016, section 4.2: SGD 0.1, momentum 0.9, weight decay 1e-4, batch 128,
    # lr /10 at 32k and 48k iterations, stop at 64k; pad 4, random 32x32 crop, flip.
    "paper-cifar": Preset("sgd", 0.1, 128, momentum=0.9, weight_decay=1e-4, iterations=64_000,
                          milestones=(32_000 / 64_000, 48_000 / 64_000), augment=True, normalize="channel"),
    # The articles (000, 002/004): Keras' Adam at its defaults on pixels / 255.
    "adam": Preset("adam", 1e-3, 32, epochs=20),
}


@dataclass
class TrainConfig:
    spec: str
    data: str
    backend: str = "torch"
    preset: str = "paper-cifar"
    epochs: int | None = None
    batch_size: int | None = None
    out: str | None = None
    device: str = "auto"
    amp: bool = False
    seed: int = 0
    resume: bool = False
    download: bool = False
    progress: bool = True
    devices: tuple[str, ...] | None = None   # Keras: MirroredStrategy over these (default: all GPUs if > 1)
    extra: dict = field(default_factory=dict)

    def check(self) -> "TrainConfig":
        if self.backend not in ("torch", "keras"):
            raise TrainError(f"unknown backend '{self.backend}'", did_you_mean(self.backend, ("torch", "keras")))
        if self.preset not in PRESETS:
            raise TrainError(f"unknown preset '{self.preset}'",
                             did_you_mean(self.preset, PRESETS) or f"choose one of: {', '.join(PRESETS)}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise TrainError(f"unknown device '{self.device}'", "choose auto, cpu or cuda")
        if self.devices is not None and self.backend != "keras":
            raise TrainError("--devices chooses the devices of Keras' MirroredStrategy",
                             "PyTorch trains data-parallel under `torchrun --nproc-per-node N`")
        if self.devices is not None and not self.devices:
            raise TrainError("--devices is empty", "name TensorFlow devices, e.g. GPU:0,GPU:1")
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise TrainError(f"--{name.replace('_', '-')} must be a positive whole number, got {value!r}")
        return self

    @property
    def recipe(self) -> Preset:
        return PRESETS[self.preset]

    def batch(self) -> int:
        return self.batch_size or self.recipe.batch_size

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("progress")
        return d


@dataclass(frozen=True)
class Schedule:
    """Iterations, epochs and the step-wise learning rate of one run."""

    steps_per_epoch: int
    epochs: int
    base_lr: float
    milestones: tuple[int, ...]     # update counts at which the lr drops by 10x

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.epochs

    def lr_at(self, step: int) -> float:
        """The learning rate of update number `step` (0-based)."""
        return self.base_lr * 0.1 ** sum(step >= m for m in self.milestones)


def make_schedule(cfg: TrainConfig, n_train: int) -> Schedule:
    r = cfg.recipe
    steps = n_train // cfg.batch()   # the last partial batch is dropped, as timm and the paper do
    if steps < 1:
        raise TrainError(f"the batch size {cfg.batch()} is larger than the {n_train} training images",
                         "give a smaller --batch-size")
    epochs = cfg.epochs or r.epochs or max(1, math.ceil(r.iterations / steps))
    total = steps * epochs
    # milestones as fractions: the paper's 32k/48k of 64k, kept in proportion for shorter runs
    milestones = tuple(sorted({max(1, round(f * total)) for f in r.milestones}))
    return Schedule(steps, epochs, r.lr, milestones)
