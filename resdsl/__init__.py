"""resdsl: a declarative language and compiler for residual networks.

`import resdsl` is cheap: torch, keras and graphviz load only when a function
that needs them is called.
"""
from __future__ import annotations

from .backends.keras.registry import install as _register_keras_layers
from .errors import Span, SpecError
from .ir import Resolved, resolve
from .spec import Limits, LoadedSpec, load_spec, shipped_names
from .version import __version__

# Saved .keras files of resdsl models load after `import resdsl` (this imports no Keras).
_register_keras_layers()

__all__ = ["__version__", "SpecError", "Span", "Limits", "LoadedSpec", "Resolved", "load_spec", "resolve",
           "shipped_names", "build", "emit", "render", "port_weights", "summary", "train", "compare"]


_OVERRIDES = ("sets", "num_classes", "in_channels", "input_size", "include_top", "pooling")


def build(spec, backend: str = "torch", **options):
    """Build an in-memory model: a torch.nn.Module or a keras.Model.

    Takes timm's and keras.applications' overrides by keyword (`num_classes=5`,
    `in_channels=1`, `input_size=(160, 160)`, `include_top=False`,
    `pooling="avg"`) and `sets=["head.fc.units=5"]`, as `resolve` does."""
    from .backends import get_backend
    from .backends.frameworks import require
    overrides = {k: options.pop(k) for k in _OVERRIDES if k in options}
    module = get_backend(backend)
    require(backend)  # a missing framework says which extra to install
    return module.build(resolve(spec, **overrides), **options)


def emit(spec, backend: str = "torch", **options) -> str:
    """Python source of a module defining the network; needs no framework."""
    from .backends import get_backend
    return get_backend(backend).emit(resolve(spec), **options)


def render(spec, path=None, level: str = "block", **options):
    """Draw the network with Graphviz (svg, png, pdf or dot)."""
    from .render import render as _render
    return _render(resolve(spec), path, level=level, **options)


def port_weights(src, dst):
    """Copy weights between models built from the same network (torch <-> keras,
    keras.applications -> resdsl)."""
    from .backends.port import port_weights as _port
    return _port(src, dst)


def summary(spec, level: str = "layer") -> str:
    """A text table like Keras' model.summary(), computed from the IR alone."""
    from .analysis import summary_table
    return summary_table(resolve(spec), level)


def train(spec, data, backend: str = "torch", **options):
    """Train a spec on a data set (CIFAR-10 archive, SIGNS pair, image folder) in
    PyTorch or Keras; returns the history. See resdsl.training.train."""
    from .training import train as _train
    return _train(spec, data, backend, **options)


def compare(specs, data, backend: str = "torch", **options):
    """Train several specs alike; a results table and loss/error curves."""
    from .training.compare import compare as _compare
    return _compare(specs, data, backend, **options)
