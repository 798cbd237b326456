"""timm-style backbone API on built torch models, checked against timm's and
torchvision's own resnet50."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
timm = pytest.importorskip("timm")

import resdsl


@pytest.fixture(scope="module")
def pair(resolve_small):
    """Our resnet50 with timm's (random) weights: the same names as torchvision's."""
    torch.manual_seed(0)
    ours = resdsl.build(resolve_small("resnet50", 64)).eval()
    theirs = timm.create_model("resnet50", pretrained=False).eval()
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs, torch.randn(2, 3, 64, 64)


def test_feature_info_matches_timm(pair):
    ours, theirs, _ = pair
    stages = [info for info in theirs.feature_info if info["module"].startswith("layer")]
    assert ours.feature_info == [{k: info[k] for k in ("module", "num_chs", "reduction")} for info in stages]
    assert (ours.num_features, ours.num_classes, ours.inplanes) == (theirs.num_features, theirs.num_classes, 2048)


def test_forward_features_and_head_match_timm(pair):
    ours, theirs, x = pair
    with torch.no_grad():
        f = ours.forward_features(x)
        torch.testing.assert_close(f, theirs.forward_features(x))
        torch.testing.assert_close(ours.forward_head(f), ours(x))
        torch.testing.assert_close(ours.forward_head(f, pre_logits=True), theirs.forward_head(f, pre_logits=True))


def test_reset_classifier(resolve_small):
    model = resdsl.build(resolve_small("resnet50", 64)).eval()
    x = torch.randn(2, 3, 64, 64)
    model.reset_classifier(5)
    assert model(x).shape == (2, 5) and model.num_classes == 5 and model.get_classifier().out_features == 5
    model.reset_classifier(0)
    assert model(x).shape == (2, 2048) and model.num_classes == 0


def test_reset_classifier_keeps_a_built_in_activation(resolve_small):
    model = resdsl.build(resolve_small("resnet50_keras", 64)).eval()  # dense with softmax
    model.reset_classifier(4)
    with torch.no_grad():
        y = model(torch.randn(2, 3, 64, 64))
    assert y.shape == (2, 4)
    torch.testing.assert_close(y.sum(1), torch.ones(2))


def test_torchvision_fpn_extractor(resolve_small):
    from torchvision.models import resnet50
    from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
    x = torch.randn(1, 3, 64, 64)
    shapes = []
    for model in (resdsl.build(resolve_small("resnet50", 64)), resnet50()):
        fpn = _resnet_fpn_extractor(model, 3).eval()
        with torch.no_grad():
            shapes.append({k: tuple(v.shape) for k, v in fpn(x).items()})
    assert shapes[0] == shapes[1] and len(shapes[0]) == 5
