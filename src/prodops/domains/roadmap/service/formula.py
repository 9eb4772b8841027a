"""Score formulas: a small arithmetic language, parsed by recursive descent and evaluated without ``eval``.

The language has numbers (``2``, ``0.5``, ``1e3``), input names (``reach``, ``job_size``), the operators
``+ - * / ^`` (``^`` is power, right-associative, binding tighter than unary minus), parentheses, the
comparisons ``< <= > >= == !=`` (1 when true, 0 when false, for ``if``) and the functions ``min(a, b, ...)``,
``max(a, b, ...)``, ``log(x)`` (natural; ``log(x, base)``), ``sqrt(x)`` and ``if(condition, then, else)``.
Nothing else is accepted: there are no attributes, indexing, strings, keywords or other calls, and every
refusal names the character position (1-based) where the formula went wrong.

A parsed formula is compiled to nested Python closures over the input values, so ranking thousands of
features evaluates it without walking the syntax tree again. A value that cannot be computed (division by
zero, the logarithm of a non-positive number, an overflow, a missing input) makes the score ``None``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

MAX_LENGTH = 1000
MAX_DEPTH = 40
FUNCTIONS: dict[str, tuple[int, int]] = {"min": (1, 20), "max": (1, 20), "log": (1, 2), "sqrt": (1, 1), "if": (3, 3)}
"""Function name → (fewest, most) arguments."""
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_OPERATORS = ("<=", ">=", "==", "!=", "<", ">", "+", "-", "*", "/", "^", "(", ")", ",")
_COMPARE = {"<", "<=", ">", ">=", "==", "!="}

Values = Mapping[str, float | None]
Compiled = Callable[[Values], float]


class FormulaError(ValueError):
    """A formula that cannot be accepted; ``position`` is the 1-based character where the problem is."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at position {position}")
        self.message = message
        self.position = position


class _Undefined(Exception):
    """The value cannot be computed for these inputs (caught by :meth:`Formula.evaluate`)."""


@dataclass(frozen=True)
class _Token:
    kind: str  # "number", "name", "op", "end"
    text: str
    position: int  # 1-based


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
            continue
        number = _NUMBER.match(text, i)
        if number:
            found.append(_Token("number", number.group(), i + 1))
            i = number.end()
            if i < len(text) and (text[i].isalpha() or text[i] == "_"):
                raise FormulaError(f"a number cannot run into a name ({text[number.start() : i + 1]!r})", i + 1)
            continue
        name = NAME.match(text, i)
        if name:
            found.append(_Token("name", name.group(), i + 1))
            i = name.end()
            continue
        op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
        if op is None:
            shown = "'.' (attributes are not allowed)" if ch == "." else repr(ch)
            raise FormulaError(f"unexpected character {shown}", i + 1)
        found.append(_Token("op", op, i + 1))
        i += len(op)
    found.append(_Token("end", "", len(text) + 1))
    return found


