"""Derived specs (`extends:`), `--set` overrides and keyword overrides: merged on
the spec side, every value located in the file (or override) that wrote it."""
import json

import pytest

import resdsl
from resdsl.cli import main

CHILD = """\
resdsl: 1
extends: {parent}
name: {name}
stages:
  layer3: {{repeat: 2}}
head:
  fc: {{units: 5}}
"""


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_extends_a_shipped_spec_merges_stages_by_name(tmp_path):
    torchvision = pytest.importorskip("torchvision")
    from torchvision.models.resnet import Bottleneck, ResNet
    child = write(tmp_path, "r50s.yaml", CHILD.format(parent="resnet50", name="r50s"))
    r = resdsl.resolve(child)
    ref = ResNet(Bottleneck, [3, 4, 2, 3], num_classes=5)
    assert r.name == "r50s"
    assert [s.repeat for s in r.stages] == [3, 4, 2, 3]
    assert r.params == sum(p.numel() for p in ref.parameters())
    assert r.output_shape == (5,)
    assert torchvision  # the reference came from torchvision itself


def test_extends_a_relative_path_and_an_error_in_the_parent_is_located_there(tmp_path):
    from resdsl.spec.shipped import shipped_path
    parent_text = shipped_path("cifar_resnet20").read_text().replace("filters: 32, repeat: 3",
                                                                    "filters: 32, repeet: 3")
    write(tmp_path, "base.yaml", parent_text)
    (tmp_path / "sub").mkdir()
    child = write(tmp_path / "sub", "c.yaml", "resdsl: 1\nextends: ../base.yaml\nname: c\n")
    with pytest.raises(resdsl.SpecError) as e:
        resdsl.load_spec(child)
    d = e.value.first
    assert d.span.file.endswith("base.yaml") and d.code == "unknown-key"
    line = parent_text.splitlines().index(next(x for x in parent_text.splitlines() if "repeet" in x)) + 1
    assert d.span.line == line
    assert "repeet: 3" in str(e.value) and "did you mean 'repeat'?" in str(e.value)


def test_an_error_in_the_child_is_located_in_the_child(tmp_path):
    child = write(tmp_path, "c.yaml", CHILD.format(parent="resnet50", name="c").replace("layer3", "layr3"))
    with pytest.raises(resdsl.SpecError) as e:
        resdsl.load_spec(child)
    d = e.value.first
    assert (d.span.file, d.span.line, d.span.column, d.code) == (str(child), 5, 3, "unknown-item")
    assert d.hint == "did you mean 'layer3'?"


def test_an_ir_error_from_a_parent_value_shows_the_parent_line(tmp_path, tiny_text):
    # The child shrinks the input below what the parent's unpadded conv takes:
    # the shape error is about a parent layer and must quote the parent's text.
    write(tmp_path, "p.yaml", tiny_text.replace("padding: 1", "padding: 0"))
    child = write(tmp_path, "c.yaml", "resdsl: 1\nextends: p.yaml\nname: c\ninput: {height: 2, width: 2}\n")
    with pytest.raises(resdsl.SpecError) as e:
        resdsl.resolve(child)
    d = e.value.first
    assert d.code == "spatial-too-small" and d.span.file.endswith("p.yaml") and d.span.line == 6
    assert "   6 |   - conv: {filters: 16, kernel: 3, padding: 0}" in str(e.value)


def test_extends_cycles_are_rejected(tmp_path):
    write(tmp_path, "a.yaml", "resdsl: 1\nextends: b.yaml\nname: a\n")
    write(tmp_path, "b.yaml", "resdsl: 1\nextends: a.yaml\nname: b\n")
    with pytest.raises(resdsl.SpecError) as e:
        resdsl.load_spec(tmp_path / "a.yaml")
    assert e.value.code == "extends-cycle"
    assert "a.yaml -> b.yaml -> a.yaml" in e.value.first.message
    assert e.value.first.span.file.endswith("b.yaml") and e.value.first.span.line == 2


def test_unknown_parent_gets_did_you_mean(tmp_path):
    child = write(tmp_path, "c.yaml", "resdsl: 1\nextends: resnet05\nname: c\n")
    with pytest.raises(resdsl.SpecError) as e:
        resdsl.load_spec(child)
    assert e.value.code == "no-such-spec" and e.value.first.span.line == 2
    assert e.value.first.hint == "did you mean 'resnet50'?"


def test_validate_print_spec_shows_the_merged_spec(tmp_path, capsys):
    import yaml
    child = write(tmp_path, "c.yaml", CHILD.format(parent="resnet50", name="c"))
    assert main(["validate", str(child), "--print-spec", "--set", "input.channels=1"]) == 0
    out = capsys.readouterr().out
    merged = yaml.safe_load(out.split("---\n", 1)[1])
    assert merged["stages"][2] == {"name": "layer3", "block": "bottleneck", "filters": 256, "repeat": 2,
                                   "stride": 2}
    assert merged["head"][1] == {"dense": {"units": 5, "name": "fc"}}
    assert merged["input"]["channels"] == 1 and "extends" not in merged


