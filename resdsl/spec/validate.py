"""Turn plain YAML data into a checked `Spec`, reporting every problem at its source.

pydantic does the type checking; this module translates its errors into our
located diagnostics (with "did you mean" for unknown keys and layers) and adds
the checks that need the whole spec: unknown blocks, duplicate names, cycles.
"""
from __future__ import annotations

import functools
import re
from typing import Any

from pydantic import ValidationError

from ..errors import Diagnostic, SpecError, did_you_mean, expected_one_of
from .layers import LAYER_MODELS, LAYER_PATH, PATH, TENSOR
from .models import BUILTIN_BLOCKS, Spec
from .names import check_names as check_layer_names
from .sourcemap import SourceMap


def _walk(loc: tuple, data: Any) -> tuple[tuple, Any]:
    """Follow a pydantic `loc` through the data, skipping union tags and wrappers."""
    path: list = []
    cur = data
    for part in loc:
        if (isinstance(cur, dict) and part in cur
                or isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur)):
            path.append(part)
            cur = cur[part]
        elif isinstance(cur, dict) and isinstance(part, str) and part not in cur:
            if part in LAYER_MODELS or "[" in part or part in _model_names() \
                    or part.startswith(("function-", "str", "int", "list", "literal")):
                continue  # a union tag (a member's type, e.g. SEAttention) or validator wrapper, not a key
            return tuple(path), (cur, part)
    return tuple(path), None


@functools.cache
def _model_names() -> frozenset[str]:
    """The spec's model classes: pydantic names a union member by its class in `loc`."""
    from .layers import Strict
    names, todo = set(), [Strict]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub.__name__ not in names:
                names.add(sub.__name__)
                todo.append(sub)
    return frozenset(names)


def _keys(model) -> list[str]:
    """The keys a model takes as they are written (`from`, not the field `from_`)."""
    return [f.alias or name for name, f in model.model_fields.items()]


def _fields_at(data: Any, path: tuple) -> list[str]:
    from . import models
    from .layers import LAYER_MODELS as LM
    top = {"input": models.InputSpec, "defaults": models.Defaults}
    if not path:
        return _keys(Spec)
    if path[0] in top and len(path) == 1:
        return _keys(top[path[0]])
    if path[0] == "defaults" and len(path) == 2:
        sub = models.Defaults.model_fields.get(path[1])
        ann = getattr(sub, "annotation", None)
        return _keys(ann) if hasattr(ann, "model_fields") else []
    if path[0] == "stages" and len(path) == 2:
        return _keys(models.Stage)
    if path[0] == "stages" and len(path) == 4 and path[2] == "blocks":
        return _keys(models.StageRun)
    if path[0] == "stages" and len(path) == 3 and path[2] in ("conv", "norm"):
        return _keys(models.ConvOverride if path[2] == "conv" else models.NormOverride)
    if path[0] == "blocks" and len(path) == 2:
        return _keys(models.UserBlock)
    if len(path) >= 2 and isinstance(path[-2], int) and path[-1] in LM:
        return _keys(LM[path[-1]])
    return []


def _describe(err: dict) -> tuple[str, str, str | None]:
    etype, msg = err["type"], err["msg"]
    code = {"missing": "missing-key", "extra_forbidden": "unknown-key",
            "literal_error": "bad-value", "string_pattern_mismatch": "bad-name",
            "unknown-layer": "unknown-layer"}.get(etype, "bad-value")
    if etype.startswith(("greater_than", "less_than")):
        code = "out-of-range"
    if etype.endswith("_type") or etype in ("model_type", "list_type", "dict_type", "model_attributes_type"):
        code = "wrong-type"
    return code, msg, None


def _other_branch(err: dict) -> bool:
    """An int-or-`$ref` field reports both union branches; drop the string branch's
    complaint about a non-string, and the int branch's about a string."""
    branch = err["loc"][-1] if err["loc"] else None
    value = err.get("input")
    if branch == "constrained-str" and not isinstance(value, str):
        return True
    return branch in ("constrained-int", "int") and isinstance(value, str) and value.startswith("$")


