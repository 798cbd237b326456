"""`outputs:` — several tensors out of one network: which graph nodes the names
mean, the located errors, and what validate and summary say about them."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

import resdsl
from resdsl.analysis import one_line, summary_table
from resdsl.errors import SpecError
from resdsl.reports import summary_record, validate_record

# timm's features_only=True, out_indices=(1, 2, 3, 4), written as a spec.
FEATURES = """\
extends: resnet50
name: resnet50_features
head: []
outputs: [layer1, layer2, layer3, layer4]
"""


def _with(outputs: str, base: str = "cifar_resnet20") -> str:
    return f"extends: {base}\nname: tapped\noutputs: {outputs}\n"


def _error(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        resdsl.resolve(text)
    return info.value


def test_names_mean_a_stage_a_block_or_a_layer():
    r = resdsl.resolve(_with("[relu, layer1, layer2.1, layer3.0.conv2, fc]"))
    blocks = {b.name: b for b in r.blocks}
    last_of_layer1 = blocks[next(s for s in r.stages if s.name == "layer1").blocks[-1]].output
    assert r.outputs == ["relu", last_of_layer1, blocks["layer2.1"].output, "layer3.0.conv2", "fc"]
    assert r.output_names == ["relu", "layer1", "layer2.1", "layer3.0.conv2", "fc"]
    assert r.output == "fc" and r.output_shape == (10,) and r.named_outputs
    assert r.output_shapes == [r.graph.nodes[n]["shape"] for n in r.outputs]
    assert r.output_shapes[:2] == [(16, 32, 32), (16, 32, 32)] and r.output_shapes[3] == (64, 8, 8)


def test_the_order_given_is_the_order_of_the_outputs():
    r = resdsl.resolve(_with("[fc, layer2, relu]"))
    assert r.output_names == ["fc", "layer2", "relu"] and r.output == r.outputs[-1] == "relu"


def test_without_outputs_the_last_layer_is_the_one_output():
    r = resdsl.resolve("cifar_resnet20")
    assert r.outputs == [r.output] == ["fc"] and r.output_names == ["fc"] and not r.named_outputs


def test_a_backbone_counts_the_stages_only():
    feats, full = resdsl.resolve(FEATURES), resdsl.resolve("resnet50")
    head = [n for n, d in full.graph.nodes(data=True) if d["section"] == "head"]
    assert feats.params == full.params - sum(full.graph.nodes[n]["params"] for n in head)
    assert feats.macs == full.macs - sum(full.graph.nodes[n]["macs"] for n in head)
    assert feats.output_shapes == [(256, 56, 56), (512, 28, 28), (1024, 14, 14), (2048, 7, 7)]


def test_unknown_output_suggests_the_closest_name():
    d = _error(_with("[layer1, layr2]")).first
    assert (d.code, d.span.line, d.span.column) == ("unknown-output", 3, 19)
    assert "'layr2'" in d.message and d.hint == "did you mean 'layer2'?"
    d = _error(_with("[input, fc]")).first
    assert d.code == "unknown-output" and "the input is not an output" in d.hint
    d = _error(_with("[qqqqqqq, fc]")).first
    assert "'layer1', 'layer2', 'layer3'" in d.hint


@pytest.mark.parametrize("outputs,message", [
    ("[fc, layer1, fc]", "'fc' is listed twice in outputs"),
    ("[layer1, layer1.2, fc]", "'layer1.2' is the same tensor as 'layer1' in outputs")])
def test_duplicate_outputs(outputs, message):
    d = _error(_with(outputs)).first
    assert d.code == "duplicate-output" and d.message == message


def test_layers_that_feed_no_output_are_located_where_they_are_written():
    err = _error(_with("[layer1, layer3]"))
    d = err.first
    assert d.code == "unused-layer" and d.message.startswith("layer 'avgpool' feeds no output")
    assert "`head: []`" in d.hint and "`outputs:`" in d.hint
    assert d.span.file == "cifar_resnet20"  # the head is written in the parent spec
    parent = err.sources[d.span.file].splitlines()[d.span.line - 1]
    assert "avgpool" in parent
    d = _error("extends: cifar_resnet20\nname: t\nhead: []\noutputs: [layer1, layer2]\n").first
    assert d.message.startswith("layer 'layer3.0.conv1' (stage 'layer3') feeds no output, nor do the")


def test_outputs_is_a_non_empty_list():
    d = _error(_with("[]")).first
    assert d.code == "bad-value" and "at least 1 item" in d.message


def test_outputs_from_the_command_line_and_keywords():
    r = resdsl.resolve("resnet50", sets=["head=[]", "outputs=[layer2, layer4]"])
    assert r.output_names == ["layer2", "layer4"]


def test_validate_and_summary_list_the_outputs():
    r = resdsl.resolve(FEATURES)
    assert one_line(r).endswith("-> outputs layer1 256×56×56, layer2 512×28×28, layer3 1024×14×14, "
                                "layer4 2048×7×7")
    table = summary_table(r, "stage").splitlines()
    start = table.index("Outputs, in the order the model returns them (name, shape, layer):")
    assert table[start + 1].split() == ["layer1", "256×56×56", r.outputs[0]]
    assert table[start + 4].split() == ["layer4", "2048×7×7", r.outputs[3]]
    expected = [{"name": n, "node": node, "shape": list(s)}
                for n, node, s in zip(r.output_names, r.outputs, r.output_shapes)]
    assert validate_record("f.yaml", r)["outputs"] == expected == summary_record(r)["outputs"]
    assert validate_record("f.yaml", r)["output_shape"] == [2048, 7, 7]
    single = resdsl.resolve("resnet50")
    assert validate_record("r", single)["outputs"] == [{"name": "fc", "node": "fc", "shape": [1000]}]
    assert "Outputs" not in summary_table(single)  # networks without `outputs:` read as before


def test_cli_validate_json(tmp_path):
    (tmp_path / "f.yaml").write_text(FEATURES)
    out = subprocess.run([sys.executable, "-m", "resdsl", "validate", "f.yaml", "--format", "json"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    (record,) = json.loads(out.stdout)
    assert [o["name"] for o in record["outputs"]] == ["layer1", "layer2", "layer3", "layer4"]
    assert record["outputs"][1]["shape"] == [512, 28, 28]
