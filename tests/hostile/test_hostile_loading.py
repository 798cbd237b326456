"""Loading is safe and bounded: no tag constructs an object, and every size a
hostile document could inflate (bytes, nesting, aliases, expanded values, repeat
counts, graph size, block nesting) stops with a located error and a raisable limit."""
from __future__ import annotations

import resource
import subprocess
import sys
import time
import tracemalloc

import pytest

import resdsl
from resdsl import Limits, SpecError
from resdsl.spec.load import loads

HEADER = "resdsl: 1\nname: t\ninput: {height: 16, width: 16, channels: 3}\n"
BODY = ("stem: [{conv: {filters: 4}}]\nstages: [{block: basic, filters: 4, repeat: 2}]\n"
        "head: [global_avgpool, {dense: {units: 2}}]\n")


def error_of(text: str, limits: Limits = resdsl.spec.DEFAULT_LIMITS) -> SpecError:
    with pytest.raises(SpecError) as info:
        resdsl.resolve(loads(text, "<t>", limits))
    for d in info.value.diagnostics:
        assert d.span.line >= 1 and d.span.column >= 1, d
    return info.value


# ---- tags ---------------------------------------------------------------------

UNSAFE = [
    "!!python/object/apply:os.system ['touch /tmp/resdsl-pwned']",
    "!!python/object/new:os.system ['touch /tmp/resdsl-pwned']",
    "!!python/name:os.system",
    "!!python/module:os",
    "!!python/object:collections.OrderedDict {}",
    "!!python/tuple [1, 2]",
    "!<tag:yaml.org,2002:python/object/apply:os.system> ['true']",
    "!!binary aGVsbG8=",
    "!!timestamp 2001-12-14",
    "!!set {a, b}",
    "!!omap [a: 1]",
    "!custom 3",
]


@pytest.mark.parametrize("value", UNSAFE)
def test_tags_are_located_errors_and_never_run(value, tmp_path):
    text = HEADER.replace("name: t", f"name: {value}") + BODY
    err = error_of(text)
    assert err.code == "unsafe-tag"
    assert (err.first.span.line, err.first.span.column) == (2, 7)
    assert "specs never run Python" in err.first.hint


def test_tag_in_a_key_or_nested_list_is_refused():
    assert error_of(HEADER + "stages: [{block: basic, filters: [!!python/name:os.system x]}]\n").code == "unsafe-tag"
    assert error_of(HEADER + "? !!python/name:os.system x\n: 1\n").code == "bad-key"


def test_implicit_dates_and_equals_signs_are_text():
    spec = resdsl.load_spec(HEADER.replace("name: t", "name: t\ndescription: 2024-01-31") + BODY)
    assert spec.model.description == "2024-01-31"


def test_merge_keys_and_recursive_aliases_are_refused():
    err = error_of(HEADER + "x: &a {b: 1}\ny:\n  <<: *a\n")
    assert err.code == "bad-key" and err.first.span.line == 6
    err = error_of(HEADER + "x: &a [1, *a]\n")
    assert err.code == "recursive-alias" and (err.first.span.line, err.first.span.column) == (4, 11)


def test_control_characters_are_located_at_the_character():
    err = error_of(HEADER.replace("name: t", "name: t\x00") + BODY)
    assert err.code == "bad-character"
    assert (err.first.span.line, err.first.span.column) == (2, 8)
    # libyaml reports byte offsets; a multi-byte character before must not shift it
    err = error_of(HEADER.replace("name: t", "description: 'éé\x07'\nname: t") + BODY)
    assert (err.first.span.line, err.first.span.column) == (2, 17)


def test_syntax_error_wording_does_not_depend_on_libyaml():
    err = error_of("resdsl: 1\nname: tiny\n  input: {height: 32}\n")
    assert err.first.message == "YAML syntax error: mapping values are not allowed here"


# ---- bounds -------------------------------------------------------------------

