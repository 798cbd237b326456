"""resdsl: a declarative language and compiler for residual networks.

`import resdsl` is cheap: the spec models (pydantic), the IR (networkx) and the
backends load when first used, and torch, keras and graphviz only when a
function that needs them is called.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys

from .errors import Span, SpecError
from .version import __version__


def _install_keras_hook() -> None:
    """Saved .keras files of resdsl models load after `import resdsl`: install the
    hook of backends/keras/registry.py, which registers resdsl's Keras layers when
    Keras is imported (and imports no Keras itself).

    The module is run on its own, under its own name, rather than through its
    package: `resdsl/backends/keras/__init__.py` imports the IR, the spec models
    and the emitters, most of what `import resdsl` leaves to first use. Later
    imports of the module find it in sys.modules; if it has moved, the ordinary
    import takes over."""
    name = "resdsl.backends.keras.registry"
    module = sys.modules.get(name)
    path = os.path.join(os.path.dirname(__file__), "backends", "keras", "registry.py")
    if module is None and os.path.isfile(path):
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    if module is None:
        module = importlib.import_module(name)
    module.install()


_install_keras_hook()

__all__ = ["__version__", "SpecError", "Span", "Limits", "LoadedSpec", "Resolved", "load_spec", "resolve",
           "shipped_names", "build", "emit", "render", "port_weights", "summary", "train", "compare"]


# Loaded on first use (PEP 562): name -> the module that defines it. The
# subpackages that `import resdsl` used to load at once stay reachable as
# attributes (`resdsl.spec.DEFAULT_LIMITS`, `resdsl.backends.keras.layer_map`).
_LAZY = {"Resolved": "resdsl.ir", "resolve": "resdsl.ir", "Limits": "resdsl.spec", "LoadedSpec": "resdsl.spec",
         "load_spec": "resdsl.spec", "shipped_names": "resdsl.spec"}
_SUBPACKAGES = {"spec": ("resdsl.spec",), "ir": ("resdsl.ir",),
                "backends": ("resdsl.backends", "resdsl.backends.keras")}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _SUBPACKAGES:
        modules = [importlib.import_module(m) for m in _SUBPACKAGES[name]]
        value = modules[0]
    else:
        raise AttributeError(f"module 'resdsl' has no attribute '{name}'")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | set(_SUBPACKAGES))


_OVERRIDES = ("sets", "num_classes", "in_channels", "input_size", "include_top", "pooling")


def build(spec, backend: str = "torch", **options):
    """Build an in-memory model: a torch.nn.Module or a keras.Model.

    Takes timm's and keras.applications' overrides by keyword (`num_classes=5`,
    `in_channels=1`, `input_size=(160, 160)`, `include_top=False`,
    `pooling="avg"`) and `sets=["head.fc.units=5"]`, as `resolve` does."""
    from .backends import get_backend
    from .backends.frameworks import require
    from .ir import resolve
    overrides = {k: options.pop(k) for k in _OVERRIDES if k in options}
    module = get_backend(backend)
    require(backend)  # a missing framework says which extra to install
    return module.build(resolve(spec, **overrides), **options)


def emit(spec, backend: str = "torch", **options) -> str:
    """Python source of a module defining the network; needs no framework.

    Takes the overrides `build` takes (`num_classes=5`, `in_channels=1`,
    `input_size=...`, `include_top=False`, `pooling="avg"`, `sets=[...]`): the
    module's defaults are then those of the network they make."""
    from .backends import get_backend
    from .ir import resolve
    overrides = {k: options.pop(k) for k in _OVERRIDES if k in options}
    return get_backend(backend).emit(resolve(spec, **overrides), **options)


def render(spec, path=None, level: str = "block", **options):
    """Draw the network with Graphviz (svg, png, pdf or dot)."""
    from .ir import resolve
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
    from .ir import resolve
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
