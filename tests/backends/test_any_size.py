"""Any input size where the network allows it: the Keras build takes
(None, None, C) inputs when every layer does (as keras.applications with
include_top=False), the spec's fixed size when a flatten feeds a dense layer;
both frameworks give equal outputs at odd sizes after porting."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")

import resdsl

FIXED = """\
resdsl: 1
name: fixed
input: {height: 12, width: 12, channels: 3}
stem: [{conv: {filters: 4, kernel: 3, stride: 2, padding: 1}}, norm, act]
head: [flatten, {dense: {units: 3}}]
"""


@pytest.fixture(scope="module")
def pair(randomise_norms):
    r = resdsl.resolve("cifar_resnet20")
    t = resdsl.build(r, backend="torch").eval()
    randomise_norms(t)
    k = resdsl.build(r, backend="keras")
    resdsl.port_weights(t, k)
    return t, k


def test_keras_input_is_any_size_for_a_global_pool_head(pair):
    assert pair[1].input_shape == (None, None, None, 3)
    assert resdsl.resolve("cifar_resnet20").allows_any_input_size()


@pytest.mark.parametrize("h, w", [(32, 32), (97, 131), (17, 23), (8, 8)])
def test_both_frameworks_agree_at_several_sizes(pair, h, w):
    t, k = pair
    x = np.random.default_rng(h * w).standard_normal((2, h, w, 3)).astype("float32")
    with torch.no_grad():
        a = t(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
    b = np.asarray(k(x, training=False))
    assert a.shape == b.shape == (2, 10)
    assert np.abs(a - b).max() <= 1e-4 * max(1.0, np.abs(a).max())


def test_keras_body_outputs_a_feature_map_of_any_size():
    k = resdsl.build("cifar_resnet20", backend="keras", include_top=False)
    y = k(np.zeros((1, 97, 131, 3), "float32"), training=False)
    r = resdsl.resolve("cifar_resnet20", include_top=False, input_size=(97, 131))
    c, h, w = r.output_shape
    assert tuple(y.shape) == (1, h, w, c) == (1, 25, 33, 64)


def test_flatten_then_dense_keeps_the_fixed_size():
    assert not resdsl.resolve(FIXED).allows_any_input_size()
    k = resdsl.build(FIXED, backend="keras")
    assert k.input_shape == (None, 12, 12, 3)
    with pytest.raises(ValueError):
        k(np.zeros((1, 16, 16, 3), "float32"))


def test_static_ir_reports_the_spec_size_and_another_on_request():
    r = resdsl.resolve("cifar_resnet20")
    assert r.input_shape == (3, 32, 32)
    odd = resdsl.resolve("cifar_resnet20", input_size=(97, 131))
    assert odd.node("layer3.2.conv2")["shape"] == (64, 25, 33)  # ceil(97/4), ceil(131/4)
    assert odd.params == r.params and odd.macs > r.macs


@pytest.mark.parametrize("pooling", ["avg", pytest.param("max", marks=pytest.mark.slow)])
def test_include_top_false_pooling_matches_keras_applications(pooling):
    # keras.applications' ResNet50 and resdsl's resnet50_keras are the same network
    app = keras.applications.ResNet50(weights=None, include_top=False, pooling=pooling, input_shape=(64, 64, 3))
    ours = resdsl.build("resnet50_keras", backend="keras", include_top=False, pooling=pooling)
    assert ours.count_params() == app.count_params()
    resdsl.port_weights(app, ours)
    x = np.random.default_rng(0).standard_normal((2, 64, 64, 3)).astype("float32")
    y, ref = np.asarray(ours(x, training=False)), np.asarray(app(x, training=False))
    assert y.shape == (2, 2048) and app.output_shape == (None, 2048)
    assert np.abs(y - ref).max() <= 1e-4 * np.abs(ref).max()
