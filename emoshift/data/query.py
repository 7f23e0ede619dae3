"""Domain queries: a small grammar of emoshift's own, parsed and evaluated without ``eval``.

A domain query selects rows of a corpus table, e.g. ``"corpus == 'emodb'"`` or
``"corpus == 'aibo' and session in ['Mont', 'Ohm']"``. Queries come from configs, so
they must never run code: they are tokenised and parsed here by recursive descent into
a tree of a few node kinds, and the tree is evaluated on the table's columns. Nothing
reaches Python's ``eval`` or pandas' ``query``/``eval`` (whose ``@name`` and attribute
access reach arbitrary Python).

The grammar (:data:`ALLOWED_FORM`): column names (bare identifiers or backquoted names
with spaces, and ``index`` for the row labels when no column has that name); string,
number, ``True``/``False``/``None`` literals and lists or tuples of them; comparisons
``== != < <= > >=`` (chains such as ``0 < arousal < 0.5`` too); ``in`` / ``not in`` a
list; arithmetic ``+ - * / // %`` on numbers; ``and`` / ``or`` / ``not`` (also written
``&`` / ``|`` / ``~``) and parentheses. Missing values compare as pandas' ``query``
does: unequal to everything, never ordered, never in a list.

Example:
    >>> import pandas as pd
    >>> table = pd.DataFrame({"corpus": ["emodb", "urdu", "emodb"], "arousal": [0.5, -0.2, 0.1]})
    >>> select_rows(table, "corpus == 'emodb' and arousal > 0.2").index.tolist()
    [0]
    >>> select_rows(table, "@os.system('true') == 0")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    emoshift.data.query.QueryError: query "@os.system('true') == 0" at character 1: '@' ...
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

ALLOWED_FORM = (
    "a query is built from column names, literals, comparisons (== != < <= > >=), "
    "in / not in [list], arithmetic on numbers, and / or / not and parentheses, "
    "e.g. \"corpus == 'emodb' and speaker in ['03', '08']\""
)
"""What a query may contain, as every rejection says."""

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
  | (?P<backquoted>`[^`]+`)
  | (?P<name>[A-Za-z_][A-Za-z_0-9]*)
  | (?P<op>==|!=|<=|>=|//|<|>|\(|\)|\[|\]|,|\+|-|\*|/|%|&|\||~)
    """,
    re.VERBOSE,
)
_FORBIDDEN = {
    "@": "'@' (local variables)",
    ".": "'.' (attribute access)",
    "=": "'=' (assignment; compare with '==')",
    "{": "'{' (dicts and sets)",
    ":": "':' (slices and lambdas)",
    ";": "';' (statements)",
}
_KEYWORDS = {"and", "or", "not", "in", "True", "False", "None"}
_REJECTED_NAMES = {
    "lambda": "lambdas are not allowed",
    "if": "conditional expressions are not allowed",
    "else": "conditional expressions are not allowed",
    "for": "comprehensions are not allowed",
    "is": "'is' is not allowed (compare with == or !=)",
    "import": "imports are not allowed",
}
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
}


class QueryError(ValueError):
    """A domain query is outside the grammar, names an unknown column or cannot be evaluated."""


@dataclass(frozen=True)
class _Token:
    kind: str  # number, string, name, column, op, end
    text: str
    position: int  # 0-based character offset


@dataclass(frozen=True)
class Column:
    """A column reference (``index``: the row labels when no column has that name)."""

    name: str


@dataclass(frozen=True)
class Literal:
    """A constant: string, number, bool, ``None`` or a tuple of those (a list literal)."""

    value: Any


@dataclass(frozen=True)
class Unary:
    """``not`` (``~``) or a numeric sign (``-``, ``+``) applied to ``operand``."""

    op: str
    operand: Any


@dataclass(frozen=True)
class Binary:
    """``and``, ``or``, an arithmetic, comparison or ``in`` / ``not in`` operator."""

    op: str
    left: Any
    right: Any


def _describe(origin: str | None, query: str) -> str:
    return f"query {query!r}" + (f" ({origin})" if origin else "")


