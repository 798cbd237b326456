"""JSON Schema of the spec language, for editors (yaml-language-server) and docs."""
from __future__ import annotations

import json
from typing import get_args

from .layers import BARE_OK, LAYER_ITEMS, ActName
from .models import Spec


def _short_forms(schema: dict) -> None:
    """The models accept `- norm` and `- act: relu` through a before-validator,
    which pydantic cannot see; say so in the schema so editors accept them too."""
    defs = schema["$defs"]
    for op, item in LAYER_ITEMS.items():
        d = defs.get(item.__name__)
        if d is None:
            continue
        prop = d["properties"][op]
        alts = [prop, {"type": "null"}] if op in BARE_OK else [prop]
        if op == "act":
            alts.append({"enum": list(get_args(ActName))})
        if len(alts) > 1:
            d["properties"][op] = {"anyOf": alts}
    bare = {"enum": list(BARE_OK), "description": "a layer whose parameters all have defaults"}
    for key in ("stem", "head"):
        schema["properties"][key]["items"]["oneOf"].append(bare)
    block = defs["UserBlock"]["properties"]
    for key in ("main", "after"):
        block[key]["items"]["oneOf"].append(bare)
    for alt in block["shortcut"]["oneOf"]:
        if alt.get("type") == "array":
            alt["items"]["oneOf"].append(bare)


def _derived_blocks(schema: dict) -> None:
    """A block that `extends` another needs no `main` of its own."""
    block = schema["$defs"]["UserBlock"]
    block["required"] = [k for k in block.get("required", []) if k != "main"]
    if not block["required"]:
        del block["required"]
    block["anyOf"] = [{"required": ["main"]}, {"required": ["extends"]}]


def json_schema() -> dict:
    schema = Spec.model_json_schema()
    _short_forms(schema)
    _derived_blocks(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "resdsl spec (format version 1)"
    return schema


def json_schema_text(comment: str | None = None) -> str:
    """The schema as JSON text; `comment`, a `$comment` keyword, sorts first, so
    `resdsl schema` output starts with resdsl's header."""
    schema = json_schema()
    if comment is not None:
        schema["$comment"] = comment
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
