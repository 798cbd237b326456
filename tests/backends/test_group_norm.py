"""Group norm: a spec-level normalisation beside batch norm, in the counts, both
backends, the weight port and timm's own GroupNorm ResNet (loaded strictly)."""
from __future__ import annotations

import numpy as np
import pytest
import timm
import torch

import resdsl
from resdsl.backends.keras import layer_map
from resdsl.backends.torch import emit as torch_emit
from resdsl.errors import SpecError

keras = pytest.importorskip("keras")

SMALL = """\
resdsl: 1
name: gn_small
input: {height: 16, width: 16, channels: 3}
defaults:
  norm: {type: groupnorm, groups: 4}
stem:
  - conv: {filters: 8, kernel: 3, padding: 1}
  - norm: {}
  - act: relu
stages:
  - {block: basic, filters: 8, repeat: 1}
  - {block: basic, filters: 16, repeat: 2, stride: 2, shortcut: projection, norm: {type: batchnorm}}
head: [global_avgpool, {dense: {units: 5}}]
"""


def _norms(model):
    return [m for m in model.modules() if isinstance(m, (torch.nn.GroupNorm, torch.nn.BatchNorm2d))]


def test_group_norm_in_the_ir_and_the_torch_build():
    r = resdsl.resolve(SMALL)
    gn = [n for n, d in r.graph.nodes(data=True) if d["op"] == "norm" and d["attrs"]["type"] == "groupnorm"]
    bn = [n for n, d in r.graph.nodes(data=True) if d["op"] == "norm" and d["attrs"]["type"] == "batchnorm"]
    assert gn and bn and all(n.startswith(("bn", "norm", "layer1")) for n in gn)
    assert all(n.startswith("layer2") for n in bn)
    m = resdsl.build(r, backend="torch")
    groups = {name: mod for name, mod in m.named_modules() if isinstance(mod, torch.nn.GroupNorm)}
    assert set(groups) == set(gn) and all(g.num_groups == 4 for g in groups.values())
    # Params are the IR's; group norm keeps no running statistics (batch norm keeps 2 per channel).
    assert sum(p.numel() for p in m.parameters()) == r.params
    assert sum(b.numel() for n, b in m.named_buffers() if not n.endswith("num_batches_tracked")) == \
        r.buffers
    # Blocks that differ only in the norm class are separate definitions.
    src = torch_emit(r)
    assert src.count("group_norm(") >= 1 and len([c for c in src.splitlines() if c.startswith("class Basic")]) == 2


def test_group_norm_is_per_sample_in_training_and_inference():
    m = resdsl.build(SMALL.replace(", norm: {type: batchnorm}", ""), backend="torch").train()
    x = torch.randn(4, 3, 16, 16)
    with torch.no_grad():
        # a sample's output does not depend on the rest of its batch, even in training mode
        assert torch.allclose(m(x)[:1], m(x[:1]), atol=1e-5)
        assert torch.allclose(m(x), m.eval()(x), atol=1e-6)
    bn = resdsl.build(SMALL, backend="torch").train()  # its layer2 has batch norm: the batch matters
    with torch.no_grad():
        assert not torch.allclose(bn(x)[:1], bn(x[:1]), atol=1e-3)


def test_fused_build_folds_batch_norm_only():
    from resdsl.backends.torch import emit, load_source
    r = resdsl.resolve(SMALL)
    t = resdsl.build(r, backend="torch").eval()
    for mod in _norms(t):
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-1, 1)
            mod.running_var.uniform_(0.5, 2)
        mod.weight.data.uniform_(0.5, 1.5)
        mod.bias.data.uniform_(-1, 1)
    module = load_source(emit(r, fuse_bn=True), r.name)
    fused = module.build_model(fused=False)
    fused.load_state_dict(t.state_dict())
    module.fold_batchnorm(fused)  # the way its docstring says to fold trained weights
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    n_gn = sum(isinstance(m, torch.nn.GroupNorm) for m in t.modules())
    assert n_gn == 3 and sum(isinstance(m, torch.nn.GroupNorm) for m in fused.modules()) == n_gn
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(fused(x), t(x), atol=1e-5)
    # the emitted FUSE lists name batch-norm pairs only: none in the group-normed block
    assert getattr(fused.layer1[0], "FUSE", ()) == () and len(fused.layer2[0].FUSE) == 3