def tokenize(query: str, origin: str | None = None) -> list[_Token]:
    """The tokens of ``query``; anything outside the grammar's alphabet raises QueryError."""
    tokens: list[_Token] = []
    position = 0
    while position < len(query):
        match = _TOKEN.match(query, position)
        if match is None:
            char = query[position]
            what = _FORBIDDEN.get(char, f"{char!r}")
            raise QueryError(
                f"{_describe(origin, query)} at character {position + 1}: {what} is not "
                f"allowed; {ALLOWED_FORM}"
            )
        kind = match.lastgroup or ""
        text = match.group()
        if kind == "backquoted":
            tokens.append(_Token("column", text[1:-1], position))
        elif kind != "space":
            tokens.append(_Token(kind, text, position))
        position = match.end()
    tokens.append(_Token("end", "", len(query)))
    return tokens


class _Parser:
    """Recursive descent over the tokens; one method per precedence level."""

    def __init__(self, query: str, origin: str | None) -> None:
        self.query = query
        self.origin = origin
        self.tokens = tokenize(query, origin)
        self.at = 0

    def error(self, token: _Token, problem: str) -> QueryError:
        where = "at the end" if token.kind == "end" else f"at character {token.position + 1}"
        return QueryError(
            f"{_describe(self.origin, self.query)} {where}: {problem}; {ALLOWED_FORM}"
        )

    def peek(self, offset: int = 0) -> _Token:
        return self.tokens[min(self.at + offset, len(self.tokens) - 1)]

    def take(self) -> _Token:
        token = self.peek()
        self.at += 1
        return token

    def accept(self, *texts: str) -> _Token | None:
        token = self.peek()
        if token.kind in ("op", "name") and token.text in texts:
            return self.take()
        return None

    def expect(self, text: str) -> None:
        if self.accept(text) is None:
            token = self.peek()
            found = "the end" if token.kind == "end" else repr(token.text)
            raise self.error(token, f"expected {text!r}, found {found}")

    def parse(self) -> Any:
        node = self.or_expression()
        token = self.peek()
        if token.kind != "end":
            raise self.error(token, _REJECTED_NAMES.get(token.text, f"unexpected {token.text!r}"))
        return node

    def or_expression(self) -> Any:
        node = self.and_expression()
        while self.accept("or", "|"):
            node = Binary("or", node, self.and_expression())
        return node

    def and_expression(self) -> Any:
        node = self.not_expression()
        while self.accept("and", "&"):
            node = Binary("and", node, self.not_expression())
        return node

    def not_expression(self) -> Any:
        if self.accept("not", "~"):
            return Unary("not", self.not_expression())
        return self.comparison()

    def comparison_operator(self) -> str | None:
        token = self.peek()
        if token.kind == "op" and token.text in _COMPARE:
            return self.take().text
        if token.kind == "name" and token.text == "in":
            self.take()
            return "in"
        if token.kind == "name" and token.text == "not" and self.peek(1).text == "in":
            self.at += 2
            return "not in"
        return None

    def comparison(self) -> Any:
        left = self.arithmetic()
        node = None
        while (op := self.comparison_operator()) is not None:
            right = self.membership_list() if op in ("in", "not in") else self.arithmetic()
            part = Binary(op, left, right)
            node = part if node is None else Binary("and", node, part)
            left = right
        return left if node is None else node

    def membership_list(self) -> Literal:
        token = self.peek()
        value = self.atom()
        if not isinstance(value, Literal) or not isinstance(value.value, tuple):
            raise self.error(token, "'in' and 'not in' take a list of literals, e.g. ['a', 'b']")
        return value

    def arithmetic(self) -> Any:
        node = self.term()
        while (token := self.accept("+", "-")) is not None:
            node = Binary(token.text, node, self.term())
        return node

    def term(self) -> Any:
        node = self.unary()
        while (token := self.accept("*", "/", "//", "%")) is not None:
            node = Binary(token.text, node, self.unary())
        return node

    def unary(self) -> Any:
        if (token := self.accept("-", "+")) is not None:
            operand = self.unary()
            if isinstance(operand, Literal) and _is_number(operand.value):
                return Literal(-operand.value if token.text == "-" else operand.value)
            return Unary(token.text, operand)
        return self.atom()

    def atom(self) -> Any:
        token = self.take()
        if token.kind in ("number", "string"):
            try:
                return Literal(ast.literal_eval(token.text))
            except (ValueError, SyntaxError) as error:
                raise self.error(token, f"bad literal {token.text[:40]!r} ({error})") from None
        if token.kind == "column":
            return self.after_name(Column(token.text))
        if token.kind == "name":
            return self.name(token)
        if token.kind == "op" and token.text in ("(", "["):
            return self.group(token)
        found = "the end" if token.kind == "end" else repr(token.text)
        raise self.error(token, f"expected a column, a literal or '(', found {found}")

    def name(self, token: _Token) -> Any:
        literals = {"True": True, "False": False, "None": None}
        if token.text in literals:
            return Literal(literals[token.text])
        if token.text in _REJECTED_NAMES:
            raise self.error(token, _REJECTED_NAMES[token.text])
        if token.text in _KEYWORDS:
            raise self.error(token, f"{token.text!r} is misplaced")
        if token.text.startswith("__"):
            raise self.error(token, f"dunder name {token.text!r} is not allowed")
        return self.after_name(Column(token.text))

    def after_name(self, column: Column) -> Column:
        following = self.peek()
        if following.kind == "op" and following.text == "(":
            raise self.error(following, f"function calls ({column.name}(...)) are not allowed")
        if following.kind == "op" and following.text == "[":
            raise self.error(following, f"subscripts ({column.name}[...]) are not allowed")
        return column

    def group(self, opening: _Token) -> Any:
        closing = ")" if opening.text == "(" else "]"
        items: list[Any] = []
        trailing_comma = False
        while self.peek().text != closing or self.peek().kind != "op":
            items.append(self.or_expression() if closing == ")" else self.unary())
            trailing_comma = self.accept(",") is not None
            if not trailing_comma:
                break
        self.expect(closing)
        if closing == ")" and len(items) == 1 and not trailing_comma:
            return items[0]
        if not all(
            isinstance(item, Literal) and not isinstance(item.value, tuple) for item in items
        ):
            raise self.error(opening, "lists and tuples may hold only literals")
        return Literal(tuple(item.value for item in items))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_query(query: str, origin: str | None = None) -> Any:
    """The syntax tree of ``query``; :class:`QueryError` names what is outside the grammar.

    ``origin`` (e.g. ``"config.yaml: corpora.emodb.query"``) is named in every error.

    Example:
        >>> parse_query("corpus in ['a', 'b']")
        Binary(op='in', left=Column(name='corpus'), right=Literal(value=('a', 'b')))
    """
    try:
        return _Parser(query, origin).parse()
    except RecursionError:
        raise QueryError(
            f"{_describe(origin, query)} is nested too deeply; {ALLOWED_FORM}"
        ) from None


