"""The ops added for timm's ResNet family — gelu/hard_sigmoid/silu activations,
dropout, global max and avg+max pooling, average pooling with ceil_mode and
count_include_pad, channel-wise multiply, the 1-D conv across channels, and the
built-in `se` / `eca` gates — in both backends: counts against the frameworks,
the PyTorch build against PyTorch's own functions and timm's modules, the Keras
build and the emitted Keras source against the PyTorch build."""
from __future__ import annotations

import types

import numpy as np
import pytest

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")


import resdsl
from resdsl.backends.keras import layer_shapes, trace
from resdsl.errors import SpecError
from tests.helpers.norms import randomise_norms
from tests.helpers.numeric import nhwc, relative

SPEC = """\
resdsl: 1
name: newops
input: {height: 11, width: 11, channels: 3}
blocks:
  gated:
    main:
      - conv: {filters: $filters, kernel: 3, padding: 1}
      - norm
      - act: gelu
      - dropout: {rate: 0.2}
      - conv: {filters: $filters, kernel: 3, padding: 1}
      - norm: {name: bn2}
      - global_avgpool: {keepdims: true, name: squeeze}
      - conv: {filters: 4, kernel: 1, bias: true, name: fc1}
      - act: silu
      - conv: {filters: $filters, kernel: 1, bias: true, name: fc2}
      - act: hard_sigmoid
      - multiply: {with: bn2}
      - eca
      - se: {reduction: 4}
    after: [act]
stem:
  - conv: {filters: 8, kernel: 3, padding: 1}
  - avgpool: {size: 2, stride: 2, ceil_mode: true, count_include_pad: false, name: pool_ceil}
  - avgpool: {size: 3, stride: 1, padding: 1, count_include_pad: false, name: pool_excl}
  - avgpool: {size: 3, stride: 2, padding: 1, ceil_mode: true, name: pool_incl}
stages:
  - {block: gated, filters: 16, repeat: 2}
head: [global_avgmaxpool, {dropout: {rate: 0.5}}, {dense: {units: 10}}]
"""


@pytest.fixture(scope="module")
def built(one_torch_thread):
    r = resdsl.resolve(SPEC)
    tm = resdsl.build(r, backend="torch").eval()
    randomise_norms(tm)
    return r, tm


def test_counts_equal_the_frameworks(built):
    r, tm = built
    assert r.params == sum(p.numel() for p in tm.parameters())
    assert r.buffers == sum(b.numel() for n, b in tm.named_buffers() if not n.endswith("num_batches_tracked"))
    assert resdsl.build(r, backend="keras").count_params() == r.params + r.buffers
    # ECA's kernel for 16 channels by timm's rule (int(|log2 16 + 1| / 2) = 2 -> 3), SE's width 16/4 -> 8
    assert r.node("layer1.0.eca.conv")["params"] == 3
    assert r.node("layer1.0.se.fc1")["shape"] == (8, 1, 1)


def test_shapes_follow_pytorch_pooling_rules(built):
    r, tm = built
    x = torch.randn(1, 3, 11, 11)
    y = tm.conv1(x)
    for name, kw in (("pool_ceil", dict(kernel_size=2, stride=2, ceil_mode=True, count_include_pad=False)),
                     ("pool_excl", dict(kernel_size=3, stride=1, padding=1, count_include_pad=False)),
                     ("pool_incl", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True))):
        ref = torch.nn.functional.avg_pool2d(y, **kw)
        y = getattr(tm, name)(y)
        assert tuple(y.shape[1:]) == r.node(name)["shape"]
        assert torch.equal(y, ref)
    assert r.node("pool_ceil")["shape"] == (8, 6, 6)  # 11 -> 6: the odd map of resnet10t at 176


def test_gates_equal_timm_modules(built):
    timm_layers = pytest.importorskip("timm.layers")
    _, tm = built
    block = tm.layer1[1]
    se = timm_layers.SEModule(16, rd_ratio=1 / 4)
    eca = timm_layers.EcaModule(16)
    with torch.no_grad():
        for ours, theirs in ((block.se.fc1, se.fc1), (block.se.fc2, se.fc2), (block.eca.conv, eca.conv)):
            assert ours.weight.shape == theirs.weight.shape
            ours.weight.copy_(theirs.weight)
            if theirs.bias is not None:
                ours.bias.copy_(theirs.bias)
        x = torch.randn(2, 16, 4, 4)
        ours_se = block.se.mul(x, block.se.gate(block.se.fc2(block.se.act(block.se.fc1(block.se.pool(x))))))
        ours_eca = block.eca.mul(x, block.eca.gate(block.eca.conv(block.eca.pool(x))))
        assert torch.allclose(ours_se, se(x), atol=1e-6)
        assert torch.allclose(ours_eca, eca(x), atol=1e-6)
        pool = timm_layers.SelectAdaptivePool2d(pool_type="avgmax", flatten=True)
        assert torch.allclose(tm.pool1(x), pool(x), atol=1e-6)