def test_keras_build_equals_torch_after_porting():
    r = resdsl.resolve(SMALL)
    t = resdsl.build(r, backend="torch").eval()
    for mod in _norms(t):
        mod.weight.data.uniform_(0.5, 1.5)
        mod.bias.data.uniform_(-1, 1)
    k = resdsl.build(r, backend="keras")
    assert k.count_params() == r.params + r.buffers
    assert sum(isinstance(layer, keras.layers.GroupNormalization) for layer in layer_map(k).values()) == \
        sum(isinstance(m, torch.nn.GroupNorm) for m in t.modules())
    resdsl.port_weights(t, k)
    x = np.random.default_rng(0).standard_normal((2, 3, 16, 16)).astype("float32")
    with torch.no_grad():
        ref = t(torch.from_numpy(x)).numpy()
    y = np.asarray(k(x.transpose(0, 2, 3, 1), training=False))
    assert np.abs(y - ref).max() <= 1e-4 * max(1.0, np.abs(ref).max())
    # and back: keras -> torch gives the same torch weights
    t2 = resdsl.build(r, backend="torch").eval()
    resdsl.port_weights(k, t2)
    for (n, a), (_, b) in zip(t.state_dict().items(), t2.state_dict().items()):
        assert torch.allclose(a.float(), b.float(), atol=1e-6), n


def test_emitted_keras_module_has_group_norm():
    from resdsl.backends.keras import emit as keras_emit
    src = keras_emit(resdsl.resolve(SMALL))
    assert "layers.GroupNormalization(4, epsilon=1e-05" in src
    ns: dict = {}
    exec(compile(src, "gn_small.py", "exec"), ns)
    model = ns["build_model"]()
    assert model.count_params() == resdsl.resolve(SMALL).params + resdsl.resolve(SMALL).buffers


def test_timm_group_norm_resnet_loads_strictly():
    """timm's resnet18 with its GroupNorm (32 groups) is resnet18 with `defaults.norm.type: groupnorm`."""
    ref = timm.create_model("resnet18", pretrained=False, norm_layer=timm.layers.GroupNorm).eval()
    ours = resdsl.build("resnet18", backend="torch", sets=["defaults.norm.type=groupnorm"]).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    for mod in ref.modules():
        if isinstance(mod, torch.nn.GroupNorm):
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.5, 0.5)
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert (ours(x) - ref(x)).abs().max() <= 1e-5
    assert resdsl.resolve("resnet18", sets=["defaults.norm.type=groupnorm"]).params == \
        sum(p.numel() for p in ref.parameters())


@pytest.mark.parametrize("groups, channels_text", [(3, "filters: 8"), (0, "filters: 8")])
def test_groups_that_do_not_divide_the_channels_are_located(groups, channels_text):
    text = SMALL.replace("norm: {}", f"norm: {{groups: {groups}}}")
    with pytest.raises(SpecError) as exc:
        resdsl.resolve(text)
    d = exc.value.diagnostics[0]
    line = text.splitlines()[d.span.line - 1]
    if groups == 0:
        assert d.code == "out-of-range"
    else:
        assert d.code == "bad-groups" and "3 groups cannot split 8 channels" in d.message
    assert "norm" in line and "groups" in line


def test_render_names_group_norm_and_its_groups(tmp_path):
    out = resdsl.render(SMALL, tmp_path / "gn.dot", level="layer", fmt="dot")
    text = out.read_text()
    r = resdsl.resolve(SMALL)
    n_gn = sum(d["op"] == "norm" and d["attrs"]["type"] == "groupnorm" for _, d in r.graph.nodes(data=True))
    assert n_gn == 3 and text.count("4 groups") == n_gn and "groupnorm" in text
