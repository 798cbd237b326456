"""The JSON Schema agrees with the loader: what one accepts, the other accepts."""
import copy

import pytest

import resdsl
from resdsl.spec import shipped_names
from resdsl.spec.schema import json_schema
from resdsl.spec.yamlload import load_yaml

jsonschema = pytest.importorskip("jsonschema")
VALIDATOR = jsonschema.Draft202012Validator(json_schema())


@pytest.mark.parametrize("name", shipped_names())
def test_every_shipped_spec_satisfies_the_schema(name):
    data, _ = load_yaml(resdsl.spec.shipped_path(name).read_text(), name)
    if "extends" in data:  # a derived spec leaves keys to its parent (resnet200d only its input size): check
        data = resdsl.load_spec(name).data  # what it resolves to
        assert "extends" not in data and "input" in data
    errors = sorted(VALIDATOR.iter_errors(data), key=str)
    assert not errors, errors[0].message


def test_short_forms_are_in_the_schema():
    data, _ = load_yaml(resdsl.spec.shipped_path("cifar10_resnet30").read_text())
    assert "norm" in data["stem"] and "act" in data["stem"]  # the spec uses bare layers
    variant = copy.deepcopy(data)
    variant["stem"][1] = {"act": "relu"}
    variant["stem"].append({"norm": None})
    assert not list(VALIDATOR.iter_errors(variant))
    import yaml
    assert resdsl.resolve(yaml.safe_dump(variant)).params > 0  # and the loader agrees


@pytest.mark.parametrize("mutate", [
    lambda d: d.update(nmae="x"),
    lambda d: d["stages"][0].update(filter=3),
    lambda d: d["stem"].append("convv"),
    lambda d: d["stem"].append({"conv": {"filters": 8, "kernal": 3}}),
    lambda d: d["stages"][0].update(shortcut="projecton"),
    lambda d: d.update(resdsl=2),
])
def test_schema_rejects_what_the_loader_rejects(mutate):
    import yaml
    data, _ = load_yaml(resdsl.spec.shipped_path("cifar_resnet20").read_text())
    mutate(data)
    assert list(VALIDATOR.iter_errors(data))
    with pytest.raises(resdsl.SpecError):
        resdsl.load_spec(yaml.safe_dump(data))
