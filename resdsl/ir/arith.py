"""Integer expressions of a user block's parameters: `$filters * 4`,
`($width + 1) // 2`.

A small parser of our own, never `eval`: integers, `$name` references, `+`,
`-`, `*`, `//` and parentheses, with Python's precedence. The parameters'
values may be symbolic (ir.expr), so the result keeps its text and the emitted
code reads `filters * 4` where the spec said `$filters * 4`.
"""
from __future__ import annotations

import re
from typing import Callable

from ..errors import HintedError

# A pattern that `re` compiles (and caches) on first use: most specs have no expressions.
_TOKEN = r"\s*(?:(\d+)|\$([A-Za-z_][A-Za-z0-9_]*)|(//|[-+*()])|(\S))"


class ExprError(HintedError, ValueError):
    """A malformed expression; `column` is the 0-based offset in its text."""

    def __init__(self, message: str, column: int, hint: str | None = None):
        super().__init__(message, hint)
        self.column = column


def evaluate(text: str, lookup: Callable[[str, int], object]):
    """The value of `text`; `lookup(name, column)` gives a parameter's value (or raises)."""
    tokens = []
    for m in re.finditer(_TOKEN, text):
        if m.group(4):
            hint = "only integers, $parameters, + - * // and parentheses" + (
                " (`/` would give fractions: use `//`)" if m.group(4) == "/" else "")
            raise ExprError(f"unexpected '{m.group(4)}' in the expression '{text}'", m.start(4), hint)
        kind = "int" if m.group(1) else "ref" if m.group(2) else "op"
        tokens.append((kind, m.group(1) or m.group(2) or m.group(3), m.start(m.lastindex)))
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

    def expr(self):
        value = self.term()
        while self._peek()[1] in ("+", "-") and self._peek()[0] == "op":
            op = self.tokens[self.pos][1]
            self.pos += 1
            right = self.term()
            value = value + right if op == "+" else value - right
        return value

    def term(self):
        value = self.factor()
        while self._peek()[1] in ("*", "//") and self._peek()[0] == "op":
            _, op, col = self.tokens[self.pos]
            self.pos += 1
            right = self.factor()
            if op == "*":
                value = value * right
            elif int(right) == 0:
                raise ExprError(f"division by zero in the expression '{self.text}'", col)
            else:
                value = value // right
        return value

    def factor(self):
        kind, tok, col = self._peek()
        if kind is None:
            raise ExprError(f"the expression '{self.text}' ends too early", col)
        self.pos += 1
        if kind == "int":
            return int(tok)
        if kind == "ref":
            return self.lookup(tok, col)
        if tok == "(":
            value = self.expr()
            if self._peek()[1] != ")":
                raise ExprError(f"missing ')' in the expression '{self.text}'", self._peek()[2])
            self.pos += 1
            return value
        if tok == "-":
            return 0 - self.factor()
        raise ExprError(f"unexpected '{tok}' in the expression '{self.text}'", col)