def columns_of(node: Any) -> set[str]:
    """The column names a parsed query reads.

    Example:
        >>> sorted(columns_of(parse_query("corpus == 'a' and `my col` > 1")))
        ['corpus', 'my col']
    """
    if isinstance(node, Column):
        return {node.name}
    if isinstance(node, Unary):
        return columns_of(node.operand)
    if isinstance(node, Binary):
        return columns_of(node.left) | columns_of(node.right)
    return set()


class _Evaluator:
    """Evaluates a parsed query on a table; values are Series, scalars or tuples."""

    def __init__(self, table: pd.DataFrame, describe: str) -> None:
        self.table = table
        self.describe = describe

    def value(self, node: Any) -> Any:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Column):
            if node.name in self.table.columns:
                return self.table[node.name]
            return pd.Series(self.table.index, index=self.table.index)  # 'index', checked
        if isinstance(node, Unary):
            operand = self.value(node.operand)
            if node.op == "not":
                return ~self.boolean(operand, node.operand)
            self.numeric(operand, node.op)
            return -operand if node.op == "-" else operand
        if node.op in ("and", "or"):
            left = self.boolean(self.value(node.left), node.left)
            right = self.boolean(self.value(node.right), node.right)
            return left & right if node.op == "and" else left | right
        left, right = self.value(node.left), self.value(node.right)
        if node.op in _ARITHMETIC:
            self.numeric(left, node.op)
            self.numeric(right, node.op)
            return _ARITHMETIC[node.op](left, right)
        return self.compare(node.op, left, right)

    def numeric(self, value: Any, op: str) -> None:
        ok = pd.api.types.is_numeric_dtype(value) if isinstance(value, pd.Series) else None
        if ok is None:
            ok = _is_number(value)
        if not ok or (isinstance(value, pd.Series) and pd.api.types.is_bool_dtype(value)):
            raise QueryError(f"{self.describe}: {op!r} applies to numbers only")

    def compare(self, op: str, left: Any, right: Any) -> Any:
        if op in ("in", "not in") or isinstance(right, tuple):
            if op not in ("in", "not in", "==", "!="):
                raise QueryError(f"{self.describe}: {op!r} cannot compare with a list")
            if not isinstance(left, pd.Series):
                raise QueryError(f"{self.describe}: the left side of {op!r} must be a column")
            inside = left.isin(list(right)).astype(bool)
            return inside if op in ("in", "==") else ~inside
        result = _COMPARE[op](left, right)
        if isinstance(result, pd.Series):
            return result.astype("boolean").fillna(op == "!=").astype(bool)
        return result

    def boolean(self, value: Any, node: Any) -> pd.Series:
        if isinstance(value, pd.Series) and pd.api.types.is_bool_dtype(value):
            return value.astype("boolean").fillna(False).astype(bool)
        if isinstance(value, bool):
            return pd.Series(value, index=self.table.index)
        raise QueryError(
            f"{self.describe}: {_show(node)} is not a condition (true/false per row); "
            f"compare it, e.g. {_show(node)} == 'value'"
        )