def test_keywords_match_timm_create_model():
    timm = pytest.importorskip("timm")
    ref = timm.create_model("resnet50", num_classes=5, in_chans=1)
    r = resdsl.resolve("resnet50", num_classes=5, in_channels=1, input_size=(160, 160))
    assert r.params == sum(p.numel() for p in ref.parameters())
    assert r.input_shape == (1, 160, 160) and r.output_shape == (5,)


def test_include_top_false_and_pooling():
    full = resdsl.resolve("resnet50")
    body = resdsl.resolve("resnet50", include_top=False)
    pooled = resdsl.resolve("resnet50", include_top=False, pooling="avg")
    assert body.output_shape == (2048, 7, 7)
    assert pooled.output_shape == (2048,)
    assert full.params - pooled.params == 2048 * 1000 + 1000
    maxed = resdsl.resolve("resnet50", include_top=False, pooling="max")
    assert maxed.output_shape == (2048,) and maxed.node("global_pool")["op"] == "global_maxpool"


@pytest.mark.parametrize("kw, code, where", [
    (dict(sets=["head.fcc.units=3"]), "unknown-item", ("<--set>", 1, 6)),
    (dict(sets=["input.channels=1", "inptu.height=3"]), "unknown-key", ("<--set>", 2, 1)),
    (dict(sets=["stages.layer3.repeat=x"]), "wrong-type", ("<--set>", 1, 22)),
    (dict(sets=["nope"]), "bad-override", ("<--set>", 1, 1)),
    (dict(num_classes=0), "out-of-range", ("<keywords>", 1, 1)),
    (dict(include_top=False, pooling="mean"), "bad-override", ("<keywords>", 1, 1)),
    (dict(include_top=False, num_classes=5), "bad-override", ("<keywords>", 2, 1)),
])
def test_bad_overrides_are_located_errors(kw, code, where):
    with pytest.raises(resdsl.SpecError) as e:
        resdsl.resolve("resnet50", **kw)
    d = e.value.first
    assert d.code == code and (d.span.file, d.span.line, d.span.column) == where
    assert "^" in str(e.value)  # the override is quoted with a caret


def test_did_you_mean_for_set_paths():
    with pytest.raises(resdsl.SpecError) as e:
        resdsl.resolve("resnet50", sets=["input.chanels=1"])
    assert e.value.first.hint == "did you mean 'channels'?"


def test_set_on_the_command_line_before_and_after_the_command(capsys):
    assert main(["--set", "input.channels=1", "validate", "resnet50", "--set", "head.fc.units=5",
                 "--format", "json"]) == 0
    rec = json.loads(capsys.readouterr().out)[0]
    assert rec["input_shape"] == [1, 224, 224] and rec["output_shape"] == [5]
    assert rec["trainable_params"] == 23_512_005  # timm.create_model("resnet50", num_classes=5, in_chans=1)


def test_bad_set_exits_1_without_traceback(capsys):
    assert main(["summary", "resnet50", "--set", "head.fc.unitz=5"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("<--set>:1:9: error: unknown key 'unitz'") and "Traceback" not in err


def test_validate_input_size_reports_shapes_and_macs_at_that_size(capsys):
    assert main(["validate", "resnet50", "--input-size", "97", "131", "--format", "json"]) == 0
    rec = json.loads(capsys.readouterr().out)[0]
    assert rec["input_shape"] == [3, 97, 131]
    r = resdsl.resolve("resnet50", input_size=(97, 131))
    assert rec["macs"] == r.macs < resdsl.resolve("resnet50").macs
    # the spec's own size is unchanged without the flag
    assert resdsl.resolve("resnet50").input_shape == (3, 224, 224)


def test_set_values_are_plain_yaml_data():
    r = resdsl.resolve("resnet50", sets=["head=[global_avgpool]"])
    assert r.output_shape == (2048,)
    with pytest.raises(resdsl.SpecError) as e:
        resdsl.resolve("resnet50", sets=["input.channels=1", "head=[!!python/object:os.system x]"])
    d = e.value.first
    assert d.code == "unsafe-tag" and (d.span.file, d.span.line, d.span.column) == ("<--set>", 2, 7)


def test_validate_json_lists_failures_too(tmp_path, capsys, tiny_text):
    bad = write(tmp_path, "bad.yaml", tiny_text.replace("units: 10", "unit: 10"))
    assert main(["validate", "cifar_resnet20", str(bad), "--format", "json"]) == 1
    recs = json.loads(capsys.readouterr().out)
    assert recs[0]["ok"] and recs[0]["trainable_params"] == 269_722 and recs[0]["non_trainable_params"] == 1376
    assert not recs[1]["ok"] and recs[1]["errors"][0]["code"] == "unknown-key" and recs[1]["errors"][0]["line"] == 14


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"resdsl {resdsl.__version__}"


def test_build_takes_the_keywords_too():
    """resdsl.build(num_classes=, in_channels=) gives timm's create_model network: its state_dict loads strictly."""
    timm = pytest.importorskip("timm")
    ref = timm.create_model("resnet18", num_classes=5, in_chans=1)
    model = resdsl.build("resnet18", backend="torch", num_classes=5, in_channels=1, input_size=(96, 96))
    model.load_state_dict(ref.state_dict(), strict=True)
    import torch
    x = torch.randn(2, 1, 96, 96)
    with torch.no_grad():
        assert torch.allclose(model.eval()(x), ref.eval()(x), atol=1e-5)
