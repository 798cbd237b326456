"""The Keras trainer: `model.fit` with callbacks, as the articles' readers
expect, on the compiled resdsl model and the same numpy batches, loss and
step-wise schedule as the torch loop, on whichever engine Keras runs
(TensorFlow, or torch/jax through KERAS_BACKEND: no TensorFlow needed there).
Mixed precision on a GPU when asked (bf16 where the GPU has it, as the torch
loop). On TensorFlow, `tf.distribute.MirroredStrategy` when several GPUs are
visible, or over the devices named by `--devices` (tested over two logical CPU
devices); on the other engines one device.

Weight decay is the torch kind — L2 added to the gradient, on every trainable
variable — set as a regularizer on each variable. Keras reports the loss with
that term; the metrics files carry the plain cross-entropy (`xent`), as torch's.

A checkpoint is a .keras file (weights, optimizer state and its update count,
which fixes the learning rate's place in the schedule) with the loop's own state
added to the zip: the step count and the running sums of the epoch's metrics.
It is written at each epoch end and when Ctrl-C stops a run between two steps;
the step count is the position in the run, and the data order and augmentation
are pure functions of (seed, epoch, index), so `--resume` continues bit for bit."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
import zipfile

import numpy as np

from .config import Interrupted, TrainError
from .job import Job
from .pipeline import Augment, epoch_order
from .progress import EpochBar


def _setup(job: Job):
    """(strategy, keras, device scope): the devices and precision of the run,
    on whichever engine Keras runs (TensorFlow, or torch/jax via KERAS_BACKEND)."""
    import keras
    engine = keras.backend.backend()
    if engine == "tensorflow":
        import tensorflow as tf
        gpus = _visible_gpus(engine)
        if job.cfg.device == "cuda" and not gpus:
            raise TrainError("--device cuda, but TensorFlow sees no GPU", "use --device auto or cpu")
        if job.cfg.device == "cpu" and gpus:
            try:
                tf.config.set_visible_devices([], "GPU")
            except RuntimeError:  # TensorFlow already initialised its devices in this process
                job.notes.append("TensorFlow had already claimed the GPU; --device cpu not applied")
            gpus = []
        strategy, scope = _strategy(job, tf, gpus), contextlib.nullcontext()
    else:
        gpus, strategy, scope = _other_engine(job, keras, engine)
    if job.cfg.amp:
        if gpus:
            keras.mixed_precision.set_global_policy(amp_policy(keras, gpus))
        else:
            job.notes.append("--amp needs a GPU; trained in float32")
    return strategy, keras, scope


def _other_engine(job: Job, keras, engine: str):
    """Keras on torch or jax: one device (no MirroredStrategy there)."""
    if job.cfg.devices is not None:
        raise TrainError(f"--devices needs Keras on TensorFlow (this Keras runs on {engine})",
                         "unset KERAS_BACKEND, or train with --backend torch under torchrun")
    gpus = _visible_gpus(engine)
    if job.cfg.device == "cuda" and not gpus:
        raise TrainError(f"--device cuda, but Keras' {engine} backend sees no GPU", "use --device auto or cpu")
    scope = contextlib.nullcontext()
    if job.cfg.device == "cpu" and gpus:
        scope, gpus = keras.device("cpu"), []
    elif len(gpus) > 1:
        job.notes.append(f"Keras on {engine} trains on one GPU; use Keras on TensorFlow for MirroredStrategy")
    return gpus, _OneDevice(), scope


class _OneDevice:
    """Stands in for tf.distribute's default strategy where there is no TensorFlow."""
    num_replicas_in_sync = 1

    def scope(self):
        return contextlib.nullcontext()


def _visible_gpus(engine: str) -> list:
    if engine == "tensorflow":
        import tensorflow as tf
        return tf.config.list_physical_devices("GPU")
    if engine == "torch":
        import torch
        return list(range(torch.cuda.device_count()))
    import jax
    return [d for d in jax.devices() if d.platform == "gpu"]


def amp_policy(keras, gpus=None) -> str | None:
    """The mixed-precision policy --amp uses: the precision the torch loop picks on
    the same GPU (bf16 where it has it: no loss scaling), else fp16; None without a GPU."""
    engine = keras.backend.backend()
    gpus = _visible_gpus(engine) if gpus is None else gpus
    if not gpus:
        return None
    return "mixed_bfloat16" if _bf16(engine, gpus) else "mixed_float16"


