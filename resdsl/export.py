"""Export a network to the formats deployment tools load: ONNX (from the torch
build, for ONNX Runtime), a TensorFlow SavedModel (from the Keras build, for TF
Serving) and TFLite/LiteRT (converted from that SavedModel).

Sits above the backends (`errors <- spec <- ir <- backends <- export <- cli`).
Weights come from a torch state_dict or a .keras file and are ported into the
build the format needs. Output follows compile's rules: written atomically, and
an existing file (or SavedModel folder) resdsl did not write is left alone
unless `force`.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import warnings
from pathlib import Path

from .errors import HintedError, OutputError
from .io import MARKER, atomic_write
from .ir import Resolved

FORMATS = {"onnx": ".onnx", "savedmodel": "_savedmodel", "tflite": ".tflite"}
OPSET = 17
# A SavedModel is a folder; this file in it says resdsl wrote it (for no-clobber).
FOLDER_MARKER = "resdsl.txt"


class ExportError(HintedError):
    """A missing package or an unusable weights file: not a spec mistake."""


def default_path(r: Resolved, fmt: str) -> str:
    return f"{r.name}{FORMATS[fmt]}"


def _need(module: str, extra: str) -> None:
    try:
        __import__(module)
    except ImportError:
        raise ExportError(f"exporting needs {module}, which is not installed",
                          f"pip install 'resdsl[{extra}]'") from None


def _torch_model(r: Resolved, weights):
    _need("torch", "torch")
    import torch

    from .backends import get_backend
    model = get_backend("torch").build(r)
    if weights is not None:
        w = str(weights)
        if w.endswith(".keras"):
            from .backends.port import port_weights
            port_weights(_load_keras(w), model)
        else:
            try:
                state = torch.load(w, map_location="cpu", weights_only=True)
            except Exception as exc:  # a missing, truncated or foreign file
                raise ExportError(f"cannot read weights '{w}': {exc}") from None
            if isinstance(state, dict) and "state_dict" in state:
                state = state["state_dict"]
            try:
                model.load_state_dict(state)
            except (RuntimeError, TypeError, AttributeError) as exc:
                raise ExportError(f"weights '{w}' do not fit network '{r.name}': {str(exc)[:500]}") from None
    return model.eval()


def _load_keras(path: str):
    _need("keras", "keras")
    from .backends.keras import load
    try:
        return load(path)
    except Exception as exc:
        raise ExportError(f"cannot read weights '{path}': {exc}") from None


def _keras_model(r: Resolved, weights):
    _need("keras", "keras")
    from .backends import get_backend
    from .backends.port import port_weights
    model = get_backend("keras").build(r)
    if weights is not None:
        src = _load_keras(str(weights)) if str(weights).endswith(".keras") else _torch_model(r, weights)
        port_weights(src, model)
    return model


def onnx_bytes(r: Resolved, weights=None) -> bytes:
    """The torch build as ONNX, with a dynamic batch axis (and dynamic height
    and width where the network takes any size); several outputs keep the
    spec's names and order."""
    _need("onnx", "export")
    import onnx
    import torch
    model = _torch_model(r, weights)
    axes = {0: "batch", 2: "height", 3: "width"} if r.allows_any_input_size() else {0: "batch"}
    with tempfile.TemporaryDirectory(prefix="resdsl-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notes
        path = os.path.join(tmp, "model.onnx")
        # One output is "output"; several are named as the spec names them (`layer1`, ...).
        names = ["output"] if len(r.outputs) == 1 else list(r.output_names)
        torch.onnx.export(model, torch.zeros(1, *r.input_shape), path, input_names=["input"], output_names=names,
                          dynamic_axes={"input": axes, **{n: {0: "batch"} for n in names}},
                          opset_version=OPSET, dynamo=False)
        proto = onnx.load(path)
    # producer_name is serialised near the start of the file, where
    # io.written_by_us looks for the marker before overwriting.
    proto.producer_name = MARKER
    proto.doc_string = f"{MARKER} from spec '{r.name}'"
    return proto.SerializeToString()


def _write_folder(build, path: Path, force: bool) -> Path:
    """Build a folder next to `path`, then move it into place: a failure leaves
    neither half a folder nor damage to an earlier export."""
    target = Path(os.path.realpath(path))
    if target.exists() and not target.is_dir():
        raise OutputError(f"cannot write '{path}': it exists and is not a folder", "choose another name with -o")
    if target.exists() and not force and not (target / FOLDER_MARKER).is_file():
        raise OutputError(f"refusing to overwrite '{path}': resdsl did not write it",
                          "use --force to overwrite it, or choose another name with -o")
    if not target.parent.is_dir():
        raise OutputError(f"cannot write '{path}': folder '{target.parent}' does not exist")
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    old = None
    try:
        build(tmp / "out")
        (tmp / "out" / FOLDER_MARKER).write_text(f"{MARKER}\n", encoding="utf-8")
        if target.exists():
            old = tmp / "old"
            os.replace(target, old)
        os.replace(tmp / "out", target)
    except OSError as exc:
        if old is not None and not target.exists():
            os.replace(old, target)
        raise OutputError(f"cannot write '{path}': {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)
    return Path(path)


def _quiet_export(model, folder: Path) -> None:
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):  # model.export prints its signature
        model.export(str(folder), format="tf_saved_model")


def export(r: Resolved, fmt: str, path=None, weights=None, force: bool = False) -> Path:
    """Write the network in `fmt` (onnx, savedmodel, tflite) to `path`."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format '{fmt}'", "choose one of: " + ", ".join(FORMATS))
    path = path or default_path(r, fmt)
    if fmt == "onnx":
        return atomic_write(path, onnx_bytes(r, weights), force=force)
    if str(path) == "-":
        raise OutputError(f"a {fmt} export cannot be written to stdout", "give a name with -o")
    # both formats go through TensorFlow, which `resdsl[keras]` (Keras on torch or jax) does not install
    _need("tensorflow", "keras-tf")
    model = _keras_model(r, weights)
    if fmt == "savedmodel":
        return _write_folder(lambda folder: _quiet_export(model, folder), Path(path), force)
    import tensorflow as tf
    with tempfile.TemporaryDirectory(prefix="resdsl-") as tmp:
        _quiet_export(model, Path(tmp) / "sm")
        data = tf.lite.TFLiteConverter.from_saved_model(str(Path(tmp) / "sm")).convert()
    # A .tflite flatbuffer has no room for our marker: an existing file is only
    # replaced with force.
    return atomic_write(path, data, force=force, marker=None)
