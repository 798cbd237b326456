"""Bad input: an op or name the PyTorch backend cannot express is a located
SpecError naming op, backend and place; an output that cannot be written is a
clear message, exit 1 and no file, partial or otherwise."""
from __future__ import annotations

import dataclasses
import os

import pytest

import resdsl
from resdsl.backends import get_backend
from resdsl.backends.torch.ops import NN_MODULE_NAMES, NN_MODULE_PRIVATE
from resdsl.cli import main

backend = get_backend("torch")
SPEC = """\
resdsl: 1
name: small
input: {height: 16, width: 16, channels: 3}
stem:
  - conv: {filters: 8, kernel: 3, padding: 1, name: NAME}
  - norm
stages:
  - {name: STAGE, block: basic, filters: 8, repeat: 1}
head: [global_avgpool, {dense: {units: 2}}]
"""


def spec(name="stem_conv", stage="layer1") -> str:
    return SPEC.replace("NAME", name).replace("STAGE", stage)


@pytest.mark.parametrize("op,attr,value,words", [
    ("gelu_norm", None, None, "op 'gelu_norm'"),
    ("act", "fn", "mish", "activation 'mish'"),
    ("norm", "type", "instancenorm", "norm type 'instancenorm'"),
])
def test_an_op_the_backend_cannot_express(op, attr, value, words):
    r = resdsl.resolve(spec())
    block = r.defs["Basic"]  # assembled from the graph as resolved, before the graph is edited below
    node = "layer1.0.act1"
    d = r.graph.nodes[node]
    attrs = r.graph.nodes["layer1.0.bn1"]["attrs"] if op == "norm" else d["attrs"]
    if attr:
        attrs = attrs.replace(**{attr: value})
    d["op"], d["attrs"] = op, attrs
    # The emitters read the block's definition: change the node there too.
    block.nodes = [dataclasses.replace(n, op=op, attrs=attrs) if n.local == "act1" else n for n in block.nodes]
    for emit_or_build in (backend.emit, backend.build):
        with pytest.raises(resdsl.SpecError) as exc:
            emit_or_build(r)
        err = exc.value
        assert err.code == "unsupported-op"
        text = str(err)
        assert "torch backend" in text and words in text and "layer1.0.act1" in text
        assert err.first.span.line == 8  # the stage's `block:` value, where the block comes from
        assert "block: basic" in text  # the source line, under a caret


@pytest.mark.parametrize("name,line", [("forward", 5), ("training", 5), ("_modules", 5), ("__init__", 5)])
def test_a_layer_name_that_would_shadow_nn_module(name, line):
    """Refused when the spec is validated (tests/core/test_user_blocks.py has more)."""
    with pytest.raises(resdsl.SpecError) as exc:
        resdsl.resolve(spec(name=name))
    assert exc.value.code == "reserved-name" and exc.value.first.span.line == line
    assert f"'{name}'" in str(exc.value) and "torch.nn.Module" in str(exc.value)


def test_a_stage_name_that_would_shadow_nn_module():
    with pytest.raises(resdsl.SpecError) as exc:
        resdsl.resolve(spec(stage="eval"))
    assert exc.value.code == "reserved-name" and exc.value.first.span.line == 8


def test_reserved_names_cover_the_installed_torch():
    torch = pytest.importorskip("torch")
    public = {n for n in dir(torch.nn.Module()) if not n.startswith("_")}
    assert public <= NN_MODULE_NAMES, sorted(public - NN_MODULE_NAMES)
    # (torch's compilers mark the class with `___` names at run time: not attributes a module relies on)
    private = {n for n in set(dir(torch.nn.Module)) | set(vars(torch.nn.Module()))
               if n.startswith("_") and not n.startswith("___")}
    assert private <= NN_MODULE_PRIVATE, sorted(private - NN_MODULE_PRIVATE)


def test_compile_to_a_missing_folder(tmp_path, capsys):
    target = tmp_path / "no" / "such" / "dir" / "net.py"
    assert main(["compile", "cifar_resnet20", "--backend", "torch", "-o", str(target)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("resdsl: error: cannot write") and "Traceback" not in err
    assert not target.exists()


def test_a_failed_write_leaves_no_partial_file(tmp_path, capsys, monkeypatch):
    target = tmp_path / "net.py"

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    assert main(["compile", "cifar_resnet20", "--backend", "torch", "-o", str(target)]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # neither the file nor a temporary one


def test_compile_will_not_overwrite_a_file_it_did_not_write(tmp_path, capsys):
    target = tmp_path / "mine.py"
    target.write_text("print('my own code')\n")
    assert main(["compile", "cifar_resnet20", "--backend", "torch", "-o", str(target)]) == 1
    assert "refusing to overwrite" in capsys.readouterr().err
    assert target.read_text() == "print('my own code')\n"
    # but it replaces its own output
    ours = tmp_path / "ours.py"
    for fuse in ([], ["--fuse-bn"]):
        assert main(["compile", "cifar_resnet20", "--backend", "torch", "-o", str(ours), *fuse]) == 0
    assert "fold_batchnorm" in ours.read_text()


def test_compile_default_name_and_stdout(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["compile", "cifar_resnet20", "--backend", "torch"]) == 0
    written = (tmp_path / "cifar_resnet20_torch.py").read_text(encoding="utf-8")
    capsys.readouterr()
    assert main(["compile", "cifar_resnet20", "--backend", "torch", "-o", "-"]) == 0
    assert capsys.readouterr().out == written == resdsl.emit("cifar_resnet20", backend="torch")
