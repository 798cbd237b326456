"""Numbers that remember how they were computed, so a block's definition can be
written once with named parameters (`out = filters * expansion`) while lowering
still works with plain numbers.

A `Sym` is an int (a `SymF` a float) that also carries Python source text in
terms of the block's parameters. Lowering functions compute with them as with
ints — comparisons, `range`, shape checks all see the value — and the template
of a block keeps the text: `width = int(filters * (width_per_group / 64.0)) *
groups` is recorded once, as torchvision writes it, instead of being guessed
back from the numbers of each instance. Arithmetic with plain numbers keeps the
text; anything else (`%`, `**`, ...) falls back to a plain number.
"""
from __future__ import annotations

# Python's operator precedence, enough to parenthesise what we build.
_ATOM, _MUL, _ADD = 3, 2, 1


class _Symbolic:
    text: str
    prec: int

    def _bin(self, other, op: str, prec: int, reverse: bool = False):
        left, right = (other, self) if reverse else (self, other)
        value = _apply(_value(left), op, _value(right))
        # Python groups left to right, so a compound right operand of the same precedence
        # keeps its parentheses: a - (b - c), and a * (b / c), which rounds differently.
        text = f"{_wrap(left, prec)} {op} {_wrap(right, prec + 1)}"
        return sym(value, text, prec)

    def __add__(self, o):
        return self._bin(o, "+", _ADD) if _ok(o) else NotImplemented

    def __radd__(self, o):
        return self._bin(o, "+", _ADD, True) if _ok(o) else NotImplemented

    def __sub__(self, o):
        return self._bin(o, "-", _ADD) if _ok(o) else NotImplemented

    def __rsub__(self, o):
        return self._bin(o, "-", _ADD, True) if _ok(o) else NotImplemented

    def __mul__(self, o):
        return self._bin(o, "*", _MUL) if _ok(o) else NotImplemented

    def __rmul__(self, o):
        return self._bin(o, "*", _MUL, True) if _ok(o) else NotImplemented

    def __floordiv__(self, o):
        return self._bin(o, "//", _MUL) if _ok(o) else NotImplemented

    def __rfloordiv__(self, o):
        return self._bin(o, "//", _MUL, True) if _ok(o) else NotImplemented

    def __truediv__(self, o):
        return self._bin(o, "/", _MUL) if _ok(o) else NotImplemented

    def __rtruediv__(self, o):
        return self._bin(o, "/", _MUL, True) if _ok(o) else NotImplemented

    def __reduce__(self):  # pickles (and deep-copies) as the plain number
        return (type(_value(self)), (_value(self),))


class Sym(_Symbolic, int):
    def __new__(cls, value: int, text: str, prec: int = _ATOM):
        self = int.__new__(cls, value)
        self.text, self.prec = text, prec
        return self

    __repr__ = int.__repr__
    __str__ = int.__repr__
    __hash__ = int.__hash__
    __eq__ = int.__eq__


class SymF(_Symbolic, float):
    def __new__(cls, value: float, text: str, prec: int = _ATOM):
        self = float.__new__(cls, value)
        self.text, self.prec = text, prec
        return self

    __repr__ = float.__repr__
    __str__ = float.__repr__
    __hash__ = float.__hash__
    __eq__ = float.__eq__


class Ref:
    """A non-numeric value (a padding tuple, an activation name) that a block's
    definition takes as a parameter named `text`."""

    __slots__ = ("value", "text", "prec")

    def __init__(self, value, text: str):
        self.value, self.text, self.prec = value, text, _ATOM

    def __repr__(self):
        return f"Ref({self.value!r}, {self.text!r})"

    def __eq__(self, other):
        return isinstance(other, Ref) and (self.value, self.text) == (other.value, other.text)

    def __hash__(self):
        return hash((Ref, self.text))


def sym(value, text: str, prec: int = _ATOM):
    """A symbolic number of `value`'s type (bool stays a plain bool)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return Sym(value, text, prec)
    if isinstance(value, float):
        return SymF(value, text, prec)
    return value


def trunc(x):
    """`int(x)` that keeps the text (int() itself must return a plain int)."""
    return sym(int(_value(x)), f"int({text_of(x)})") if isinstance(x, _Symbolic) else int(x)


def call(name: str, fn, args: list):
    """`fn(*args)` on the plain values, keeping the text `name(a, b)` where an
    argument is symbolic (`int(filters * width / 64)`, `make_divisible(...)`)."""
    value = fn(*[_value(a) for a in args])
    if not any(isinstance(a, _Symbolic) for a in args):
        return value
    return sym(value, f"{name}({', '.join(text_of(a) for a in args)})")


def is_symbolic(v) -> bool:
    return isinstance(v, (_Symbolic, Ref))


def text_of(v) -> str:
    """Source text of a value: its expression, or the literal."""
    return v.text if isinstance(v, (_Symbolic, Ref)) else repr(v)


_PLAIN_TYPES = (int, float, str, bool, type(None))


def plain(v):
    """The value with every symbolic number made plain again (tuples, lists and dicts too)."""
    if type(v) in _PLAIN_TYPES:  # most values: exact type, so an int subclass (Sym) is not one
        return v
    if isinstance(v, _Symbolic):
        return _value(v)
    if isinstance(v, Ref):
        return v.value
    if isinstance(v, tuple):
        return tuple(plain(x) for x in v)
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    return v


def has_symbols(attrs: dict) -> bool:
    """Whether `plain(attrs)` could differ from `attrs`: a value, or an item of a
    tuple value, that is not of a plain type (anything unexpected counts)."""
    for v in attrs.values():
        if type(v) in _PLAIN_TYPES:
            continue
        if type(v) is not tuple or any(type(x) not in _PLAIN_TYPES for x in v):
            return True
    return False


def _ok(o) -> bool:
    return isinstance(o, (int, float)) and not isinstance(o, bool)


def _value(v):
    if isinstance(v, Sym):
        return int(v)
    if isinstance(v, SymF):
        return float(v)
    return v


def _apply(a, op: str, b):
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "//":
        return a // b
    return a / b


def _wrap(v, prec: int) -> str:
    if isinstance(v, _Symbolic):
        return f"({v.text})" if v.prec < prec else v.text
    return repr(v) if v >= 0 else f"({v!r})"