def diagnostics_from_validation(exc: ValidationError, data: Any, smap: SourceMap) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    paths: list[tuple] = []
    seen: set = set()
    # A value that fails a union produces one error per member; keep the most
    # specific (deepest) error per location so the message stays readable.
    for err in sorted(exc.errors(), key=lambda e: -len(e["loc"])):
        if _other_branch(err):
            continue
        path, missing = _walk(err["loc"], data)
        code, msg, hint = _describe(err)
        etype = err["type"]
        where = ".".join(str(p) for p in path) or "spec"
        if etype == "missing" or missing is not None and etype == "missing":
            name = missing[1] if missing else err["loc"][-1]
            msg, span = f"missing required key '{name}' in {where}", smap.span(path)
        elif etype == "extra_forbidden":
            key = path[-1]
            known = _fields_at(data, path[:-1])
            msg = f"unknown key '{key}' in {'.'.join(str(p) for p in path[:-1]) or 'spec'}"
            hint = did_you_mean(key, known) or (("known keys: " + ", ".join(known)) if known else None)
            span = smap.span(path, key=True)
        elif etype == "unknown-layer":
            value = err.get("input")
            one_key = isinstance(value, dict) and len(value) == 1
            name = value if isinstance(value, str) else (next(iter(value)) if one_key else None)
            if name is None:
                msg = "a layer is a name (`- norm`) or a one-key mapping (`- conv: {filters: 64}`)"
                hint = None
            else:
                msg = f"unknown layer '{name}'"
                hint = did_you_mean(name, LAYER_MODELS) or expected_one_of(list(LAYER_MODELS))
                if name in LAYER_MODELS:
                    msg = f"layer '{name}' needs parameters"
                    hint = f"write `- {name}: {{...}}`; see `resdsl schema`"
            span = smap.span(path)
        else:
            value = err.get("input")
            shown = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
            if len(shown) > 60:
                shown = shown[:57] + "..."
            pattern = err.get("ctx", {}).get("pattern", "") if etype == "string_pattern_mismatch" else ""
            if pattern == TENSOR:
                msg = ("a tensor to read is `$in` (the input of the block, stem or head) or the name of an "
                       "earlier layer")
            elif pattern in (PATH, LAYER_PATH):
                msg = ("a layer or stage name is an identifier (letters, digits and _, not starting with a digit), "
                       "or a dotted path of identifiers and indices such as `stem.conv` or `conv1.0`"
                       + ("; a custom shortcut's layer may be an index (`0`: `downsample.0`)"
                          if pattern == LAYER_PATH else ""))
            elif pattern.startswith("^[A-Za-z_]"):
                msg = "a name must be an identifier (letters, digits and _, not starting with a digit)"
            elif "$" in pattern:
                msg = ("a value must be an integer, a $parameter or an expression of them (`$filters * 4`)")
            elif etype == "literal_error":
                choices = re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", "")))
                hint = did_you_mean(value, choices) if isinstance(value, str) else None
            msg = f"{where}: {msg[0].lower() + msg[1:]}, got {shown}"
            span = smap.span(path)
        key = (span, code)
        if key in seen or any(d.span == span for d in out if d.code in ("unknown-layer",)):
            continue
        seen.add(key)
        out.append(Diagnostic(code, msg, span, hint))
        paths.append(path)
    out = _drop_missing_explained_by_typos(out, paths)
    out.sort(key=lambda d: (d.span.line, d.span.column))
    return out


def _drop_missing_explained_by_typos(diags: list[Diagnostic], paths: list[tuple]) -> list[Diagnostic]:
    """`nmae: x` gives both "unknown key 'nmae'" (did you mean 'name'?) and "missing
    required key 'name'"; the second says nothing new, so keep only the first."""
    suggested = {(p[:-1], d.hint) for d, p in zip(diags, paths) if d.code == "unknown-key" and d.hint}
    keep = []
    for d, p in zip(diags, paths):
        m = re.match(r"missing required key '([^']+)'", d.message)
        if d.code == "missing-key" and m and (p, f"did you mean '{m.group(1)}'?") in suggested:
            continue
        keep.append(d)
    return keep


# The whole-spec checks read the plain data, not the validated models, so they
# also run when pydantic has found problems elsewhere: a user sees an unknown block
# in one stage and a bad value in another at once. Values of the wrong type are
# skipped here; pydantic reports them.

def _stages(data: dict) -> list[tuple[int, dict]]:
    stages = data.get("stages")
    return [(i, s) for i, s in enumerate(stages) if isinstance(s, dict)] if isinstance(stages, list) else []


def _user_blocks(data: dict) -> dict:
    blocks = data.get("blocks")
    return {k: v for k, v in blocks.items() if isinstance(k, str)} if isinstance(blocks, dict) else {}


def _nested_uses(block) -> list[tuple[str, tuple]]:
    """(referenced block, path inside the block) of each `- block: {type: X}` layer."""
    if not isinstance(block, dict):
        return []
    out = []
    for part in ("main", "after", "shortcut"):
        items = block.get(part)
        for j, item in enumerate(items if isinstance(items, list) else []):
            inner = item.get("block") if isinstance(item, dict) and len(item) == 1 else None
            if isinstance(inner, dict) and isinstance(inner.get("type"), str):
                out.append((inner["type"], (part, j, "block", "type")))
    return out


