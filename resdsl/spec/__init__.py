"""The spec layer: YAML text -> validated pydantic models + source map.
Never imports the IR."""
from .limits import DEFAULT_LIMITS, Limits
from .load import LoadedSpec, load_spec, loads
from .models import Spec
from .shipped import shipped_names, shipped_path

__all__ = ["DEFAULT_LIMITS", "Limits", "LoadedSpec", "load_spec", "loads", "Spec",
           "shipped_names", "shipped_path"]