def _bf16(engine: str, gpus) -> bool:
    if engine == "torch":
        import torch
        return torch.cuda.is_bf16_supported()
    if engine == "tensorflow":
        import tensorflow as tf
        cc = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability") or (0, 0)
        return tuple(cc) >= (8, 0)
    return True  # jax: not probed; XLA lowers bf16 on the GPUs it runs on


def _short(name: str) -> str:
    return name.split("device:")[-1]


def _strategy(job: Job, tf, gpus):
    """MirroredStrategy over `--devices` when given, else over every GPU when
    more than one is visible; otherwise the default (one device) strategy."""
    devices = getattr(job.cfg, "devices", None)
    if devices is None and len(gpus) < 2:
        return tf.distribute.get_strategy()
    names = [d.name for d in tf.config.list_logical_devices()]
    if devices is None:
        chosen = [d.name for d in tf.config.list_logical_devices("GPU")]
    else:
        chosen = [_device_named(want, names, tf) for want in devices]
    if job.cfg.batch() % len(chosen):
        raise TrainError(f"--batch-size {job.cfg.batch()} does not split over {len(chosen)} devices",
                         "the batch size is the global one; make it a multiple of the device count")
    job.notes.append(f"MirroredStrategy over {len(chosen)} devices: {', '.join(map(_short, chosen))}")
    return tf.distribute.MirroredStrategy(chosen)


def _device_named(want: str, names: list[str], tf) -> str:
    try:
        spec = tf.DeviceSpec.from_string(want if want.startswith("/") else f"/device:{want}")
    except ValueError:
        spec = None
    for n in names:
        d = tf.DeviceSpec.from_string(n)
        if spec is not None and d.device_type == (spec.device_type or "").upper() \
                and d.device_index == spec.device_index:
            return n
    raise TrainError(f"--devices: TensorFlow has no device '{want}'",
                     f"visible: {', '.join(map(_short, names))}")


def _optimizer(job: Job, keras):
    # A plain rate, set before every step from the loop's step count (`_step_schedule`): a schedule
    # object would count the optimizer's updates, which lag the steps when mixed_float16 skips some.
    r, lr = job.cfg.recipe, job.cfg.recipe.lr
    if r.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=r.momentum)
    return keras.optimizers.Adam(learning_rate=lr, epsilon=r.adam_eps)


def _regularize(job: Job, keras, model) -> None:
    wd = job.cfg.recipe.weight_decay
    if wd:
        reg = keras.regularizers.L2(wd / 2)  # d/dw (wd/2 * w^2) = wd * w, torch's weight_decay
        for v in model.trainable_variables:
            v.regularizer = reg


def _model(job: Job, keras):
    from ..backends import keras as kb
    if job.cfg.resume:
        try:
            model = kb.load(str(job.checkpoint))
        except Exception as exc:  # a damaged or foreign file
            raise TrainError(f"{job.checkpoint}: cannot resume from it ({type(exc).__name__}: {exc})",
                             "start a new run with another --out") from None
    else:
        model = kb.build(job.resolved)
        logits = not job.softmax_output
        model.compile(optimizer=_optimizer(job, keras),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=logits),
                      metrics=[keras.metrics.SparseCategoricalAccuracy(name="acc"),
                               keras.metrics.SparseCategoricalCrossentropy(name="xent", from_logits=logits)])
    _regularize(job, keras, model)
    return model


