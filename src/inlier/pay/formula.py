"""The arithmetic a pay line is computed with, evaluated exactly.

A formula is an expression over the names of a line's ``inputs``: numbers, ``+ - * /``,
parentheses, ``min(a, b, ...)``, ``max(a, b, ...)`` and ``round(x)``. Every value is a
``Fraction`` (a JSON number ``1.25`` is exactly 5/4, never the float nearest it); ``round`` and
the final result round half away from zero to whole minor units. No ``eval``: a small
recursive-descent parser builds a tree, and only the tree is evaluated.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

Number = int | float | str | Decimal | Fraction

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(.))")
MAX_LENGTH = 2000


class FormulaError(ValueError):
    """The formula cannot be read, or names an input that is not there."""


def exact(value: Number) -> Fraction:
    """The exact value of an input: floats by their shortest decimal spelling (1.1 is 11/10)."""
    if isinstance(value, bool):
        raise FormulaError("an input is a boolean, not a number")
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise FormulaError("an input is not a finite number")
        return Fraction(Decimal(repr(value)))
    if isinstance(value, Decimal | str):
        try:
            return Fraction(Decimal(value))
        except (ArithmeticError, ValueError) as exc:
            raise FormulaError(f"{value!r} is not a number") from exc
    raise FormulaError(f"{value!r} is not a number")


def round_half_up(value: Fraction) -> int:
    """To the nearest integer; halves go away from zero (2.5 → 3, -2.5 → -3)."""
    sign = -1 if value < 0 else 1
    magnitude = abs(value)
    return sign * int((magnitude * 2 + 1) // 2)


@dataclass(frozen=True)
class Node:
    op: str  # "num" | "name" | "neg" | "+" | "-" | "*" | "/" | "min" | "max" | "round"
    args: tuple[Node, ...] = ()
    value: Fraction | None = None
    name: str | None = None


class _Parser:
    def __init__(self, text: str) -> None:
        if len(text) > MAX_LENGTH:
            raise FormulaError(f"a formula is at most {MAX_LENGTH} characters")
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                break
            pos = m.end()
            number, name, other = m.groups()
            if number is not None:
                self.tokens.append(("num", number))
            elif name is not None:
                self.tokens.append(("name", name))
            elif other is not None and not other.isspace():
                if other not in "+-*/(),":
                    raise FormulaError(f"unexpected character {other!r}")
                self.tokens.append(("op", other))
        self.i = 0
        self.depth = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, op: str) -> bool:
        tok = self.peek()
        if tok == ("op", op):
            self.i += 1
            return True
        return False

    def expect(self, op: str) -> None:
        if not self.take(op):
            raise FormulaError(f"expected {op!r}")

    def parse(self) -> Node:
        if not self.tokens:
            raise FormulaError("the formula is empty")
        node = self.expr()
        if self.peek() is not None:
            raise FormulaError(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return node

    def expr(self) -> Node:
        node = self.term()
        while True:
            if self.take("+"):
                node = Node("+", (node, self.term()))
            elif self.take("-"):
                node = Node("-", (node, self.term()))
            else:
                return node

    def term(self) -> Node:
        node = self.unary()
        while True:
            if self.take("*"):
                node = Node("*", (node, self.unary()))
            elif self.take("/"):
                node = Node("/", (node, self.unary()))
            else:
                return node

    def unary(self) -> Node:
        if self.take("-"):
            return Node("neg", (self.unary(),))
        if self.take("+"):
            return self.unary()
        return self.atom()

    def atom(self) -> Node:
        self.depth += 1
        if self.depth > 100:
            raise FormulaError("the formula nests too deeply")
        try:
            tok = self.peek()
            if tok is None:
                raise FormulaError("the formula ends too early")
            kind, text = tok
            if kind == "num":
                self.i += 1
                return Node("num", value=Fraction(Decimal(text)))
            if kind == "name":
                self.i += 1
                if text in ("min", "max", "round") and self.take("("):
                    args = [self.expr()]
                    while self.take(","):
                        args.append(self.expr())
                    self.expect(")")
                    if text == "round" and len(args) != 1:
                        raise FormulaError("round takes one argument")
                    return Node(text, tuple(args))
                return Node("name", name=text)
            if self.take("("):
                node = self.expr()
                self.expect(")")
                return node
            raise FormulaError(f"unexpected {text!r}")
        finally:
            self.depth -= 1


@lru_cache(maxsize=256)
def parse(formula: str) -> Node:
    return _Parser(formula).parse()


def names(formula: str) -> set[str]:
    """The input names a formula reads."""
    found: set[str] = set()

    def walk(node: Node) -> None:
        if node.op == "name" and node.name is not None:
            found.add(node.name)
        for arg in node.args:
            walk(arg)

    walk(parse(formula))
    return found


_BINARY: dict[str, Callable[[Fraction, Fraction], Fraction]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
}


def _eval(node: Node, env: Mapping[str, Fraction]) -> Fraction:
    op = node.op
    if op == "num":
        assert node.value is not None
        return node.value
    if op == "name":
        assert node.name is not None
        if node.name not in env:
            raise FormulaError(f"no input named {node.name!r}")
        return env[node.name]
    vals = [_eval(a, env) for a in node.args]
    if op == "neg":
        return -vals[0]
    if op in _BINARY:
        return _BINARY[op](vals[0], vals[1])
    if op == "/":
        if vals[1] == 0:
            raise FormulaError("division by zero")
        return vals[0] / vals[1]
    if op == "min":
        return min(vals)
    if op == "max":
        return max(vals)
    if op == "round":
        return Fraction(round_half_up(vals[0]))
    raise FormulaError(f"unknown operation {op!r}")  # pragma: no cover


def value(formula: str, inputs: Mapping[str, Number]) -> Fraction:
    """The exact value of ``formula`` over ``inputs``, before the final rounding."""
    env = {k: exact(v) for k, v in inputs.items()}
    return _eval(parse(formula), env)


def evaluate(formula: str, inputs: Mapping[str, Number]) -> int:
    """The amount in minor units: the exact value, rounded half up once."""
    return round_half_up(value(formula, inputs))