def test_keras_build_and_emitted_source_equal_torch(built):
    r, tm = built
    km = resdsl.build(r, backend="keras")
    resdsl.port_weights(tm, km)
    x = np.random.default_rng(1).normal(size=(2, *r.input_shape)).astype("float32")
    with torch.no_grad():
        yt = tm(torch.from_numpy(x)).numpy()
    xk = x.transpose(0, 2, 3, 1)
    yk = keras.ops.convert_to_numpy(km(xk, training=False))
    assert relative(yt, yk) <= 1e-5
    outs, shapes = trace(km, r, xk), layer_shapes(km, r)
    for n, d in r.graph.nodes(data=True):
        assert tuple(outs[n].shape[1:]) == tuple(shapes[n][1:]) == nhwc(d["shape"]), n
    mod = types.ModuleType("emitted_newops")
    exec(compile(resdsl.emit(r, backend="keras"), "emitted_newops", "exec"), mod.__dict__)  # noqa: S102
    em = mod.build_model()
    resdsl.port_weights(tm, em)
    assert relative(yt, keras.ops.convert_to_numpy(em(xk, training=False))) <= 1e-5
    back = resdsl.build(r, backend="torch").eval()
    resdsl.port_weights(km, back)
    with torch.no_grad():
        assert relative(yt, back(torch.from_numpy(x)).numpy()) < 1e-6


DROP = """\
resdsl: 1
name: drop
input: {height: 1, width: 1, channels: 4000}
head: [global_avgpool, {dropout: {rate: 0.3}}]
"""


@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_dropout_is_identity_in_eval_and_right_in_training(backend):
    r = resdsl.resolve(DROP)
    m = resdsl.build(r, backend=backend)
    x = np.ones((50, 4000, 1, 1), "float32")
    if backend == "torch":
        torch.manual_seed(0)
        y_eval = m.eval()(torch.from_numpy(x)).detach().numpy()
        y_train = m.train()(torch.from_numpy(x)).detach().numpy()
    else:
        keras.utils.set_random_seed(0)
        xk = x.transpose(0, 2, 3, 1)
        y_eval = keras.ops.convert_to_numpy(m(xk, training=False))
        y_train = keras.ops.convert_to_numpy(m(xk, training=True))
    assert np.array_equal(y_eval, np.ones((50, 4000)))
    kept = y_train != 0
    # 200,000 draws: the dropped fraction is 0.3 within 5 standard deviations (0.005)
    assert abs(1 - kept.mean() - 0.3) < 0.005
    assert np.allclose(y_train[kept], 1 / 0.7)


@pytest.mark.parametrize("body, code, where", [
    ("[{conv: {filters: 4, kernel: 1}}, {multiply: {with: nope}}]", "unknown-tensor", "multiply"),
    ("[{conv: {filters: 4, kernel: 1}}, {channel_conv: {kernel: 3}}]", "shape-error", "channel_conv"),
    ("[{conv: {filters: 4, kernel: 1, name: a}}, global_avgpool, {multiply: {with: a}}]", "shape-mismatch",
     "multiply"),
])
def test_misuse_is_a_located_error(body, code, where):
    text = f"resdsl: 1\nname: bad\ninput: {{height: 8, width: 8, channels: 3}}\nstem: {body}\n"
    with pytest.raises(SpecError) as exc:
        resdsl.resolve(text)
    d = exc.value.diagnostics[0]
    assert d.code == code
    assert d.span.line == 4 and text.splitlines()[3][d.span.column - 1:].startswith(f"{{{where}")


def test_indexed_names_become_a_sequential_and_bad_ones_are_located():
    stem = ("[{conv: {filters: 4, kernel: 3, name: c.0}}, {norm: {name: c.1}}, {act: {name: c.2}}]")
    text = f"resdsl: 1\nname: idx\ninput: {{height: 8, width: 8, channels: 3}}\nstem: {stem}\n"
    m = resdsl.build(text, backend="torch")
    assert isinstance(m.c, torch.nn.Sequential) and len(m.c) == 3
    assert set(m.state_dict()) >= {"c.0.weight", "c.1.running_mean"}
    with pytest.raises(SpecError) as exc:
        resdsl.resolve(text.replace("name: c.1", "name: c..1"))
    assert exc.value.diagnostics[0].code == "bad-name"
    # 'c.x' is a valid dotted name, but torch cannot hold it beside c.0 and c.2 in one Sequential
    mixed = text.replace("name: c.1", "name: c.x")
    resdsl.resolve(mixed)
    with pytest.raises(SpecError, match="mix indices and names") as exc:
        resdsl.build(mixed, backend="torch")
    assert exc.value.diagnostics[0].code == "name-clash"


