"""The IR's attribute classes share one __init__, repr, eq, hash and frozen
setattr (resdsl.ir.attrs): they must behave as the methods dataclass(frozen=True)
would generate."""
import copy
import dataclasses
import inspect
import pickle

import pytest

from resdsl.ir import attrs as A
from resdsl.ir.expr import sym

CLASSES = [c for _, c in inspect.getmembers(A, inspect.isclass)
           if issubclass(c, A.Attrs) and c is not A.Attrs and dataclasses.is_dataclass(c)]


def _reference(cls):
    """The same fields, as a plain frozen dataclass with generated methods."""
    ref = dataclasses.make_dataclass(cls.__name__, [(f.name, f.type, f) for f in dataclasses.fields(cls)],
                                     frozen=True)
    ref.__qualname__ = cls.__qualname__
    return ref


def _samples(cls):
    """Two sets of values per class: the defaults (or simple values), and others."""
    first, second = {}, {}
    for i, f in enumerate(dataclasses.fields(cls)):
        base = f.default if f.default is not dataclasses.MISSING else i + 1
        if isinstance(base, bool):
            other = not base
        elif isinstance(base, (int, float)):
            other = base + 1
        elif isinstance(base, str):
            other = base + "_x"
        elif isinstance(base, tuple):
            other = tuple(v + 1 for v in base)
        else:
            other = (1, 2, 3, 4)
        first[f.name], second[f.name] = base, other
    return first, second


def test_every_attrs_class_is_covered():
    assert len(CLASSES) >= 14 and A.ConvAttrs in CLASSES and A.NoAttrs in CLASSES


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_repr_eq_hash_match_generated_dataclass(cls):
    ref = _reference(cls)
    first, second = _samples(cls)
    for values in (first, second):
        a, r = cls(**values), ref(**values)
        assert repr(a) == repr(r)
        assert hash(a) == hash(r)
        assert a == cls(**values) and not (a != cls(**values))
        assert hash(a) == hash(cls(**values))
    if first:
        assert cls(**first) != cls(**second)
        assert (cls(**first) == cls(**second)) == (ref(**first) == ref(**second))
    assert cls(**first).__eq__(object()) is NotImplemented
    assert cls(**first) != ref(**first)  # another class never compares equal, as with dataclass eq


def test_classes_with_equal_fields_differ():
    # The same field values in two classes are not equal (dataclass eq compares classes first) ...
    assert A.PadAttrs(padding=(1, 1, 1, 1)) != A.InputAttrs(shape=(1, 1, 1, 1))
    assert A.SubsampleAttrs(2) != A.ChannelConvAttrs(2)
    # ... but hash alike, as generated hashes do: the tuple of values
    assert hash(A.PadAttrs(padding=(1, 1, 1, 1))) == hash(A.InputAttrs(shape=(1, 1, 1, 1)))
    assert A.NoAttrs() == A.NoAttrs() and hash(A.NoAttrs()) == hash(())
    assert A.RateAttrs(0.1) == A.RateAttrs(0.1)


def test_symbolic_values_compare_and_hash_as_their_numbers():
    a = A.ConvAttrs(filters=sym(64, "filters"), kernel=(3, 3), stride=(1, 1))
    b = A.ConvAttrs(filters=64, kernel=(3, 3), stride=(1, 1))
    assert a == b and hash(a) == hash(b) and repr(a) == repr(b)
    assert {a: 1}[b] == 1


def test_frozen_and_checked_as_before():
    a = A.ConvAttrs(filters=8, kernel=(1, 1), stride=(1, 1))
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.filters = 3
    with pytest.raises(TypeError):
        A.ConvAttrs(filters=8, kernel=(1, 1), stride=(1, 1), fliters=3)
    assert a.replace(filters=16) == A.ConvAttrs(filters=16, kernel=(1, 1), stride=(1, 1))
    assert dataclasses.replace(a, groups=2)["groups"] == 2
    assert A.NormAttrs().described() == {"type": "batchnorm", "eps": 1e-5, "momentum": 0.1, "gamma_init": "ones"}


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_init_matches_generated_dataclass(cls):
    ref = _reference(cls)
    first, second = _samples(cls)
    names = list(first)
    for values in (first, second):
        positional = [values[k] for k in names]
        for args, kwargs in ((positional, {}), ([], values), (positional[:1], {k: values[k] for k in names[1:]})):
            a, r = cls(*args, **kwargs), ref(*args, **kwargs)
            assert [(k, a[k]) for k in names] == [(f.name, getattr(r, f.name)) for f in dataclasses.fields(r)]
            assert list(vars(a)) == names and vars(a) == vars(r)
    required = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]
    defaults = {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}
    if required:  # a missing field
        assert vars(cls(**{k: first[k] for k in required})) == {**first, **defaults} | {k: first[k] for k in required}
        for make in (cls, ref):
            with pytest.raises(TypeError):
                make(**{k: first[k] for k in required[1:]})
    else:
        assert vars(cls()) == vars(ref()) == defaults
    for make in (cls, ref):
        with pytest.raises(TypeError):  # an unknown field: a misspelt attribute
            make(**first, no_such_field=1)
        with pytest.raises(TypeError):  # too many
            make(*[first[k] for k in names], 1)
        if names:
            with pytest.raises(TypeError):  # twice
                make(first[names[0]], **{names[0]: first[names[0]]})


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_frozen_copied_and_pickled_as_generated_dataclass(cls):
    a = cls(**_samples(cls)[1])
    for name in list(vars(a)) + ["other"]:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(a, name, 1)
        with pytest.raises(dataclasses.FrozenInstanceError):
            delattr(a, name)
    for b in (copy.copy(a), copy.deepcopy(a), pickle.loads(pickle.dumps(a))):
        assert b == a and hash(b) == hash(a) and repr(b) == repr(a) and type(b) is cls
    assert dataclasses.is_dataclass(a) and [f.name for f in dataclasses.fields(a)] == list(vars(a))
