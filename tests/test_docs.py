"""The docs are checked, not trusted: the reference against the JSON Schema (both
directions, and every default), the tutorial by running it, and the gallery by
drawing it again."""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import resdsl
from resdsl.render.compare import svg_content
from resdsl.spec.schema import json_schema

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```", re.DOTALL | re.MULTILINE)


def fences(doc: str) -> list[tuple[str, str, str]]:
    """(language, info after it, body) of every fenced code block."""
    return [(m.group(1), m.group(2).strip(), m.group(3)) for m in FENCE.finditer((DOCS / doc).read_text("utf-8"))]


# ---------------------------------------------------------------- reference

def schema_keys() -> dict[str, tuple[dict, bool]]:
    """Every key path of the language -> (its schema, required?). Layers are
    listed once under their kind (`conv.filters`), wherever they may appear."""
    schema = json_schema()
    defs = schema["$defs"]
    out: dict[str, tuple[dict, bool]] = {}

    def deref(s: dict) -> dict:
        while "$ref" in s:
            s = defs[s["$ref"].rsplit("/", 1)[1]]
        return s

    def walk(s: dict, prefix: str) -> None:
        s = deref(s)
        for alt in s.get("anyOf", []) + s.get("oneOf", []):
            walk(alt, prefix)
        if "items" in s:
            walk(s["items"], prefix + "[]")
        props = s.get("properties", {})
        if s.get("title", "").endswith("Item") and len(props) == 1:  # a layer: {kind: params}
            kind, params = next(iter(props.items()))
            if kind not in out:
                out[kind] = (deref(params), False)
                walk(params, kind)
            return
        for key, sub in props.items():
            path = f"{prefix}.{key}" if prefix else key
            out[path] = (sub, key in s.get("required", []))
            walk(sub, path)
        for sub in s.get("patternProperties", {}).values():
            if deref(sub).get("properties"):
                out[f"{prefix}.<name>"] = (deref(sub), False)
                walk(sub, f"{prefix}.<name>")

    walk(schema, "")
    return out


def documented() -> dict[str, list[str]]:
    """Rows of the reference's key tables (header `| Key | Type | Default | Meaning |`):
    key -> [type, default, meaning]."""
    rows: dict[str, list[str]] = {}
    in_table = False
    for line in (DOCS / "reference.md").read_text("utf-8").splitlines():
        if line.startswith("| Key | Type | Default | Meaning |"):
            in_table = True
        elif not line.startswith("|"):
            in_table = False
        m = re.match(r"^\| `([^`]+)` \|(.*)\|$", line)
        if in_table and m:
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", m.group(2))]
            assert m.group(1) not in rows, f"{m.group(1)} is documented twice"
            rows[m.group(1)] = cells
    return rows


def test_every_schema_key_is_documented():
    missing = sorted(set(schema_keys()) - set(documented()))
    assert not missing, f"docs/reference.md lacks: {missing}"


def test_nothing_documented_is_missing_from_the_schema():
    extra = sorted(set(documented()) - set(schema_keys()))
    assert not extra, f"docs/reference.md documents keys the language does not have: {extra}"


def test_documented_types_defaults_and_meanings():
    rows = documented()
    for key, (schema, required) in schema_keys().items():
        kind, default, meaning = rows[key]
        assert kind and meaning, key
        if required:
            assert default == "required", f"{key} is required, the reference says {default!r}"
        elif schema.get("default") is not None:
            m = re.fullmatch(r"`([^`]*)`", default)
            # scalars and lists must be written out; a mapping may be described instead
            assert m or isinstance(schema["default"], dict), \
                f"{key}: write the default {schema['default']!r} as a `literal`, not {default!r}"
            if m:
                assert yaml.safe_load(m.group(1)) == schema["default"], f"{key}: default {default} is wrong"
        else:
            assert default != "required", f"{key} is optional"


def _as_spec(text: str) -> str:
    """A fragment (`stages:`, `defaults:`, ...) completed into a spec."""
    data = yaml.safe_load(text)
    if "resdsl" in data:
        return text
    spec = {"resdsl": 1, "name": "fragment", "input": {"height": 64, "width": 64, "channels": 3}}
    spec.update(data)
    if not any(spec.get(k) for k in ("stem", "stages", "head")):  # a network needs a layer
        spec["head"] = ["global_avgpool"]
    return yaml.safe_dump(spec)


@pytest.mark.parametrize("index", range(len([f for f in fences("reference.md") if f[0] == "yaml"])))
def test_reference_examples_are_valid(index):
    body = [f for f in fences("reference.md") if f[0] == "yaml"][index][2]
    r = resdsl.resolve(_as_spec(body))  # raises SpecError on any mistake in the example
    assert r.output_shape


# ---------------------------------------------------------------- tutorial

def _console(body: str) -> list[tuple[str, str]]:
    steps: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return [(cmd, "\n".join(out)) for cmd, out in steps]


PYTHON = [body for lang, _, body in fences("tutorial.md") if lang == "python"]


def _check_prints(body: str, stdout: str) -> None:
    """`print(...)  # value` lines promise what they print: check them, in order
    (only in blocks whose prints are all top level, so lines pair up)."""
    lines = body.splitlines()
    if any(line.startswith(" ") and "print(" in line for line in lines):
        return
    for line, got in zip([x for x in lines if x.startswith("print(")], stdout.splitlines()):
        if "  # " in line:
            assert got == line.split("  # ", 1)[1].strip(), line


@pytest.mark.slow
def test_tutorial_runs_as_written(tmp_path):
    """Write the tutorial's files and run its commands and programs in order, in a
    fresh folder, as a reader would. One test, so one worker does it all once."""
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    commands = 0
    for lang, info, body in fences("tutorial.md"):
        if lang == "yaml" and info.startswith("file="):
            (tmp_path / info[5:]).write_text(body, encoding="utf-8")
        elif lang == "console":
            for cmd, expected in _console(body):
                out = subprocess.run(cmd, shell=True, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, timeout=300, check=False)
                assert out.stdout.rstrip() == expected.rstrip(), f"$ {cmd}\n{out.stdout}"
                assert (out.returncode == 0) == (" error: " not in expected), cmd
                commands += 1
        elif lang == "python":
            out = subprocess.run([sys.executable, "-c", body], cwd=tmp_path, env=env, capture_output=True,
                                 text=True, timeout=300, check=False)
            assert out.returncode == 0, f"{body}\n{out.stderr[-3000:]}"
            _check_prints(body, out.stdout)
    assert commands >= 8 and len(PYTHON) >= 3
    for name in ("my_resnet_torch.py", "my_resnet_keras.py", "my_resnet.svg", "my_resnet_layers.png",
                 "my_resnet_stages.svg"):
        assert (tmp_path / name).stat().st_size > 1000, name


def test_tutorial_spec_is_the_one_the_reference_quotes():
    spec = next(body for lang, info, body in fences("tutorial.md") if info == "file=my_resnet.yaml")
    assert resdsl.resolve(spec).name == "my_resnet"
    error = next(body for lang, _, body in fences("reference.md") if body.startswith("broken.yaml"))
    assert error.strip() in (DOCS / "tutorial.md").read_text("utf-8")


# ---------------------------------------------------------------- gallery

def _gallery():
    spec = importlib.util.spec_from_file_location("gallery", ROOT / "scripts" / "gallery.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gallery_page_is_up_to_date():
    names = resdsl.shipped_names()
    page = _gallery().markdown(names)
    assert (DOCS / "gallery.md").read_text("utf-8") == page, "run: python scripts/gallery.py"
    assert {p.stem for p in (DOCS / "gallery").glob("*.svg")} == set(names), "run: python scripts/gallery.py"
    for name in names:
        assert f"](gallery/{name}.svg)" in page


@pytest.mark.parametrize("name", resdsl.shipped_names())
def test_gallery_picture_is_up_to_date(tmp_path, name):
    fresh = _gallery().draw(name, tmp_path)
    committed = DOCS / "gallery" / f"{name}.svg"
    assert svg_content(committed.read_bytes()) == svg_content(fresh.read_bytes()), \
        f"{committed} is out of date: run python scripts/gallery.py"


def test_readme_links_the_docs():
    readme = (ROOT / "README.md").read_text("utf-8")
    for doc in ("docs/reference.md", "docs/tutorial.md", "docs/gallery.md", "docs/internals.md"):
        assert f"]({doc})" in readme, doc


def test_internals_names_files_that_exist():
    """docs/internals.md says which files an op or a backend touches: each is there."""
    text = (ROOT / "docs" / "internals.md").read_text("utf-8")
    paths = set(re.findall(r"`((?:resdsl|tests)/[\w/.]+)`", text))
    assert len(paths) > 15
    missing = sorted(p for p in paths if not (ROOT / p.rstrip("/").replace("<name>", "torch")).exists())
    assert not missing, missing
