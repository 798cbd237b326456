"""Expressions of a user block's parameters: `$filters * 4`, `($width + 1) // 2`,
`int($filters * $width / 64) * $groups`, `make_divisible($filters / 4)`.

A small parser of our own, never `eval`: numbers (integers and decimals),
`$name` references, `+`, `-`, `*`, `/` (true division), `//` (floor division),
parentheses, and the calls of `FUNCTIONS`, with Python's precedence and meaning,
so that an expression gives what the emitted Python gives. The parameters'
values may be symbolic (ir.expr), so the result keeps its text and the emitted
code reads `filters * 4` where the spec said `$filters * 4`.
"""
from __future__ import annotations

import re
from typing import Callable

from ..errors import HintedError
from .expr import call
from .rounding import make_divisible

# A pattern that `re` compiles (and caches) on first use: most specs have no expressions.
_TOKEN = r"\s*(?:(\d+\.\d*|\.\d+|\d+)|\$([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*)|(//|[-+*/(),])|(\S))"

# name -> (function, fewest and most arguments); what an expression may call. The
# emitted code calls them by the same names: Python's int, min, max, and
# ir/rounding.py's make_divisible, whose text the emitters copy.
FUNCTIONS: dict[str, tuple[Callable, int, int]] = {
    "int": (int, 1, 1),                       # toward zero, as Python's int()
    "min": (min, 2, 8),
    "max": (max, 2, 8),
    "make_divisible": (make_divisible, 1, 4),  # (v, divisor=8, min_value=0 (the divisor), round_limit=0.9): timm's
}
ALLOWED = "numbers, $parameters, + - * / // and parentheses, and " + ", ".join(f"{f}(...)" for f in FUNCTIONS)


class ExprError(HintedError, ValueError):
    """A malformed expression; `column` is the 0-based offset in its text."""

    def __init__(self, message: str, column: int, hint: str | None = None):
        super().__init__(message, hint)
        self.column = column


def evaluate(text: str, lookup: Callable[[str, int], object]):
    """The value of `text`; `lookup(name, column)` gives a parameter's value (or raises)."""
    tokens = []
    for m in re.finditer(_TOKEN, text):
        if m.group(5):
            raise ExprError(f"unexpected '{m.group(5)}' in the expression '{text}'", m.start(5), f"only {ALLOWED}")
        kind = ("num", "ref", "name", "op")[m.lastindex - 1]
        tokens.append((kind, m.group(m.lastindex), m.start(m.lastindex)))
    parser = _Parser(text, tokens, lookup)
    value = parser.expr()
    if parser.pos < len(tokens):
        raise ExprError(f"unexpected '{tokens[parser.pos][1]}' in the expression '{text}'", tokens[parser.pos][2])
    return value


class _Parser:
    def __init__(self, text, tokens, lookup):
        self.text, self.tokens, self.lookup, self.pos = text, tokens, lookup, 0

    def _peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None, len(self.text))

    def _op(self, *ops) -> bool:
        kind, tok, _ = self._peek()
        return kind == "op" and tok in ops

    def expr(self):
        value = self.term()
        while self._op("+", "-"):
            op = self.tokens[self.pos][1]
            self.pos += 1
            right = self.term()
            value = value + right if op == "+" else value - right
        return value

    def term(self):
        value = self.factor()
        while self._op("*", "/", "//"):
            _, op, col = self.tokens[self.pos]
            self.pos += 1
            right = self.factor()
            if op == "*":
                value = value * right
            elif right == 0:
                raise ExprError(f"division by zero in the expression '{self.text}'", col)
            else:
                value = value / right if op == "/" else value // right
        return value

    def factor(self):
        kind, tok, col = self._peek()
        if kind is None:
            raise ExprError(f"the expression '{self.text}' ends too early", col)
        self.pos += 1
        if kind == "num":
            return float(tok) if "." in tok else int(tok)
        if kind == "ref":
            return self.lookup(tok, col)
        if kind == "name":
            return self._call(tok, col)
        if tok == "(":
            value = self.expr()
            self._expect(")")
            return value
        if tok == "-":
            return 0 - self.factor()
        raise ExprError(f"unexpected '{tok}' in the expression '{self.text}'", col)

    def _expect(self, op: str) -> None:
        if not self._op(op):
            raise ExprError(f"missing '{op}' in the expression '{self.text}'", self._peek()[2])
        self.pos += 1

    def _call(self, name: str, col: int):
        if name not in FUNCTIONS:
            raise ExprError(f"unknown name '{name}' in the expression '{self.text}'", col,
                            f"parameters are written `${name}`; the functions are {', '.join(FUNCTIONS)}")
        fn, least, most = FUNCTIONS[name]
        self._expect("(")
        args = [self.expr()]
        while self._op(","):
            self.pos += 1
            args.append(self.expr())
        self._expect(")")
        if not least <= len(args) <= most:
            want = str(least) if least == most else f"{least} to {most}"
            raise ExprError(f"{name}() takes {want} arguments, got {len(args)}, in the expression '{self.text}'", col)
        return call(name, fn, args)