@dataclass
class _Parser:
    tokens: list[_Token]
    names: frozenset[str] | None
    used: set[str] = field(default_factory=set)
    at: int = 0
    depth: int = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.at]

    def take(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def expect(self, text: str) -> _Token:
        token = self.current
        if token.kind != "op" or token.text != text:
            raise FormulaError(f"expected '{text}' but found {_describe(token)}", token.position)
        return self.take()

    def deeper(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FormulaError(f"the formula nests deeper than {MAX_DEPTH} levels", token.position)

    # comparison := sum (cmp sum)?
    def comparison(self) -> Compiled:
        left = self.sum()
        token = self.current
        if token.kind == "op" and token.text in _COMPARE:
            self.take()
            right = self.sum()
            return _compare(token.text, left, right)
        return left

    # sum := product (('+' | '-') product)*
    def sum(self) -> Compiled:
        first = self.product()
        rest: list[tuple[str, Compiled]] = []
        while self.current.kind == "op" and self.current.text in ("+", "-"):
            op = self.take().text
            rest.append((op, self.product()))
        return _chain(first, rest) if rest else first

    # product := unary (('*' | '/') unary)*
    def product(self) -> Compiled:
        first = self.unary()
        rest: list[tuple[str, Compiled]] = []
        while self.current.kind == "op" and self.current.text in ("*", "/"):
            op = self.take().text
            rest.append((op, self.unary()))
        return _chain(first, rest) if rest else first

    # unary := ('-' | '+') unary | power
    def unary(self) -> Compiled:
        token = self.current
        if token.kind == "op" and token.text in ("-", "+"):
            self.take()
            self.deeper(token)
            operand = self.unary()
            self.depth -= 1
            if token.text == "+":
                return operand
            return lambda v: -operand(v)
        return self.power()

    # power := atom ('^' unary)?     (right-associative; -2^2 is -(2^2), 2^-1 is allowed)
    def power(self) -> Compiled:
        base = self.atom()
        token = self.current
        if token.kind == "op" and token.text == "^":
            self.take()
            self.deeper(token)
            exponent = self.unary()
            self.depth -= 1
            return _binary("^", base, exponent)
        return base

    # atom := number | name | name '(' args ')' | '(' comparison ')'
    def atom(self) -> Compiled:
        token = self.take()
        if token.kind == "number":
            try:
                value = float(token.text)
            except (ValueError, OverflowError) as exc:  # pragma: no cover - the pattern only matches numbers
                raise FormulaError(f"{token.text!r} is not a number", token.position) from exc
            if not math.isfinite(value):
                raise FormulaError(f"{token.text} is too large", token.position)
            return lambda v: value
        if token.kind == "name":
            if self.current.kind == "op" and self.current.text == "(":
                return self.call(token)
            if token.text in FUNCTIONS:
                raise FormulaError(f"'{token.text}' is a function: write {token.text}(...)", token.position)
            if self.names is not None and token.text not in self.names:
                known = ", ".join(sorted(self.names)) or "none"
                raise FormulaError(f"unknown input '{token.text}' (inputs: {known})", token.position)
            self.used.add(token.text)
            key = token.text
            return lambda v: _input(v, key)
        if token.kind == "op" and token.text == "(":
            self.deeper(token)
            inner = self.comparison()
            self.depth -= 1
            self.expect(")")
            return inner
        raise FormulaError(f"expected a number, an input or '(' but found {_describe(token)}", token.position)

    def call(self, name: _Token) -> Compiled:
        if name.text not in FUNCTIONS:
            allowed = ", ".join(sorted(FUNCTIONS))
            raise FormulaError(f"unknown function '{name.text}' (functions: {allowed})", name.position)
        self.expect("(")
        self.deeper(name)
        args: list[Compiled] = []
        if not (self.current.kind == "op" and self.current.text == ")"):
            args.append(self.comparison())
            while self.current.kind == "op" and self.current.text == ",":
                self.take()
                args.append(self.comparison())
        self.expect(")")
        self.depth -= 1
        fewest, most = FUNCTIONS[name.text]
        if not fewest <= len(args) <= most:
            wanted = str(fewest) if fewest == most else f"{fewest} to {most}"
            raise FormulaError(f"{name.text}() takes {wanted} arguments, not {len(args)}", name.position)
        return _function(name.text, args)


def _describe(token: _Token) -> str:
    return "the end of the formula" if token.kind == "end" else f"'{token.text}'"


def _input(values: Values, key: str) -> float:
    value = values.get(key)
    if value is None:
        raise _Undefined(key)
    return float(value)


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise _Undefined("overflow")
    return value


def _binary(op: str, left: Compiled, right: Compiled) -> Compiled:
    apply = _APPLY[op]
    return lambda v: apply(left(v), right(v))


def _chain(first: Compiled, rest: list[tuple[str, Compiled]]) -> Compiled:
    """``a + b - c`` (or ``a * b / c``) left to right in a loop, so a long sum never nests calls."""
    steps = [(_APPLY[op], operand) for op, operand in rest]

    def run(v: Values) -> float:
        value = first(v)
        for apply, operand in steps:
            value = apply(value, operand(v))
        return value

    return run


def _divide(a: float, b: float) -> float:
    if b == 0:
        raise _Undefined("division by zero")
    return _finite(a / b)


def _power(a: float, b: float) -> float:
    try:
        result = math.pow(a, b)
    except (OverflowError, ValueError) as exc:  # 10^400; (-8)^0.5
        raise _Undefined("power") from exc
    return _finite(result)


_APPLY: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: _finite(a + b),
    "-": lambda a, b: _finite(a - b),
    "*": lambda a, b: _finite(a * b),
    "/": _divide,
    "^": _power,
}


def _compare(op: str, left: Compiled, right: Compiled) -> Compiled:
    tests: dict[str, Callable[[float, float], bool]] = {
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
        "==": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
    }
    test = tests[op]
    return lambda v: 1.0 if test(left(v), right(v)) else 0.0


def _log(x: float, base: float | None = None) -> float:
    if x <= 0 or (base is not None and (base <= 0 or base == 1)):
        raise _Undefined("log")
    return math.log(x) if base is None else math.log(x, base)


def _sqrt(x: float) -> float:
    if x < 0:
        raise _Undefined("sqrt")
    return math.sqrt(x)


def _function(name: str, args: list[Compiled]) -> Compiled:
    if name == "min":
        return lambda v: min(a(v) for a in args)
    if name == "max":
        return lambda v: max(a(v) for a in args)
    if name == "sqrt":
        (x,) = args
        return lambda v: _sqrt(x(v))
    if name == "log":
        if len(args) == 1:
            (x,) = args
            return lambda v: _log(x(v))
        x, base = args
        return lambda v: _log(x(v), base(v))
    condition, then, otherwise = args  # if: only the chosen branch is evaluated
    return lambda v: then(v) if condition(v) != 0 else otherwise(v)


@dataclass(frozen=True)
class Formula:
    """A parsed formula: its text, the inputs it uses, and its compiled form."""

    text: str
    names: frozenset[str]
    _compiled: Compiled = field(repr=False, compare=False)

    def evaluate(self, values: Values) -> float | None:
        """The formula's value for these inputs, or None when it cannot be computed (a missing input, division
        by zero, the logarithm or square root of an out-of-range number, an overflow)."""
        try:
            result = self._compiled(values)
        except (_Undefined, OverflowError, ZeroDivisionError, ValueError):
            return None
        return result if math.isfinite(result) else None


def parse(text: str, names: set[str] | frozenset[str] | None = None) -> Formula:
    """Parse ``text``; with ``names``, every input used must be one of them. Raises :class:`FormulaError`."""
    if not isinstance(text, str):
        raise FormulaError("the formula must be text", 1)
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"the formula is longer than {MAX_LENGTH} characters", MAX_LENGTH + 1)
    if not text.strip():
        raise FormulaError("the formula is empty", 1)
    parser = _Parser(_tokens(text), frozenset(names) if names is not None else None)
    compiled = parser.comparison()
    token = parser.current
    if token.kind != "end":
        raise FormulaError(f"unexpected {_describe(token)}", token.position)
    return Formula(text, frozenset(parser.used), compiled)


def evaluate(text: str, values: Values) -> float | None:
    """Parse and evaluate in one call (for one-off use; rank with :func:`parse` once and ``evaluate`` many)."""
    return parse(text, set(values)).evaluate(values)