def test_avg_down_pools_only_where_the_shape_changes():
    text = ("resdsl: 1\nname: d\ninput: {height: 11, width: 11, channels: 3}\n"
            "stages:\n  - {block: basic, filters: 8, repeat: 2, shortcut: avg_down}\n"
            "  - {block: basic, filters: 8, repeat: 1, stride: 2, shortcut: avg_down}\n")
    r = resdsl.resolve(text)
    ops = {n: d["op"] for n, d in r.graph.nodes(data=True) if ".downsample." in n}
    # 3 -> 8 channels at stride 1: identity placeholder, conv, norm; no shortcut layers in layer1.1;
    # the strided block pools 11 -> 6 (ceil mode), as timm's ResNet-D
    assert ops == {"layer1.0.downsample.0": "identity", "layer1.0.downsample.1": "conv",
                   "layer1.0.downsample.2": "norm", "layer2.0.downsample.0": "avgpool",
                   "layer2.0.downsample.1": "conv", "layer2.0.downsample.2": "norm"}
    assert r.node("layer2.0.downsample.0")["shape"] == (8, 6, 6)


def test_drop_path_rates_follow_timm():
    timm = pytest.importorskip("timm")
    text = resdsl.load_spec("resnet50").source.text.replace("defaults:", "drop_path_rate: 0.1\ndefaults:")
    r = resdsl.resolve(text)
    reference = timm.create_model("resnet50", pretrained=False, drop_path_rate=0.1)
    for b in r.blocks:
        theirs = getattr(reference.get_submodule(b.name), "drop_path", None)  # None at rate 0
        node = f"{b.name}.drop_path"
        ours = r.node(node)["attrs"]["rate"] if node in r.graph else 0.0
        assert ours == pytest.approx(getattr(theirs, "drop_prob", 0.0), abs=1e-12), b.name
    assert r.node("layer4.2.drop_path")["attrs"]["rate"] == pytest.approx(0.1)
    # no node, and so the same IR as before, without stochastic depth
    assert not any(d["op"] == "drop_path" for _, d in resdsl.resolve("resnet50").graph.nodes(data=True))


DROP_PATH = """\
resdsl: 1
name: dp
input: {height: 2, width: 2, channels: 3}
drop_path_rate: 0.5
blocks:
  zero:
    main: [{conv: {filters: 3, kernel: 1, bias: true, init: torch_default}}]
    shortcut: identity
stages: [{block: zero, repeat: 2}]
"""


@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_drop_path_drops_whole_samples_in_training_only(backend):
    r = resdsl.resolve(DROP_PATH)
    # rates scale linearly over the blocks from 0, as timm's dpr list: the first block's path is never dropped
    assert r.node("layer1.0.drop_path")["attrs"]["rate"] == 0
    assert r.node("layer1.1.drop_path")["attrs"]["rate"] == 0.5
    m = resdsl.build(r, backend=backend)
    x = np.random.default_rng(0).normal(size=(4000, 3, 2, 2)).astype("float32")
    if backend == "torch":
        torch.manual_seed(0)
        with torch.no_grad():
            branch = m.layer1[1].conv1(torch.from_numpy(x)).numpy()
            y_eval = m.layer1[1].drop_path.eval()(torch.from_numpy(branch)).numpy()
            y_train = m.layer1[1].drop_path.train()(torch.from_numpy(branch)).numpy()
    else:
        keras.utils.set_random_seed(0)
        layer = resdsl.backends.keras.layer_map(m)["layer1.1.drop_path"]
        branch = np.random.default_rng(1).normal(size=(4000, 2, 2, 3)).astype("float32")
        y_eval = keras.ops.convert_to_numpy(layer(branch, training=False))
        y_train = keras.ops.convert_to_numpy(layer(branch, training=True))
    assert np.array_equal(y_eval, branch)
    flat_y, flat_b = y_train.reshape(4000, -1), branch.reshape(4000, -1)
    dropped = np.all(flat_y == 0, axis=1)
    assert abs(dropped.mean() - 0.5) < 0.04  # 4000 samples: 5 standard deviations
    assert np.allclose(flat_y[~dropped], flat_b[~dropped] / 0.5)