def _show(node: Any) -> str:
    if isinstance(node, Column):
        return node.name if node.name.isidentifier() else f"`{node.name}`"
    if isinstance(node, Literal):
        return repr(node.value)
    return "this part"


def query_mask(table: pd.DataFrame, query: str, origin: str | None = None) -> pd.Series:
    """A boolean Series, aligned with ``table``, of the rows ``query`` selects.

    Raises :class:`QueryError` for a query outside the grammar, a column the table lacks
    (naming the columns it has) or operands of the wrong type.

    Example:
        >>> table = pd.DataFrame({"speaker": ["a", None, "b"]})
        >>> query_mask(table, "speaker != 'a'").tolist()
        [False, True, True]
    """
    tree = parse_query(query, origin)
    describe = _describe(origin, query)
    unknown = sorted(
        name
        for name in columns_of(tree)
        if name not in table.columns and not (name == "index" and "index" not in table.columns)
    )
    if unknown:
        raise QueryError(
            f"{describe} names unknown column(s) {unknown}; the columns are {list(table.columns)}"
        )
    evaluator = _Evaluator(table, describe)
    try:
        mask = evaluator.boolean(evaluator.value(tree), tree)
    except QueryError:
        raise
    except RecursionError:
        raise QueryError(f"{describe} is nested too deeply; {ALLOWED_FORM}") from None
    except (TypeError, ValueError, ZeroDivisionError) as error:
        raise QueryError(f"{describe} cannot be evaluated: {error}") from error
    return mask.astype(np.bool_)


#: how many of a column's values an error message shows
SHOWN_VALUES = 5


def column_values(table: pd.DataFrame, query: str, shown: int = SHOWN_VALUES) -> str:
    """What the columns ``query`` reads hold: for each, its number of distinct values and
    the ``shown`` most frequent (ties in sorted order), so that an error can say at once
    why a query selects nothing (e.g. the corpus is called ``'manifest'``).

    Example:
        >>> table = pd.DataFrame({"corpus": ["manifest"] * 3 + ["urdu"], "speaker": list("abcd")})
        >>> column_values(table, "corpus == 'emodb' and speaker != 'x'", shown=2)
        "column 'corpus' holds 2 value(s): 'manifest' (3 rows), 'urdu' (1 row); column \
'speaker' holds 4 value(s): 'a' (1 row), 'b' (1 row), ..."
    """
    parts = []
    for name in sorted(columns_of(parse_query(query))):
        if name not in table.columns:
            continue
        counts = table[name].value_counts(dropna=True)
        counts = counts.iloc[np.lexsort((counts.index.astype(str), -counts.to_numpy()))]
        listed = [
            f"{value!r} ({count} row{'' if count == 1 else 's'})"
            for value, count in counts.iloc[:shown].items()
        ]
        more = ", ..." if len(counts) > shown else ""
        parts.append(
            f"column {name!r} holds {len(counts)} value(s): {', '.join(listed) or 'none'}{more}"
        )
    return "; ".join(parts)


def select_rows(table: pd.DataFrame, query: str, origin: str | None = None) -> pd.DataFrame:
    """The rows of ``table`` that ``query`` selects (index labels kept), see :func:`query_mask`."""
    return table[query_mask(table, query, origin)]
