"""Loading specs: sources, defaults, conventions, user blocks."""
from pathlib import Path

import pytest

import resdsl
from resdsl.errors import SpecError
from resdsl.spec import shipped_names

SPECS = Path(__file__).parents[2] / "specs"


def test_load_from_text_path_and_name_agree(tmp_path, tiny_text):
    f = tmp_path / "tiny.yaml"
    f.write_text(tiny_text)
    from_text = resdsl.load_spec(tiny_text)
    from_path = resdsl.load_spec(str(f))
    assert from_text.model == from_path.model
    assert from_path.file == str(f)
    assert resdsl.load_spec("resnet18").model.name == "resnet18"
    # resolve accepts all three forms too
    assert resdsl.resolve(str(f)).params == resdsl.resolve(tiny_text).params


def test_every_shipped_spec_is_listed_and_resolves():
    names = shipped_names()
    assert names == sorted(p.stem for p in SPECS.glob("*.yaml"))
    required = {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
                "wide_resnet50_2", "resnet50_keras", "resnet101_keras", "resnet152_keras", "resnet50v2",
                "resnet101v2", "resnet152v2", "cifar_resnet20", "cifar_resnet32", "cifar_resnet44",
                "cifar_resnet56", "cifar_resnet110", "cifar_resnet1202", "cifar_plain20", "cifar_plain32",
                "cifar_plain44", "cifar_plain56", "signs_resnet50", "cifar10_resnet30", "cifar10_plain30"}
    assert required <= set(names)
    for name in names:
        r = resdsl.resolve(name)
        assert r.name == name  # file name and spec name agree
        assert r.params > 0 and r.macs > 0


def test_unknown_shipped_name_suggests_closest():
    with pytest.raises(SpecError) as info:
        resdsl.load_spec("resnet05")
    assert info.value.code == "no-such-spec"
    assert "did you mean 'resnet50'" in str(info.value)


def test_defaults_fill_layers(tiny_text):
    text = tiny_text.replace("input:", "defaults: {conv: {bias: true}, norm: {eps: 0.001, momentum: 0.01}}\ninput:")
    g = resdsl.resolve(text).graph
    conv, bn = g.nodes["conv1"]["attrs"], g.nodes["bn1"]["attrs"]
    assert conv["bias"] is True and (bn["eps"], bn["momentum"]) == (0.001, 0.01)
    assert g.nodes["layer1.0.conv1"]["attrs"]["bias"] is True


def test_stage_overrides_beat_defaults(tiny_text):
    text = tiny_text.replace("repeat: 2, stride: 2}", "repeat: 2, stride: 2, norm: {eps: 0.1}, activation: silu}")
    g = resdsl.resolve(text).graph
    assert g.nodes["layer2.0.bn1"]["attrs"]["eps"] == 0.1
    assert g.nodes["layer1.0.bn1"]["attrs"]["eps"] == 1e-5
    assert g.nodes["layer2.1.act_out"]["attrs"]["fn"] == "silu"


def test_zero_init_last_norm_marks_each_blocks_last_bn(tiny_text):
    text = tiny_text.replace("input:", "defaults: {norm: {zero_init_last: true}}\ninput:")
    g = resdsl.resolve(text).graph
    zeros = sorted(n for n, d in g.nodes(data=True) if d["op"] == "norm" and d["attrs"]["gamma_init"] == "zeros")
    assert zeros == ["layer1.0.bn2", "layer1.1.bn2", "layer2.0.bn2", "layer2.1.bn2"]


def test_seed_000_block_is_written_in_yaml():
    r = resdsl.resolve("cifar10_resnet30")
    g = r.graph
    # relu_bn: ReLU *then* BatchNormalization, as in the article.
    order = [g.nodes[n]["op"] for n in g.nodes if g.nodes[n].get("block") == "layer1.0"]
    assert order == ["conv", "act", "norm", "conv", "add", "act", "norm"]
    down = [n for n in g.nodes if g.nodes[n].get("block") == "layer2.0" and g.nodes[n]["role"] == "shortcut"]
    assert [g.nodes[n]["op"] for n in down] == ["conv"]  # 1x1 conv, no BN, as the article
    assert g.nodes[down[0]]["attrs"]["stride"] == (2, 2)
    # Keras 'same' at stride 2 on an even size pads only after: (top, bottom, left, right) = (0, 1, 0, 1).
    assert g.nodes["layer2.0.conv1"]["attrs"]["padding"] == (0, 1, 0, 1)


def test_python_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    text = f'resdsl: 1\nname: x\ndescription: !!python/object/apply:os.system ["touch {marker}"]\n'
    with pytest.raises(SpecError) as info:
        resdsl.load_spec(text)
    assert info.value.code == "unsafe-tag"
    assert not marker.exists()


def test_all_independent_errors_are_reported_together(tiny_text):
    text = tiny_text.replace("repeat: 2}", "repaet: 2}").replace("units: 10", "units: -1")
    with pytest.raises(SpecError) as info:
        resdsl.load_spec(text)
    codes = sorted(d.code for d in info.value.diagnostics)
    assert codes == ["out-of-range", "unknown-key"]


def test_json_error_format_is_machine_readable(tiny_text):
    import json
    with pytest.raises(SpecError) as info:
        resdsl.load_spec(tiny_text.replace("filters: 16, repeat", "filtres: 16, repeat"))
    (d,) = json.loads(info.value.to_json())
    assert set(d) == {"file", "line", "column", "end_line", "end_column", "code", "message", "hint"}
    assert d["code"] == "unknown-key" and d["hint"] == "did you mean 'filters'?"
    assert (d["line"], d["column"], d["end_column"]) == (10, 20, 27)