def billion_laughs(levels: int = 9) -> str:
    lines = ["resdsl: 1", "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_rejected_fast_with_little_memory():
    text = billion_laughs()  # 9 ** 9 = 387 million strings if expanded
    tracemalloc.start()
    t0 = time.perf_counter()
    err = error_of(text)
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert err.code == "too-large" and "expands to more than" in err.first.message
    assert err.first.span.line <= 9  # found while composing, at the alias that overflows
    assert elapsed < 2.0, elapsed
    assert peak < 20 * 2 ** 20, peak


def test_billion_laughs_in_a_fresh_process_keeps_rss_small(tmp_path):
    path = tmp_path / "lol.yaml"
    path.write_text(billion_laughs())
    code = ("import resource, resdsl, sys\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "try:\n    resdsl.load_spec(sys.argv[1])\nexcept resdsl.SpecError as e:\n    print(e.code)\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60,
                         check=False)
    code_line, grown_kib = out.stdout.split()
    assert code_line == "too-large"
    assert int(grown_kib) < 50 * 1024  # KiB on Linux


def test_alias_count_is_bounded_and_raisable():
    many = HEADER + "x: &a 1\ny: [" + ", ".join(["*a"] * 150) + "]\n"
    assert error_of(many).code == "too-many-aliases"
    err = error_of(many, Limits(max_aliases=200))
    assert "unknown-key" in {d.code for d in err.diagnostics}  # past the alias limit: ordinary validation


def test_expanded_size_counts_aliases():
    text = HEADER + "x: &a [" + ", ".join(["1"] * 99) + "]\ny: [" + ", ".join(["*a"] * 20) + "]\n"
    assert error_of(text, Limits(max_nodes=1500)).code == "too-large"
    assert "unknown-key" in {d.code for d in error_of(text, Limits(max_nodes=5000)).diagnostics}


def test_nesting_depth_is_bounded_at_the_deep_value():
    deep = HEADER + "x: " + "[" * 100 + "]" * 100 + "\n"
    err = error_of(deep)
    assert err.code == "too-deep"
    assert (err.first.span.line, err.first.span.column) == (4, 67)
    assert "unknown-key" in {d.code for d in error_of(deep, Limits(max_depth=200)).diagnostics}


def test_very_deep_nesting_does_not_reach_python_recursion():
    err = error_of("x: " + "[" * 50_000 + "]" * 50_000)  # libyaml alone stops at 1000 levels
    assert err.code == "too-deep"


def test_document_size_is_bounded_for_text_and_files(tmp_path):
    big = HEADER + "description: '" + "x" * 2_000 + "'\n" + BODY
    assert error_of(big, Limits(max_bytes=1000)).code == "too-large"
    path = tmp_path / "big.yaml"
    path.write_text(big)
    with pytest.raises(SpecError) as info:
        resdsl.load_spec(path, Limits(max_bytes=1000))
    assert info.value.code == "too-large" and "raise it with --limit max_bytes" in info.value.first.hint


def test_a_flat_flood_of_values_stops_at_the_node_limit_quickly():
    t0 = time.perf_counter()
    err = error_of(HEADER + "x: [" + "1," * 120_000 + "]\n")
    assert err.code == "too-large"
    assert time.perf_counter() - t0 < 5


def test_repeat_and_graph_size_are_bounded_and_raisable():
    text = HEADER + BODY.replace("repeat: 2", "repeat: 50")
    err = error_of(text, Limits(max_repeat=20))
    assert err.code == "too-large" and (err.first.span.line, err.first.span.column) == (5, 45)
    assert error_of(text, Limits(max_graph_nodes=100)).code == "too-large"
    r = resdsl.resolve(loads(text, "<t>", Limits(max_repeat=50)))
    assert len(r.blocks) == 50


def test_user_block_nesting_is_bounded():
    blocks = "blocks:\n" + "".join(
        f"  b{i}:\n    main: [{{block: {{type: b{i + 1}, filters: $filters}}}}]\n    shortcut: none\n"
        for i in range(20)) + "  b20:\n    main: [{conv: {filters: $filters, padding: same}}]\n    shortcut: none\n"
    text = HEADER + blocks + "stem: [{conv: {filters: 4}}]\nstages: [{block: b0, filters: 4}]\n" \
                            "head: [global_avgpool, {dense: {units: 2}}]\n"
    assert error_of(text).code == "too-deep"
    assert resdsl.resolve(loads(text, "<t>", Limits(max_block_nesting=30))).params > 0


def test_limits_are_raisable_from_the_cli(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text(HEADER + BODY.replace("repeat: 2", "repeat: 30"))
    from resdsl.cli import main
    assert main(["validate", "--limit", "max_repeat=10", str(path)]) == 1
    assert main(["--limit", "max_repeat=40", "validate", str(path)]) == 0
    assert main(["validate", "--limit", "max_repeat=40", str(path)]) == 0
    assert main(["validate", "--limit", "no_such_limit=4", str(path)]) == 1


def test_unknown_limit_names_are_refused_by_the_api():
    with pytest.raises(ValueError, match="unknown limit"):
        Limits().with_overrides({"max_bogus": 1})
    assert resource.getrlimit(resource.RLIMIT_STACK)  # the tests above never needed a bigger stack
