"""Resource bombs: specs that validate but whose weights cannot be allocated
(huge filters, huge kernels, a 10^12-channel expansion, a huge dense layer) fail
in `resdsl.build` and each backend's own `build` (torch and Keras), `compile
--format keras`, `export`, `train` and `compare` with a located `too-large`
error giving the parameter count, the bytes and the memory they exceed, before
any framework allocates: never an allocator RuntimeError, a MemoryError or a
killed process. The builds run in a child whose address space is capped, so a
regression cannot take the machine down."""
from __future__ import annotations

import resource
import subprocess
import sys
import textwrap

import pytest

import resdsl
from resdsl import SpecError
from resdsl.backends.resources import check_allocatable

HEADER = "resdsl: 1\nname: bomb\n"
BOMBS = {
    "huge filters": HEADER + "input: {height: 8, width: 8, channels: 1000000}\n"
                             "stem: [{conv: {filters: 1000000, kernel: 3, padding: 1}}]\n",
    "huge kernel": HEADER + "input: {height: 1000000, width: 1000000, channels: 1}\n"
                            "stem: [{conv: {filters: 1, kernel: 1000000}}]\n",
    "1e12-channel expansion": HEADER + "input: {height: 8, width: 8, channels: 3}\n"
                                       "stem: [{conv: {filters: 8, kernel: 3, padding: 1}}]\n"
                                       "stages: [{block: bottleneck, filters: 1000000, expansion: 1000000}]\n",
    "huge dense": HEADER + "input: {height: 1, width: 1, channels: 1000000}\n"
                           "head: [flatten, {dense: {units: 1000000}}]\n",
    "huge blur filter": HEADER + "input: {height: 8, width: 8, channels: 1000000}\n"  # no parameter: a constant
                                 "stem: [{blur_pool: {size: 1000, pad_mode: zeros}}]\n",
    "just too big": HEADER + "input: {height: 1, width: 1, channels: 100000}\n"  # 40 GB: malloc might succeed
                             "head: [flatten, {dense: {units: 100000}}]\n",
}
# Where each bomb's largest layer is written: the error points there.
LARGEST = {"huge filters": 4, "huge kernel": 4, "1e12-channel expansion": 5, "huge dense": 4, "huge blur filter": 4,
           "just too big": 4}
CAP = 8 * 2 ** 30  # the child's address space: torch or TensorFlow and a tiny model fit, a bomb does not

CHILD = textwrap.dedent("""
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap}))
    import resdsl
    from resdsl.backends import get_backend
    text, backend, entry = sys.stdin.read(), sys.argv[1], sys.argv[2]
    try:
        if entry == "api":
            resdsl.build(text, backend)
        else:  # the backend module itself, as export, training and compile --format keras call it
            get_backend(backend).build(resdsl.resolve(text))
    except resdsl.SpecError as exc:
        print(exc.render())
        sys.exit(3)
    print("built")
""")


def build_in_child(text: str, backend: str, entry: str = "api") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CHILD.format(cap=CAP), backend, entry], input=text, text=True,
                          capture_output=True, timeout=300, check=False)


def cap_address_space():
    resource.setrlimit(resource.RLIMIT_AS, (CAP, CAP))


@pytest.mark.parametrize("name", list(BOMBS))
def test_bombs_validate(name):
    r = resdsl.resolve(BOMBS[name])
    # what makes them bombs: more float32 bytes than the child may map
    assert r.params > 2 ** 33 or name == "huge blur filter" and r.params == 0


@pytest.mark.parametrize("backend", ["torch", "keras"])
@pytest.mark.parametrize("name", list(BOMBS))
def test_bombs_are_refused_before_building(name, backend):
    pytest.importorskip(backend)
    out = build_in_child(BOMBS[name], backend)
    assert out.returncode == 3, (out.returncode, out.stdout[-500:], out.stderr[-2000:])
    msg = out.stdout
    r = resdsl.resolve(BOMBS[name])
    assert f"<string>:{LARGEST[name]}:" in msg and "[too-large]" in msg
    assert f"the network cannot be built in {backend}: {r.params:,} parameters and {r.buffers:,} buffers" in msg
    assert "of float32 weights" in msg and "iB" in msg
    if name == "huge blur filter":  # 10^6 channels of a 1000 x 1000 filter, counted though no parameter
        assert "0 buffers and 1,000,000,000,000 constant values are 3.6 TiB" in msg, msg
    assert "address space its limit (ulimit -v) leaves" in msg or "memory available" in msg
    assert "Traceback" not in out.stderr and "MemoryError" not in out.stderr


@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_each_backends_own_build_refuses(backend):
    pytest.importorskip(backend)
    out = build_in_child(BOMBS["just too big"], backend, "backend")
    assert out.returncode == 3, (out.returncode, out.stdout[-500:], out.stderr[-2000:])
    assert "<string>:4:" in out.stdout and f"cannot be built in {backend}" in out.stdout


