"""resdsl: a declarative language and compiler for residual networks.

`import resdsl` is cheap: torch, keras and graphviz load only when a function
that needs them is called.
"""
from __future__ import annotations

from .backends.keras_registry import install as _register_keras_layers
from .errors import Span, SpecError
from .ir import Resolved, resolve
from .spec import Limits, LoadedSpec, load_spec, shipped_names

# Saved .keras files of resdsl models load after `import resdsl` (this imports no Keras).
_register_keras_layers()

__version__ = "0.1.0"
__all__ = ["SpecError", "Span", "Limits", "LoadedSpec", "Resolved", "load_spec", "resolve",
           "shipped_names", "build", "emit", "render", "port_weights", "summary"]


def build(spec, backend: str = "torch", **options):
    """Build an in-memory model: a torch.nn.Module or a keras.Model."""
    from .backends import get_backend
    from .backends.frameworks import require
    module = get_backend(backend)
    require(backend)  # a missing framework says which extra to install
    return module.build(resolve(spec), **options)


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
