"""Turn plain YAML data into a checked `Spec`, reporting every problem at its source.

pydantic does the type checking; this module translates its errors into our
located diagnostics (with "did you mean" for unknown keys and layers) and adds
the checks that need the whole spec: unknown blocks, duplicate names, cycles.
"""
from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ..errors import Diagnostic, SpecError, did_you_mean, expected_one_of
from .layers import LAYER_MODELS, layer_op, layer_params
from .models import BUILTIN_BLOCKS, Spec
from .sourcemap import SourceMap


def _walk(loc: tuple, data: Any) -> tuple[tuple, Any]:
    """Follow a pydantic `loc` through the data, skipping union tags and wrappers."""
    path: list = []
    cur = data
    for part in loc:
        if isinstance(cur, dict) and part in cur:
            path.append(part)
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            path.append(part)
            cur = cur[part]
        elif isinstance(cur, dict) and isinstance(part, str) and part not in cur:
            if part in LAYER_MODELS or "[" in part or part.startswith(("function-", "str", "int", "list", "literal")):
                continue  # a union tag or validator wrapper, not a key
            return tuple(path), (cur, part)
    return tuple(path), None


def _fields_at(data: Any, path: tuple) -> list[str]:
    from . import models
    from .layers import LAYER_MODELS as LM
    top = {"input": models.InputSpec, "defaults": models.Defaults}
    if not path:
        return list(Spec.model_fields)
    if path[0] in top and len(path) == 1:
        return list(top[path[0]].model_fields)
    if path[0] == "defaults" and len(path) == 2:
        sub = models.Defaults.model_fields.get(path[1])
        ann = getattr(sub, "annotation", None)
        return list(getattr(ann, "model_fields", {}))
    if path[0] == "stages" and len(path) == 2:
        return list(models.Stage.model_fields)
    if path[0] == "stages" and len(path) == 3 and path[2] in ("conv", "norm"):
        return list((models.ConvOverride if path[2] == "conv" else models.NormOverride).model_fields)
    if path[0] == "blocks" and len(path) == 2:
        return list(models.UserBlock.model_fields)
    if len(path) >= 2 and isinstance(path[-2], int) and path[-1] in LM:
        return list(LM[path[-1]].model_fields)
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


def diagnostics_from_validation(exc: ValidationError, data: Any, smap: SourceMap) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    seen: set = set()
    # A value that fails a union produces one error per member; keep the most
    # specific (deepest) error per location so the message stays readable.
    for err in sorted(exc.errors(), key=lambda e: -len(e["loc"])):
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
            name = value if isinstance(value, str) else (next(iter(value)) if isinstance(value, dict) and len(value) == 1 else None)
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
            msg = f"{where}: {msg[0].lower() + msg[1:]}, got {shown}"
            span = smap.span(path)
        key = (span, code)
        if key in seen or any(d.span == span for d in out if d.code in ("unknown-layer",)):
            continue
        seen.add(key)
        out.append(Diagnostic(code, msg, span, hint))
    out.sort(key=lambda d: (d.span.line, d.span.column))
    return out


def _check_blocks(spec: Spec, smap: SourceMap) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    known = list(BUILTIN_BLOCKS) + list(spec.blocks)
    for name in spec.blocks:
        if name in BUILTIN_BLOCKS:
            diags.append(Diagnostic("duplicate-block", f"block '{name}' is already a built-in block kind",
                                    smap.span(("blocks", name), key=True), "choose another name"))
    for i, stage in enumerate(spec.stages):
        if stage.block not in known:
            diags.append(Diagnostic("unknown-block", f"unknown block '{stage.block}'",
                                    smap.span(("stages", i, "block")),
                                    did_you_mean(stage.block, known) or expected_one_of(known)))
    # Nested user blocks: unknown names and cycles (a block that contains itself).
    uses: dict[str, list[tuple[str, tuple]]] = {}
    for bname, block in spec.blocks.items():
        for part in ("main", "after") + (("shortcut",) if isinstance(block.shortcut, list) else ()):
            for j, item in enumerate(getattr(block, part)):
                if layer_op(item) == "block":
                    ref = layer_params(item).type
                    path = ("blocks", bname, part, j, "block", "type")
                    if ref not in spec.blocks:
                        hint = did_you_mean(ref, spec.blocks) or (
                            "built-in blocks are used by stages, not inside user blocks"
                            if ref in BUILTIN_BLOCKS else None)
                        diags.append(Diagnostic("unknown-block", f"unknown user block '{ref}'",
                                                smap.span(path), hint))
                    else:
                        uses.setdefault(bname, []).append((ref, path))
    state: dict[str, int] = {}

    def visit(b: str, trail: list[str]) -> None:
        state[b] = 1
        for ref, path in uses.get(b, []):
            if state.get(ref) == 1:
                cycle = " -> ".join(trail[trail.index(ref):] + [ref]) if ref in trail else f"{b} -> {ref}"
                diags.append(Diagnostic("block-cycle", f"user blocks form a cycle: {cycle}",
                                        smap.span(path), "a block cannot contain itself"))
            elif state.get(ref) is None:
                visit(ref, trail + [ref])
        state[b] = 2

    for b in spec.blocks:
        if b not in state:
            visit(b, [b])
    return diags


def _check_names(spec: Spec, smap: SourceMap) -> list[Diagnostic]:
    diags, seen = [], {}
    for i, stage in enumerate(spec.stages):
        name = stage.name or f"layer{i + 1}"
        if name in seen:
            diags.append(Diagnostic("duplicate-name", f"stage name '{name}' is used twice",
                                    smap.span(("stages", i, "name") if stage.name else ("stages", i)),
                                    f"the first is stage {seen[name]}"))
        seen[name] = i
    return diags


def validate_data(data: Any, smap: SourceMap) -> Spec:
    if not isinstance(data, dict):
        raise SpecError.at(smap.span(()), "wrong-type",
                           f"a spec is a mapping of keys, got {type(data).__name__}",
                           "start with `resdsl: 1`", smap.text)
    if "resdsl" in data and data["resdsl"] != 1:
        raise SpecError.at(smap.span(("resdsl",)), "unsupported-version",
                           f"unsupported format version {data['resdsl']!r}; this resdsl reads version 1",
                           None, smap.text)
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(diagnostics_from_validation(exc, data, smap), {smap.file: smap.text}) from None
    diags = _check_blocks(spec, smap) + _check_names(spec, smap)
    if diags:
        raise SpecError(diags, {smap.file: smap.text})
    return spec