def _dataset(keras):
    class EpochData(keras.utils.PyDataset):
        """One epoch's batches, each a pure function of its index (resume-safe)."""

        def __init__(self, x, y, idx, batch, aug, mean, std, **kw):
            super().__init__(**kw)
            self.x, self.y, self.idx, self.b, self.aug = x, y, idx, batch, aug
            self.mean = np.asarray(mean, np.float32)
            self.std = np.asarray(std, np.float32)

        def __len__(self):
            return -(-len(self.idx) // self.b) if self.aug == "eval" else len(self.idx) // self.b

        def __getitem__(self, k):
            sel = self.idx[k * self.b:(k + 1) * self.b]
            images = self.x[sel]
            if isinstance(self.aug, Augment):
                images = self.aug(images, sel)
            return (images.astype(np.float32) - self.mean) / self.std, self.y[sel]

    return EpochData


def run_keras(job: Job) -> list[dict]:
    import keras
    policy = keras.mixed_precision.global_policy()
    try:
        strategy, keras, scope = _setup(job)
        with scope:
            return _fit(job, keras, strategy)
    finally:  # the policy is process-wide: later builds in this process are float32 again
        keras.mixed_precision.set_global_policy(policy)


def _fit(job: Job, keras, strategy) -> list[dict]:
    keras.utils.set_random_seed(job.cfg.seed)
    with strategy.scope():
        model = _model(job, keras)
    state = _load_state(job) if job.cfg.resume else {"metrics": None, "elapsed": 0.0, "step": 0}
    EpochData = _dataset(keras)
    # PyDataset's worker threads feed batches out of order under a MirroredStrategy and on Keras' torch
    # backend (seen with Keras 3.15: weights differed from a one-device run, and a resumed run trained
    # epoch 2's batch 5 first); one worker keeps the order, tf.data still prefetches on TensorFlow
    in_order = strategy.num_replicas_in_sync > 1 or keras.backend.backend() != "tensorflow"
    workers = 1 if in_order else 2
    s, data, b = job.schedule, job.data, job.cfg.batch()
    # The position in the run is the loop's own step count: the optimizer's update count lags it under
    # mixed_float16, whose loss scaling skips the updates of steps with overflowing gradients.
    step = state.get("step", int(model.optimizer.iterations.numpy()))  # checkpoints from before "step"
    done, start = divmod(step, s.steps_per_epoch)
    rows = [r for r in job.history if r["epoch"] <= done]
    val = EpochData(data.val_x, data.val_y, np.arange(len(data.val_x)), b * 2, "eval", job.mean, job.std)
    for epoch in range(done, s.epochs):
        first = start if epoch == done else 0
        aug = Augment(len(data.train_x), job.cfg.seed, epoch) if job.cfg.recipe.augment else None
        order = epoch_order(len(data.train_x), job.cfg.seed, epoch)[first * b:]
        train = EpochData(data.train_x, data.train_y, order, b, aug, job.mean, job.std, workers=workers)
        cb = _Progress(keras, job, epoch, first, state["metrics"] if first else None,
                       state["elapsed"] if first else 0.0)
        try:
            h = model.fit(train, epochs=epoch + 1, initial_epoch=epoch, validation_data=val, verbose=0,
                          callbacks=[cb], shuffle=False)
        except _Stop:
            cb.bar.close("interrupted")
            k = cb.steps_done
            _save(job, model, job.checkpoint.name, {"metrics": cb.snapshot, "elapsed": cb.elapsed,
                                                    "step": epoch * s.steps_per_epoch + k})
            raise Interrupted(f"interrupted; {job.checkpoint} holds the run at epoch {epoch + 1}, step {k}",
                              "continue with the same command and --resume") from None
        except KeyboardInterrupt:  # a second Ctrl-C, outside a step boundary we control
            raise Interrupted(f"interrupted; {job.checkpoint} holds the run at the end of epoch {epoch}",
                              "continue with the same command and --resume") from None
        hist = {k: float(v[-1]) for k, v in h.history.items()}
        step = (epoch + 1) * s.steps_per_epoch
        row = {"epoch": epoch + 1, "step": step, "lr": s.lr_at(step - 1), "train_loss": hist["xent"],
               "train_acc": hist["acc"], "val_loss": hist["val_xent"], "val_acc": hist["val_acc"],
               "epoch_time_s": cb.elapsed, "images_per_s": s.steps_per_epoch * b / max(cb.elapsed, 1e-9)}
        cb.bar.close(f"val_loss {row['val_loss']:.4f} val_acc {row['val_acc']:.4f}")
        rows.append(row)
        _save(job, model, job.checkpoint.name, {"metrics": None, "elapsed": 0.0, "step": step})
        job.run.write_history(rows)
        if job.stop.set:
            raise Interrupted(f"interrupted; {job.checkpoint} holds the run at the end of epoch {epoch + 1}",
                              "continue with the same command and --resume")
    _save(job, model, "model.keras")
    return rows


STATE = "resdsl_state.json"  # inside the .keras zip, beside Keras' own members: one file, replaced atomically


class _Stop(Exception):
    """Raised by the progress callback at a step boundary to leave `fit` (no validation pass)."""


def _save(job: Job, model, name: str, state: dict | None = None) -> None:
    """model.save wants a .keras name: save beside the target, add the loop's
    state to the zip, then rename (atomic)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".keras", dir=job.run.path)
    os.close(fd)
    try:
        model.save(tmp)
        if state is not None:
            with zipfile.ZipFile(tmp, "a") as zf:
                zf.writestr(STATE, json.dumps(state))
        os.replace(tmp, job.run.file(name))
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _load_state(job: Job) -> dict:
    try:
        with zipfile.ZipFile(job.checkpoint) as zf:
            return json.loads(zf.read(STATE)) if STATE in zf.namelist() else {"metrics": None, "elapsed": 0.0}
    except (OSError, zipfile.BadZipFile, ValueError) as exc:  # _model already loaded it: rarely reached
        raise TrainError(f"{job.checkpoint}: cannot resume from it ({type(exc).__name__}: {exc})",
                         "start a new run with another --out") from None


def _Progress(keras, job: Job, epoch: int, first: int, metrics: list | None, elapsed: float):
    """The bar, the step hook and the stop check. A resumed epoch starts at batch
    `first`; after its first step the saved running sums of the epoch's metrics
    are added back (0 + x == x, so the sums equal an uninterrupted run's)."""

    class Progress(keras.callbacks.Callback):
        snapshot = None

        def on_epoch_begin(self, ep, logs=None):
            self.bar = EpochBar(epoch, job.schedule.epochs, job.schedule.steps_per_epoch, job.cfg.progress, first,
                               job.resolved.name)
            self.t0, self.elapsed = time.perf_counter(), elapsed

        def on_train_batch_begin(self, batch, logs=None):
            _step_schedule(self.model.optimizer, job.schedule, epoch * job.schedule.steps_per_epoch + first + batch)

        def on_train_batch_end(self, batch, logs=None):
            if batch == 0 and metrics is not None:
                _add_metrics(self.model, metrics)
            logs = logs or {}
            self.bar.update(job.cfg.batch(), float(logs.get("xent", np.nan)), float(logs.get("acc", np.nan)))
            self.elapsed = elapsed + time.perf_counter() - self.t0
            self.steps_done = first + batch + 1
            try:
                if job.on_step is not None:
                    job.on_step(epoch * job.schedule.steps_per_epoch + first + batch + 1)
            except KeyboardInterrupt:  # raised between steps: stop cleanly, as the first Ctrl-C does
                job.stop.set = True
            if job.stop.set and first + batch + 1 < job.schedule.steps_per_epoch:  # the last: after validation
                self.snapshot = [np.asarray(v.numpy()).tolist() for v in self.model.metrics_variables]
                raise _Stop

    return Progress()


def _step_schedule(optimizer, schedule, step: int) -> None:
    """The learning rate of update `step`, as the torch loop sets it. Keras' SGD keeps a velocity
    with the rate inside (u = m*u - lr*g, w += u), torch's without (b = m*b + g, w -= lr*b): the same
    until the rate drops, after which Keras would keep coasting on the old rate's steps. Scaling the
    velocity by new/old at the drop gives torch's update exactly (that of the paper's own Torch
    code), so both frameworks follow one schedule."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)  # under mixed precision's LossScaleOptimizer
    try:
        inner.learning_rate = schedule.lr_at(step)
    except TypeError:  # a checkpoint from when the rate was a schedule object, which counts for itself
        return
    if step >= 1 and schedule.lr_at(step) != schedule.lr_at(step - 1):
        ratio = schedule.lr_at(step) / schedule.lr_at(step - 1)
        for v in getattr(inner, "momentums", None) or []:
            v.assign(v * ratio)


def _add_metrics(model, saved: list) -> None:
    variables = model.metrics_variables
    if len(variables) != len(saved):
        raise TrainError("the checkpoint's metric state does not match the model's metrics",
                         "start a new run with another --out")
    for v, x in zip(variables, saved):
        cur = np.asarray(v.numpy())
        v.assign(np.asarray(x, cur.dtype) + cur)
