"""OData `$filter` parsing for the four dialects the sandbox serves.

* `Dialect.CV4`: Contract Version 4 (OData 3.0): `substringof`, typed literals `datetimeoffset'...'`.
* `Dialect.CV5`: Contract Version 5 (OData 4.01): `contains`, bare date-time and GUID literals.
* `Dialect.GI`: generic inquiries over OData v4: same syntax as CV5.
* `Dialect.DAC`: the DAC-based OData v4 interface: same syntax as CV5, on stored values.

Using one dialect's syntax on the other is an error, as on the real server; that mix-up is the most common client
bug, so the messages say which form to use. Strings compare case-insensitively (SQL Server's default collation).
A compiled filter also reports the last-modified range it implies, so the store can answer it from its index.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any


class Dialect(Enum):
    CV4 = "OData 3.0 (Contract Version 4)"
    CV5 = "OData 4.01 (Contract Version 5)"
    GI = "OData 4.0 (generic inquiries)"
    DAC = "OData 4.0 (DAC-based)"


class FilterError(ValueError):
    """A `$filter` that cannot be parsed or does not fit the entity; the message names the position and token."""


@dataclass(frozen=True)
class Column:
    """A filterable field: its kind (string, number, boolean, datetime, guid) and how to read it from a row."""

    kind: str
    get: Callable[[Any], Any]
    aliases: Mapping[str, str] = field(default_factory=dict)
    indexed: bool = False


Resolver = Callable[[str], Column | None]


@dataclass(frozen=True)
class TimeRange:
    """Bounds in epoch milliseconds; None means unbounded."""

    low: int | None = None
    low_inclusive: bool = True
    high: int | None = None
    high_inclusive: bool = True

    def contains(self, ms: int) -> bool:
        if self.low is not None and (ms < self.low or (ms == self.low and not self.low_inclusive)):
            return False
        return not (self.high is not None and (ms > self.high or (ms == self.high and not self.high_inclusive)))

    def intersect(self, other: TimeRange) -> TimeRange:
        low, low_inc = _tighter(self.low, self.low_inclusive, other.low, other.low_inclusive, max)
        high, high_inc = _tighter(self.high, self.high_inclusive, other.high, other.high_inclusive, min)
        return TimeRange(low, low_inc, high, high_inc)


def _tighter(
    a: int | None, a_inc: bool, b: int | None, b_inc: bool, pick: Callable[[int, int], int]
) -> tuple[int | None, bool]:
    if a is None:
        return b, b_inc
    if b is None or a == b:
        return a, a_inc and (b_inc if b is not None else True)
    return (a, a_inc) if pick(a, b) == a else (b, b_inc)


@dataclass(frozen=True)
class CompiledFilter:
    """`matches(row)` evaluates the whole filter; `time_range` is implied by top-level `and` conjuncts."""

    text: str
    matches: Callable[[Any], bool]
    time_range: TimeRange | None
    residual: bool


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_PLUS_HINT = "a '+' in a URL query decodes to a space: encode it as %2B"
_DATE_RE = re.compile(
    r"(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?)(Z|z|[+-]\d{2}:\d{2})?)?(?![\w:.-])"
)
_SPACED_OFFSET_RE = re.compile(r" \d{2}:\d{2}")
_GUID_RE = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![\w-])")
_NUMBER_RE = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?[mMdDfFlL]?")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*")
_TYPED_PREFIXES = ("datetimeoffset", "datetime", "date", "guid")
_COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}
_OP_NAMES = {
    "eq": "Equal",
    "ne": "NotEqual",
    "gt": "GreaterThan",
    "ge": "GreaterThanOrEqual",
    "lt": "LessThan",
    "le": "LessThanOrEqual",
}
_EDM = {
    "string": "Edm.String",
    "number": "Edm.Decimal",
    "boolean": "Edm.Boolean",
    "datetime": "Edm.DateTimeOffset",
    "guid": "Edm.Guid",
}


@dataclass(frozen=True)
class _Token:
    kind: str
    value: Any
    pos: int
    text: str


class _Lexer:
    def __init__(self, text: str, dialect: Dialect) -> None:
        self.text = text
        self.dialect = dialect

    def error(self, pos: int, detail: str) -> FilterError:
        return FilterError(f"Syntax error at position {pos} in '{self.text}': {detail}.")

    def tokens(self) -> list[_Token]:
        out: list[_Token] = []
        pos = 0
        while pos < len(self.text):
            char = self.text[pos]
            if char.isspace():
                pos += 1
                continue
            token = self._next(pos, char)
            out.append(token)
            pos += len(token.text)
        out.append(_Token("end", None, len(self.text), ""))
        return out

    def _next(self, pos: int, char: str) -> _Token:
        if char in "(),":
            return _Token(char, char, pos, char)
        if char == "'":
            value, end = self._string(pos)
            return _Token("string", value, pos, self.text[pos:end])
        guid = _GUID_RE.match(self.text, pos) if self.dialect is not Dialect.CV4 else None
        if guid is not None:
            return _Token("guid", guid.group(0).lower(), pos, guid.group(0))
        if char.isdigit() or (char == "-" and self.text[pos + 1 : pos + 2].isdigit()):
            return self._numeric(pos)
        match = _NAME_RE.match(self.text, pos)
        if match is None:
            raise self.error(pos, f"unexpected character '{char}'")
        name = match.group(0)
        if self.text[match.end() : match.end() + 1] == "'" and name.lower() in _TYPED_PREFIXES:
            return self._typed(pos, name, match.end())
        return _Token("name", name, pos, name)

    def _string(self, pos: int) -> tuple[str, int]:
        chars: list[str] = []
        i = pos + 1
        while i < len(self.text):
            if self.text[i] == "'":
                if self.text[i + 1 : i + 2] == "'":
                    chars.append("'")
                    i += 2
                    continue
                return "".join(chars), i + 1
            chars.append(self.text[i])
            i += 1
        raise self.error(pos, "unterminated string literal (quotes inside a literal are doubled: '')")

    def _numeric(self, pos: int) -> _Token:
        date = _DATE_RE.match(self.text, pos)
        if date is not None:
            return self._bare_datetime(pos, date)
        number = _NUMBER_RE.match(self.text, pos)
        if number is None:
            raise self.error(pos, f"invalid number '{self.text[pos : pos + 10]}'")
        raw = number.group(0)
        digits = raw.rstrip("mMdDfFlL")
        is_decimal = number.group(1) is not None or number.group(2) is not None
        value: float | int = float(digits) if is_decimal else int(digits)
        return _Token("number", value, pos, raw)

    def _bare_datetime(self, pos: int, match: re.Match[str]) -> _Token:
        raw = match.group(0)
        if self.dialect is Dialect.CV4:
            raise self.error(
                pos,
                f"bare date-time literal '{raw}' is OData 4 syntax; Contract Version 4 expects datetimeoffset'{raw}'",
            )
        if match.group(2) is not None and match.group(3) is None and _SPACED_OFFSET_RE.match(self.text, match.end()):
            raise self.error(pos, f"date-time literal '{raw}' is followed by a space and an offset; {_PLUS_HINT}")
        return _Token("datetime", _parse_datetime(raw, lambda d: self.error(pos, d)), pos, raw)

    def _typed(self, pos: int, prefix: str, quote: int) -> _Token:
        body, end = self._string(quote)
        raw = self.text[pos:end]
        if self.dialect is not Dialect.CV4:
            raise self.error(
                pos, f"typed literal {raw} is OData 3 syntax; {self.dialect.value} expects the bare {body}"
            )
        if prefix.lower() == "guid":
            return _Token("guid", body.lower(), pos, raw)
        if " " in body and _SPACED_OFFSET_RE.search(body):
            raise self.error(pos, f"invalid {prefix} literal {raw}: it contains a space; {_PLUS_HINT}")
        return _Token("datetime", _parse_datetime(body, lambda d: self.error(pos, d)), pos, raw)


def _parse_datetime(raw: str, fail: Callable[[str], FilterError]) -> int:
    match = _DATE_RE.fullmatch(raw)
    if match is None:
        raise fail(f"invalid date-time literal '{raw}'")
    text = raw.replace("z", "Z")
    if "." in text:
        head, _, tail = text.partition(".")
        digits = tail[: len(tail) - len(tail.lstrip("0123456789"))]
        text = f"{head}.{digits[:6].ljust(6, '0')}{tail[len(digits) :]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise fail(f"invalid date-time literal '{raw}'") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MS


@dataclass(frozen=True)
class _Node:
    kind: str
    pos: int
    value: Any = None
    args: tuple[_Node, ...] = ()
    column: Column | None = None


class _Parser:
    def __init__(self, text: str, dialect: Dialect, resolve: Resolver, type_name: str) -> None:
        self.lexer = _Lexer(text, dialect)
        self.tokens = self.lexer.tokens()
        self.i = 0
        self.text = text
        self.dialect = dialect
        self.resolve = resolve
        self.type_name = type_name

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def error(self, token: _Token, detail: str) -> FilterError:
        return self.lexer.error(token.pos, detail)

    def unexpected(self, expected: str) -> FilterError:
        token = self.tok
        found = "the end of the expression" if token.kind == "end" else f"'{token.text}'"
        return self.error(token, f"expected {expected} but found {found}")

    def keyword(self, word: str) -> bool:
        if self.tok.kind == "name" and self.tok.value.lower() == word:
            self.i += 1
            return True
        return False

    def expect(self, kind: str, what: str) -> _Token:
        if self.tok.kind != kind:
            raise self.unexpected(what)
        token = self.tok
        self.i += 1
        return token

    def parse(self) -> _Node:
        if self.tok.kind == "end":
            raise self.unexpected("an expression")
        node = self.parse_or()
        if self.tok.kind != "end":
            raise self.unexpected("an operator ('and', 'or', 'eq', ...) or the end of the expression")
        return node

    def parse_or(self) -> _Node:
        items = [self.parse_and()]
        while self.keyword("or"):
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else _Node("or", items[0].pos, args=tuple(items))

    def parse_and(self) -> _Node:
        items = [self.parse_not()]
        while self.keyword("and"):
            items.append(self.parse_not())
        return items[0] if len(items) == 1 else _Node("and", items[0].pos, args=tuple(items))

    def parse_not(self) -> _Node:
        pos = self.tok.pos
        if self.keyword("not"):
            return _Node("not", pos, args=(self.parse_not(),))
        return self.parse_comparison()

    def parse_comparison(self) -> _Node:
        left = self.parse_primary()
        if self.tok.kind == "name" and self.tok.value.lower() in _COMPARISONS:
            op_token = self.tok
            self.i += 1
            right = self.parse_primary()
            return _Node("cmp", op_token.pos, op_token.value.lower(), (left, right))
        return left

    def parse_primary(self) -> _Node:
        token = self.tok
        if token.kind == "(":
            self.i += 1
            node = self.parse_or()
            self.expect(")", "')'")
            return node
        if token.kind in ("string", "number", "datetime", "guid"):
            self.i += 1
            return _Node("lit", token.pos, (token.kind, token.value))
        if token.kind != "name":
            raise self.unexpected("a field, a literal or '('")
        self.i += 1
        lowered = token.value.lower()
        if self.tok.kind == "(":
            return self.parse_call(token)
        if lowered in ("true", "false"):
            return _Node("lit", token.pos, ("boolean", lowered == "true"))
        if lowered == "null":
            return _Node("lit", token.pos, ("null", None))
        if lowered in _COMPARISONS or lowered in ("and", "or", "not"):
            raise self.error(token, f"expected a field, a literal or '(' but found the operator '{token.text}'")
        column = self.resolve(token.value)
        if column is None:
            raise FilterError(
                f"Could not find a property named '{token.value}' on type '{self.type_name}' "
                f"(position {token.pos} in '{self.text}')."
            )
        return _Node("col", token.pos, token.value, column=column)

    def parse_call(self, name: _Token) -> _Node:
        self.expect("(", "'('")
        args: list[_Node] = []
        if self.tok.kind != ")":
            args.append(self.parse_or())
            while self.tok.kind == ",":
                self.i += 1
                args.append(self.parse_or())
        self.expect(")", "',' or ')'")
        func = name.value.lower()
        arity = _FUNCTIONS.get(func)
        if arity is None or func not in _DIALECT_FUNCTIONS[self.dialect]:
            raise self.error(name, _unknown_function_detail(func, name.text, self.dialect))
        if len(args) != arity:
            raise self.error(name, f"function '{name.text}' takes {arity} argument(s), {len(args)} given")
        return _Node("call", name.pos, func, tuple(args))


_FUNCTIONS = {"substringof": 2, "contains": 2, "startswith": 2, "endswith": 2, "tolower": 1, "toupper": 1}
_COMMON_FUNCTIONS = {"startswith", "endswith", "tolower", "toupper"}
_DIALECT_FUNCTIONS = {
    Dialect.CV4: _COMMON_FUNCTIONS | {"substringof"},
    Dialect.CV5: _COMMON_FUNCTIONS | {"contains"},
    Dialect.GI: _COMMON_FUNCTIONS | {"contains"},
    Dialect.DAC: _COMMON_FUNCTIONS | {"contains"},
}


def _unknown_function_detail(func: str, raw: str, dialect: Dialect) -> str:
    if func == "contains" and dialect is Dialect.CV4:
        return "unknown function 'contains': OData 3.0 (Contract Version 4) uses substringof('text', Field)"
    if func == "substringof":
        return f"unknown function 'substringof': {dialect.value} uses contains(Field, 'text')"
    return f"unknown function '{raw}'"


Evaluator = Callable[[Any], Any]


@dataclass(frozen=True)
class _Compiled:
    kind: str
    evaluate: Evaluator


class _Compiler:
    def __init__(self, parser: _Parser) -> None:
        self.parser = parser

    def fail(self, node: _Node, detail: str) -> FilterError:
        return FilterError(f"Type error at position {node.pos} in '{self.parser.text}': {detail}.")

    def compile(self, node: _Node) -> _Compiled:
        handler = getattr(self, f"_compile_{node.kind}")
        result: _Compiled = handler(node)
        return result

    def boolean(self, node: _Node) -> Evaluator:
        compiled = self.compile(node)
        if compiled.kind != "boolean":
            raise self.fail(node, "the expression must evaluate to a boolean value (true or false)")
        return compiled.evaluate

    def _compile_lit(self, node: _Node) -> _Compiled:
        kind, value = node.value
        return _Compiled(kind, lambda row: value)

    def _compile_col(self, node: _Node) -> _Compiled:
        column = node.column
        assert column is not None
        return _Compiled(column.kind, column.get)

    def _compile_and(self, node: _Node) -> _Compiled:
        parts = [self.boolean(arg) for arg in node.args]
        return _Compiled("boolean", lambda row: all(part(row) for part in parts))

    def _compile_or(self, node: _Node) -> _Compiled:
        parts = [self.boolean(arg) for arg in node.args]
        return _Compiled("boolean", lambda row: any(part(row) for part in parts))

    def _compile_not(self, node: _Node) -> _Compiled:
        inner = self.boolean(node.args[0])
        return _Compiled("boolean", lambda row: not inner(row))

    def _compile_cmp(self, node: _Node) -> _Compiled:
        left_node, right_node = node.args
        left, right = self.compile(left_node), self.compile(right_node)
        kinds = {left.kind, right.kind} - {"null"}
        if len(kinds) > 1 and kinds != {"guid", "string"}:
            raise self.fail(
                node,
                "a binary operator with incompatible types was detected: found operand types "
                f"'{_EDM.get(left.kind, left.kind)}' and '{_EDM.get(right.kind, right.kind)}' "
                f"for operator kind '{_OP_NAMES[node.value]}'",
            )
        kind = kinds.pop() if kinds else "null"
        left_eval = self._with_aliases(left_node, right_node, left.evaluate)
        right_eval = self._with_aliases(right_node, left_node, right.evaluate)
        return _Compiled("boolean", _comparison(node.value, kind, left_eval, right_eval))

    @staticmethod
    def _with_aliases(node: _Node, other: _Node, evaluate: Evaluator) -> Evaluator:
        column = other.column
        if node.kind != "lit" or column is None or not column.aliases or node.value[0] != "string":
            return evaluate
        literal = node.value[1]
        value = column.aliases.get(literal.casefold(), literal)
        return lambda row: value

    def _compile_call(self, node: _Node) -> _Compiled:
        args = [self.compile(arg) for arg in node.args]
        for arg, arg_node in zip(args, node.args, strict=True):
            if arg.kind not in ("string", "guid", "null"):
                raise self.fail(arg_node, f"function '{node.value}' expects string arguments")
        evals = [arg.evaluate for arg in args]
        if node.value in ("tolower", "toupper"):
            return _Compiled("string", _case_function(node.value, evals[0]))
        if node.value == "substringof":
            evals.reverse()
        return _Compiled("boolean", _string_predicate(node.value, evals[0], evals[1]))


def _case_function(name: str, arg: Evaluator) -> Evaluator:
    def convert(row: Any) -> Any:
        value = arg(row)
        if value is None:
            return None
        return str(value).lower() if name == "tolower" else str(value).upper()

    return convert


def _string_predicate(name: str, haystack: Evaluator, needle: Evaluator) -> Evaluator:
    def test(row: Any) -> bool:
        text, part = haystack(row), needle(row)
        if text is None or part is None:
            return False
        text, part = str(text).casefold(), str(part).casefold()
        if name == "startswith":
            return text.startswith(part)
        if name == "endswith":
            return text.endswith(part)
        return part in text

    return test


def _normalize(value: Any, kind: str) -> Any:
    if isinstance(value, str) and kind in ("string", "guid"):
        return value.casefold()
    return value


def _comparison(op: str, kind: str, left: Evaluator, right: Evaluator) -> Evaluator:
    def test(row: Any) -> bool:
        a, b = _normalize(left(row), kind), _normalize(right(row), kind)
        if op == "eq":
            return bool(a == b)
        if op == "ne":
            return bool(a != b)
        if a is None or b is None:
            return False
        if op == "gt":
            return bool(a > b)
        if op == "ge":
            return bool(a >= b)
        if op == "lt":
            return bool(a < b)
        return bool(a <= b)

    return test


_FLIPPED = {"gt": "lt", "ge": "le", "lt": "gt", "le": "ge", "eq": "eq"}


def _range_of(node: _Node) -> TimeRange | None:
    """The time range a conjunct like `LastModifiedDateTime gt datetimeoffset'...'` selects, if it is one."""
    if node.kind != "cmp" or node.value not in _FLIPPED:
        return None
    left, right = node.args
    op = node.value
    if right.kind == "col" and left.kind == "lit":
        left, right, op = right, left, _FLIPPED[op]
    if left.kind != "col" or left.column is None or not left.column.indexed:
        return None
    if right.kind != "lit" or right.value[0] != "datetime":
        return None
    ms = right.value[1]
    return {
        "gt": TimeRange(low=ms, low_inclusive=False),
        "ge": TimeRange(low=ms),
        "lt": TimeRange(high=ms, high_inclusive=False),
        "le": TimeRange(high=ms),
        "eq": TimeRange(low=ms, high=ms),
    }[op]


def _plan(root: _Node) -> tuple[TimeRange | None, bool]:
    conjuncts = root.args if root.kind == "and" else (root,)
    found: TimeRange | None = None
    residual = False
    for conjunct in conjuncts:
        time_range = _range_of(conjunct)
        if time_range is None:
            residual = True
        else:
            found = time_range if found is None else found.intersect(time_range)
    return found, residual


def compile_filter(text: str, dialect: Dialect, resolve: Resolver, type_name: str = "Entity") -> CompiledFilter:
    """Parse and type-check `text`; raises FilterError with the position and token of the first problem."""
    parser = _Parser(text, dialect, resolve, type_name)
    root = parser.parse()
    matches = _Compiler(parser).boolean(root)
    time_range, residual = _plan(root)
    return CompiledFilter(text, matches, time_range, residual)