def _check_blocks(data: dict, smap: SourceMap) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    user = _user_blocks(data)
    known = list(BUILTIN_BLOCKS) + list(user)
    for name in user:
        if name in BUILTIN_BLOCKS:
            diags.append(Diagnostic("duplicate-block", f"block '{name}' is already a built-in block kind",
                                    smap.span(("blocks", name), key=True), "choose another name"))
    for i, stage in _stages(data):
        runs = stage.get("blocks") if isinstance(stage.get("blocks"), list) else []
        refs = [(stage.get("block"), ("stages", i, "block"))] + [
            (run.get("block"), ("stages", i, "blocks", j, "block"))
            for j, run in enumerate(runs) if isinstance(run, dict)]
        for ref, path in refs:
            if isinstance(ref, str) and ref not in known:
                diags.append(Diagnostic("unknown-block", f"unknown block '{ref}'", smap.span(path),
                                        did_you_mean(ref, known) or expected_one_of(known)))
    # Nested user blocks: unknown names and cycles (a block that contains itself).
    uses: dict[str, list[tuple[str, tuple]]] = {}
    for bname, block in user.items():
        for ref, sub in _nested_uses(block):
            path = ("blocks", bname) + sub
            if ref not in user:
                hint = did_you_mean(ref, user) or (
                    "built-in blocks are used by stages, not inside user blocks" if ref in BUILTIN_BLOCKS else None)
                diags.append(Diagnostic("unknown-block", f"unknown user block '{ref}'", smap.span(path), hint))
            else:
                uses.setdefault(bname, []).append((ref, path))
    return diags + _cycles(uses, user, smap)


def _cycles(uses: dict, user: dict, smap: SourceMap) -> list[Diagnostic]:
    """A depth-first walk over the uses with an explicit stack, not recursion:
    a chain of thousands of blocks (b0 uses b1 uses b2 ...) must not exhaust
    Python's stack before the nesting limit of the IR can say what is wrong."""
    diags: list[Diagnostic] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in user:
        if root in state:
            continue
        state[root] = 1
        trail = [root]
        stack = [iter(uses.get(root, []))]
        while stack:
            step = next(stack[-1], None)
            if step is None:
                state[trail.pop()] = 2
                stack.pop()
                continue
            ref, path = step
            if state.get(ref) == 1:
                cycle = _trail(trail[trail.index(ref):] + [ref])
                diags.append(Diagnostic("block-cycle", f"user blocks form a cycle: {cycle}",
                                        smap.span(path), "a block cannot contain itself"))
            elif state.get(ref) is None:
                state[ref] = 1
                trail.append(ref)
                stack.append(iter(uses.get(ref, [])))
    return diags


def _trail(names: list[str]) -> str:
    """`a -> b -> c`, with the middle of a long cycle left out."""
    if len(names) > 8:
        names = names[:3] + [f"... ({len(names) - 7:,} more)"] + names[-4:]
    return " -> ".join(names)


def _check_names(data: dict, smap: SourceMap) -> list[Diagnostic]:
    diags, seen = [], {}
    for i, stage in _stages(data):
        given = stage.get("name")
        if given is not None and not isinstance(given, str):
            continue
        name = given or f"layer{i + 1}"
        if name in seen:
            diags.append(Diagnostic("duplicate-name", f"stage name '{name}' is used twice",
                                    smap.span(("stages", i, "name") if given else ("stages", i)),
                                    f"the first is stage {seen[name]}"))
        seen.setdefault(name, i)
    return diags


def _check_not_empty(data: dict, smap: SourceMap) -> list[Diagnostic]:
    """A spec with no layer at all is a mistake (and has nothing to compile)."""
    if any(isinstance(data.get(k), list) and data[k] for k in ("stem", "stages", "head")):
        return []
    if any(k in data and not isinstance(data[k], list) for k in ("stem", "stages", "head")):
        return []  # a wrong type there is reported by pydantic
    return [Diagnostic("empty-network", "the network has no layers: `stem`, `stages` and `head` are all empty",
                       smap.span(("input",), key=True) if "input" in data else smap.span(()),
                       "add at least one layer, e.g. `head: [global_avgpool, {dense: {units: 10}}]`")]


def _check_version(data: dict, smap: SourceMap) -> list[Diagnostic]:
    v = data.get("resdsl", 1)
    if v == 1 and not isinstance(v, bool):
        return []
    shown = repr(v) if not isinstance(v, (dict, list)) else type(v).__name__
    return [Diagnostic("unsupported-version",
                       f"unsupported format version {shown}; this resdsl reads version 1",
                       smap.span(("resdsl",)), "write `resdsl: 1`")]


def validate_data(data: Any, smap: SourceMap) -> Spec:
    """The checked Spec, or one SpecError holding every independent problem."""
    if not isinstance(data, dict):
        raise SpecError.at(smap.span(()), "wrong-type",
                           f"a spec is a mapping of keys, got {type(data).__name__}",
                           "start with `resdsl: 1`", smap.text)
    diags = _check_version(data, smap)
    spec = None
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        found = diagnostics_from_validation(exc, data, smap)
        # The version check says it better than pydantic's literal error.
        diags += [d for d in found if not (diags and d.span == diags[0].span)]
    taken = {d.span for d in diags}
    checks = _check_blocks(data, smap) + _check_names(data, smap) + check_layer_names(data, smap)
    diags += [d for d in checks + _check_not_empty(data, smap) if d.span not in taken]
    if diags:
        diags.sort(key=lambda d: (d.span.line, d.span.column))
        raise SpecError(diags, smap.sources())
    return spec
