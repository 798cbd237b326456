"""JSON Schema of the spec language, for editors (yaml-language-server) and docs."""
from __future__ import annotations

import json

from .models import Spec


def json_schema() -> dict:
    schema = Spec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "resdsl spec (format version 1)"
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
