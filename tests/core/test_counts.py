"""Static counts of shipped specs against the references, computed here from the
installed references (torchvision, keras.applications) or the paper's table."""
import pytest

import resdsl

TORCHVISION = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "wide_resnet50_2"]
KERAS_APPS = {"resnet50_keras": "ResNet50", "resnet101_keras": "ResNet101", "resnet152_keras": "ResNet152",
              "resnet50v2": "ResNet50V2", "resnet101v2": "ResNet101V2", "resnet152v2": "ResNet152V2"}


def torchvision_counts(name):
    torch = pytest.importorskip("torch")
    tvm = pytest.importorskip("torchvision.models")
    model = getattr(tvm, name)(weights=None).eval()
    macs = []

    def hook(mod, inp, out):
        if isinstance(mod, torch.nn.Conv2d):
            kh, kw = mod.kernel_size
            macs.append(out[0].numel() * kh * kw * mod.in_channels // mod.groups)
        else:
            macs.append(mod.in_features * mod.out_features)

    for m in model.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            m.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.zeros(1, 3, 224, 224))
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return params, sum(macs)


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_flavour_params_and_macs(name):
    params, macs = torchvision_counts(name)
    r = resdsl.resolve(name)
    assert (r.params, r.macs) == (params, macs)


def test_resnet50_figures_from_the_issue():
    # The issue quotes these; they must also be what torchvision gives (above).
    r = resdsl.resolve("resnet50")
    assert (r.params, r.macs) == (25_557_032, 4_089_184_256)


@pytest.mark.parametrize("name", [n if n.startswith("resnet50") else pytest.param(n, marks=pytest.mark.slow)
                                  for n in sorted(KERAS_APPS)])  # 101 and 152: the 50's blocks, more of them
def test_keras_applications_flavour_count_params(name, keras_apps):
    model = keras_apps(KERAS_APPS[name])
    r = resdsl.resolve(name)
    assert r.params + r.buffers == model.count_params()
    trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
    assert r.params == trainable


@pytest.fixture(scope="module")
def keras_apps():
    pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")

    def make(cls_name):
        keras.backend.clear_session()
        return getattr(keras.applications, cls_name)(weights=None)
    return make


# He et al. 2016, Table 6: parameters of the CIFAR-10 ResNets (option A shortcuts
# add none, so each plain twin has exactly as many).
PAPER = {20: 0.27, 32: 0.46, 44: 0.66, 56: 0.85, 110: 1.7, 1202: 19.4}


@pytest.mark.parametrize("depth", sorted(PAPER))
def test_cifar_resnets_match_the_paper(depth):
    r = resdsl.resolve(f"cifar_resnet{depth}")
    digits = 2 if PAPER[depth] < 1 else 1
    assert round(r.params / 1e6, digits) == PAPER[depth]
    convs = sum(1 for _, d in r.graph.nodes(data=True) if d["op"] == "conv")
    dense = sum(1 for _, d in r.graph.nodes(data=True) if d["op"] == "dense")
    assert convs + dense == depth  # "6n+2 layers"
    assert r.output_shape == (10,)


@pytest.mark.parametrize("depth", [20, 32, 44, 56])
def test_plain_twins_differ_only_in_shortcuts(depth):
    res, plain = resdsl.resolve(f"cifar_resnet{depth}"), resdsl.resolve(f"cifar_plain{depth}")
    assert plain.params == res.params and plain.macs == res.macs
    assert not any(d["op"] == "add" for _, d in plain.graph.nodes(data=True))
    assert sum(d["op"] == "add" for _, d in res.graph.nodes(data=True)) == 3 * (depth - 2) // 6


def test_article_000_net_has_30_conv_and_dense_layers():
    for name in ("cifar10_resnet30", "cifar10_plain30"):
        r = resdsl.resolve(name)
        ops = [d["op"] for _, d in r.graph.nodes(data=True)]
        # The article counts 30: the stem conv, 28 block convs and the dense layer;
        # the ResNet adds three 1x1 projection shortcuts, which the plain twin lacks.
        assert ops.count("conv") + ops.count("dense") == (33 if name.endswith("resnet30") else 30)
        assert r.output_shape == (10,)
