"""The README's example spec and error message are real, and its list of shipped
networks is complete."""
import re
import subprocess
import sys
from pathlib import Path

import resdsl

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")


def fenced():
    """(language, body) of each fenced block, in order."""
    out, lang, body = [], None, []
    for line in README.splitlines(keepends=True):
        if line.startswith("```"):
            if lang is None:
                lang, body = line[3:].strip(), []
            else:
                out.append((lang, "".join(body)))
                lang = None
        elif lang is not None:
            body.append(line)
    return out


def blocks(lang):
    return [b for k, b in fenced() if k == lang]


def test_readme_starts_with_the_two_setup_commands():
    first = blocks("sh")[0]
    assert "bash scripts/demo.sh resnet50" in first and "bash scripts/test.sh" in first
    ci = (Path(__file__).parents[2] / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in ci


def test_readme_spec_is_resnet20_and_its_error_example_is_exact(tmp_path):
    spec = blocks("yaml")[0]
    r = resdsl.resolve(spec)
    assert r.params == resdsl.resolve("cifar_resnet20").params
    bad = tmp_path / "my_resnet20.yaml"
    bad.write_text(spec.replace("filters: 16, repeat: 3", "filters: 16, repaet: 3"))
    proc = subprocess.run([sys.executable, "-m", "resdsl", "validate", bad.name], cwd=tmp_path,
                          capture_output=True, text=True)
    shown = next(b for b in blocks("") if "error:" in b)
    assert proc.stderr == shown


def test_readme_lists_every_shipped_network():
    """By name, or inside a written range of one family (`cifar_resnet20` … `cifar_resnet1202`),
    with the right total."""
    section = README.split("## Shipped networks", 1)[1].split("\n## ", 1)[0]
    names = resdsl.shipped_names()
    assert f"{len(names)} specs" in section
    family = lambda name: re.sub(r"\d+", "#", name)  # noqa: E731
    ranges = {family(a) for a, b in re.findall(r"`(\w+)` …\s+`(\w+)`", section) if family(a) == family(b)}
    missing = [n for n in names if f"`{n}`" not in section and family(n) not in ranges]
    assert not missing, f"README's 'Shipped networks' does not name {missing}"