@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_a_small_network_still_builds_in_the_capped_child(backend):
    pytest.importorskip(backend)
    out = build_in_child(HEADER + "input: {height: 8, width: 8, channels: 3}\n"
                                  "stem: [{conv: {filters: 4}}]\nhead: [global_avgpool, {dense: {units: 2}}]\n",
                         backend)
    assert out.returncode == 0 and out.stdout.strip() == "built", out.stderr[-2000:]


def test_the_rule_at_its_border():
    r = resdsl.resolve(HEADER + "input: {height: 1, width: 1, channels: 1000}\n"
                                "head: [flatten, {dense: {units: 1000}}]\n")
    weights = 4 * (r.params + r.buffers)  # 1000 x 1000 + 1000 float32 values
    check_allocatable(r, "torch", (int(1.5 * weights), "test memory"))
    with pytest.raises(SpecError) as info:
        check_allocatable(r, "torch", (int(1.5 * weights) - 1, "test memory"))
    assert "more than the 5.7 MiB of test memory" in info.value.first.message
    check_allocatable(r, "keras", (int(2.5 * weights), "test memory"))
    with pytest.raises(SpecError, match="about 2.5x that"):
        check_allocatable(r, "keras", (int(2.5 * weights) - 1, "test memory"))


def test_unknown_memory_never_refuses(monkeypatch):
    import resdsl.backends.resources as res
    monkeypatch.setattr(res, "available_memory", lambda: None)
    check_allocatable(resdsl.resolve(BOMBS["huge dense"]), "torch")


@pytest.mark.parametrize("args", [["compile", "--backend", "keras", "--format", "keras"],
                                  ["export", "--format", "onnx"]], ids=" ".join)
def test_the_cli_refuses_bombs_that_build(tmp_path, args):
    pytest.importorskip("keras" if "keras" in args else "torch")
    spec = tmp_path / "bomb.yaml"
    spec.write_text(BOMBS["huge dense"])
    out = tmp_path / "m.bin"
    done = subprocess.run([sys.executable, "-m", "resdsl", args[0], str(spec), *args[1:], "-o", str(out)],
                          capture_output=True, text=True, timeout=300, preexec_fn=cap_address_space, check=False)
    assert done.returncode == 1, done.stderr[-2000:]
    assert f"{spec}:4:" in done.stderr and "cannot be built" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()


@pytest.mark.parametrize("backend", ["torch", "keras"])
@pytest.mark.parametrize("command", ["train", "compare"])
def test_training_refuses_a_bomb_before_it_reads_the_data(tmp_path, command, backend):
    """The data does not exist: the bomb is reported first, so a long data load
    (or, for compare, the runs of the specs before it) is not wasted."""
    small = tmp_path / "small.yaml"
    small.write_text(HEADER.replace("bomb", "small") + "input: {height: 8, width: 8, channels: 3}\n"
                     "stem: [{conv: {filters: 4}}]\nhead: [global_avgpool, {dense: {units: 2}}]\n")
    spec = tmp_path / "bomb.yaml"
    spec.write_text(BOMBS["huge dense"])
    specs = [small, spec] if command == "compare" else [spec]
    done = subprocess.run([sys.executable, "-m", "resdsl", command, *map(str, specs), "--backend", backend,
                           "--data", str(tmp_path / "missing.tar.gz"), "--out", str(tmp_path / "runs")],
                          capture_output=True, text=True, timeout=300, preexec_fn=cap_address_space, check=False)
    assert done.returncode == 1, done.stderr[-2000:]
    assert f"{spec}:4:" in done.stderr and f"cannot be built in {backend}" in done.stderr, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("layout", ["v2", "v1"])
def test_a_control_groups_limit_counts_its_reclaimable_cache_as_free(tmp_path, layout):
    import resdsl.backends.resources as res
    limit, usage, stat = (("memory.max", "memory.current", "memory.stat") if layout == "v2" else
                          ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes", "memory/memory.stat"))
    key = "inactive_file" if layout == "v2" else "total_inactive_file"
    (tmp_path / "memory").mkdir()
    (tmp_path / limit).write_text(f"{8 * 2 ** 30}\n")
    (tmp_path / usage).write_text(f"{7 * 2 ** 30}\n")
    assert res._cgroup_left(str(tmp_path)) == 2 ** 30  # no memory.stat: all the usage counts
    (tmp_path / stat).write_text(f"active_file 5\n{key} {3 * 2 ** 30}\nanon 7\n")
    assert res._cgroup_left(str(tmp_path)) == 4 * 2 ** 30
    (tmp_path / limit).write_text("max\n" if layout == "v2" else f"{2 ** 63 - 4096}\n")
    assert res._cgroup_left(str(tmp_path)) is None  # no limit
