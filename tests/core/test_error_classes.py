"""One base for resdsl's (message, hint) errors: each kind keeps its name and
what it was (a ValueError, a ModuleNotFoundError), and no class but the base
stores a hint itself."""
import ast
import importlib
from pathlib import Path

import pytest

from resdsl.errors import HintedError

PKG = Path(__file__).parents[2] / "resdsl"

# module, class, the built-in kind callers also catch it as
KINDS = [
    ("resdsl.errors", "OutputError", Exception), ("resdsl.render.output", "RenderError", Exception),
    ("resdsl.cli", "_Fail", Exception), ("resdsl.training.config", "TrainError", Exception),
    ("resdsl.training.config", "Interrupted", Exception), ("resdsl.export", "ExportError", Exception),
    ("resdsl.datasets.errors", "DataError", Exception), ("resdsl.ir.ops", "ShapeError", ValueError),
    ("resdsl.ir.arith", "ExprError", ValueError), ("resdsl.backends.frameworks", "MissingFramework", ImportError),
    ("resdsl.backends.torch.scope", "NameClash", Exception), ("resdsl.backends.torch.ops", "Unsupported", Exception),
    ("resdsl.spec.yamlload", "_Located", Exception),
]


@pytest.mark.parametrize("module, name, kind", KINDS, ids=[k[1] for k in KINDS])
def test_each_error_derives_from_the_one_base(module, name, kind):
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, HintedError) and issubclass(cls, kind)


def test_errors_keep_message_hint_and_their_own_fields():
    from resdsl.backends.frameworks import MissingFramework
    from resdsl.ir.arith import ExprError
    from resdsl.ir.ops import ShapeError
    e = ShapeError("bad", "do this", code="bad-groups")
    assert (str(e), e.hint, e.code) == ("bad", "do this", "bad-groups")
    assert ShapeError("bad").code == "shape-error" and ShapeError("bad").hint is None
    e = ExprError("no", 3, "close it")
    assert (str(e), e.column, e.hint) == ("no", 3, "close it")
    e = MissingFramework("no torch", "pip install resdsl[torch]", "torch")
    assert (str(e), e.what, e.hint, e.name) == ("no torch: pip install resdsl[torch]", "no torch",
                                                "pip install resdsl[torch]", "torch")
    with pytest.raises(ModuleNotFoundError):
        raise e


def test_no_other_class_stores_a_hint_itself():
    """A new (message, hint) error is a HintedError, not a sixth copy of its __init__."""
    stores = []
    for path in PKG.rglob("*.py"):
        for cls in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(cls, ast.ClassDef):
                continue
            for node in ast.walk(cls):
                targets = node.targets if isinstance(node, ast.Assign) else []
                names = [e for t in targets for e in (t.elts if isinstance(t, ast.Tuple) else [t])]
                if any(isinstance(e, ast.Attribute) and e.attr == "hint" for e in names):
                    stores.append(f"{path.relative_to(PKG)}:{cls.name}")
    assert stores == ["errors.py:HintedError"]
