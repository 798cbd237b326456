"""Feature extraction with the standard tools: torchvision's
create_feature_extractor traces a resdsl torch model by its structural names."""
import pytest

torch = pytest.importorskip("torch")
fx = pytest.importorskip("torchvision.models.feature_extraction")

import resdsl


def test_create_feature_extractor_on_a_resdsl_model():
    r = resdsl.resolve("resnet50", input_size=(64, 64))
    model = resdsl.build(r, backend="torch").eval()
    ext = fx.create_feature_extractor(model, {"layer2": "c3", "layer3": "c4", "layer4": "c5"})
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        feats = ext(x)
    outputs = {b.stage: b.output for b in r.blocks}  # the last block of each stage wins
    for key, stage in (("c3", "layer2"), ("c4", "layer3"), ("c5", "layer4")):
        assert tuple(feats[key].shape) == (2, *r.node(outputs[stage])["shape"])
    assert tuple(feats["c4"].shape) == (2, 1024, 4, 4)
    # the extractor is the same function as the model's trunk
    with torch.no_grad():
        body = resdsl.build(resdsl.resolve("resnet50", input_size=(64, 64), include_top=False),
                            backend="torch").eval()
        body.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("fc.")})
        assert torch.allclose(body(x), feats["c5"], atol=1e-5)
