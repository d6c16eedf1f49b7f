"""Run the subset of the CloudWatch Logs Insights query language that the dashboards use, without I/O.

moto stores log events but runs only `fields`, `sort` and `limit` of a query, so the dashboard
preview runs the log widgets' queries here over the events it read with FilterLogEvents.

Supported commands: `SOURCE '<group>'`, `fields` with expressions and `as`, `filter`, `stats`,
`sort` with `asc` or `desc`, and `limit`. Filters compare with `=`, `!=`, `<`, `<=`, `>` and
`>=`, and combine with `and`, `or`, `not` and `ispresent()`. Stats aggregates are `count`,
`sum`, `avg`, `min`, `max`, `earliest` and `latest`, grouped `by` fields, expressions or
`bin(<n><s|m|h|d>)`. Functions in expressions: `coalesce`, `floor`, `ceil`, `abs`.
Fields of JSON messages are discovered as Logs Insights does, nested keys joined by dots.
Anything else raises QueryError, so a query the preview cannot run shows the reason instead of
wrong rows.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: Most rows kept when a query has no `limit` command, so a preview page stays small.
DEFAULT_LIMIT = 10_000

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<duration>\d+[smhd]\b)
      | (?P<number>\d+(?:\.\d+)?)
      | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<name>@?[A-Za-z_][\w.]*)
      | (?P<op><=|>=|!=|=|<|>|\(|\)|,|\*|/|\+|-)
    )""",
    re.VERBOSE,
)
_BIN = re.compile(r"bin\((\d+)([smhd])\)")
_BIN_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_AGGREGATES = frozenset({"count", "sum", "avg", "min", "max", "earliest", "latest"})
_FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    "floor": lambda value: None if value is None else math.floor(value),
    "ceil": lambda value: None if value is None else math.ceil(value),
    "abs": lambda value: None if value is None else abs(value),
}


class QueryError(ValueError):
    """The query uses syntax this subset does not run, or is not valid."""


Event = dict[str, Any]


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[list[Any]]


# --- Expressions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Expr:
    kind: str  # "field", "literal", "call", "binary", "not"
    value: Any = None
    args: tuple[_Expr, ...] = ()
    text: str = ""


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise QueryError(f"unexpected text at {text[position : position + 20]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    """Recursive descent over one command's tokens: or > and > not > comparison > sum > product > atom."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.index = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1].lower() != value):
            raise QueryError(f"expected {value or 'more'} in {self.text!r}")
        self.index += 1
        return token

    def at(self, *values: str) -> bool:
        token = self.peek()
        return token is not None and token[1].lower() in values

    def done(self) -> bool:
        return self.index == len(self.tokens)

    def expression(self) -> _Expr:
        return self._left_associative(("or",), self.conjunction)

    def conjunction(self) -> _Expr:
        return self._left_associative(("and",), self.negation)

    def negation(self) -> _Expr:
        if self.at("not"):
            self.take()
            return _Expr("not", args=(self.negation(),))
        return self.comparison()

    def comparison(self) -> _Expr:
        left = self.sum()
        if self.at("=", "!=", "<", "<=", ">", ">="):
            operator = self.take()[1]
            left = _Expr("binary", operator, (left, self.sum()))
        return left

    def sum(self) -> _Expr:
        return self._left_associative(("+", "-"), self.product)

    def product(self) -> _Expr:
        return self._left_associative(("*", "/"), self.atom)

    def _left_associative(self, operators: tuple[str, ...], operand: Callable[[], _Expr]) -> _Expr:
        left = operand()
        while self.at(*operators):
            operator = self.take()[1].lower()
            left = _Expr("binary", operator, (left, operand()))
        return left

    def atom(self) -> _Expr:
        start = self.index
        kind, value = self.take()
        if kind == "duration":
            return _Expr("literal", value, text=value)
        if kind == "number":
            return _Expr("literal", float(value) if "." in value else int(value), text=value)
        if kind == "string":
            return _Expr("literal", json.loads('"' + value[1:-1].replace('"', '\\"') + '"'), text=value)
        if value == "(":
            inner = self.expression()
            self.take(")")
            return inner
        if value == "*":
            return _Expr("literal", "*", text="*")
        if kind != "name":
            raise QueryError(f"unexpected {value!r} in {self.text!r}")
        if self.at("("):
            self.take("(")
            args: list[_Expr] = []
            while not self.at(")"):
                args.append(self.expression())
                if not self.at(")"):
                    self.take(",")
            self.take(")")
            text = " ".join(token for _, token in self.tokens[start : self.index])
            return _Expr("call", value.lower(), tuple(args), text=_compact(text))
        return _Expr("field", value, text=value)


def _compact(text: str) -> str:
    return re.sub(r"\s*([(),])\s*", lambda match: match.group(1) + (" " if match.group(1) == "," else ""), text)


def _evaluate(expression: _Expr, event: Mapping[str, Any]) -> Any:
    kind = expression.kind
    if kind == "literal":
        return expression.value
    if kind == "field":
        return event.get(expression.value)
    if kind == "not":
        return not _truthy(_evaluate(expression.args[0], event))
    if kind == "call":
        name = expression.value
        if name == "ispresent":
            return _evaluate(expression.args[0], event) is not None
        if name == "coalesce":
            return next((v for v in (_evaluate(a, event) for a in expression.args) if v is not None), None)
        if name in _FUNCTIONS and len(expression.args) == 1:
            return _FUNCTIONS[name](_number(_evaluate(expression.args[0], event)))
        raise QueryError(f"function {name}() is not supported by the preview")
    operator = expression.value
    left = _evaluate(expression.args[0], event)
    if operator == "and":
        return _truthy(left) and _truthy(_evaluate(expression.args[1], event))
    if operator == "or":
        return _truthy(left) or _truthy(_evaluate(expression.args[1], event))
    return _binary(operator, left, _evaluate(expression.args[1], event))


def _binary(operator: str, left: Any, right: Any) -> Any:
    if operator in ("=", "!="):
        equal = left is not None and right is not None and _same(left, right)
        return equal if operator == "=" else not equal
    left_number, right_number = _number(left), _number(right)
    if left_number is None or right_number is None:
        return None
    if operator in ("<", "<=", ">", ">="):
        return {
            "<": left_number < right_number,
            "<=": left_number <= right_number,
            ">": left_number > right_number,
            ">=": left_number >= right_number,
        }[operator]
    if operator == "/":
        return None if right_number == 0 else left_number / right_number
    return {"+": left_number + right_number, "-": left_number - right_number, "*": left_number * right_number}[operator]


def _same(left: Any, right: Any) -> bool:
    left_number, right_number = _number(left), _number(right)
    if left_number is not None and right_number is not None:
        return left_number == right_number
    return str(left) == str(right)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _truthy(value: Any) -> bool:
    return value is not None and value is not False


# --- Commands -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Named:
    expression: _Expr
    name: str


@dataclass
class Query:
    """A parsed query: its log groups and its commands in order."""

    sources: list[str] = field(default_factory=list)
    commands: list[tuple[str, Any]] = field(default_factory=list)


def _split_commands(text: str) -> list[str]:
    parts, current, quote = [], [], ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "|":
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append("".join(current).strip())
    return [part for part in parts if part]


def _named_list(parser: _Parser) -> list[_Named]:
    items = []
    while True:
        expression = parser.expression()
        name = expression.text
        if parser.at("as"):
            parser.take()
            name = parser.take()[1]
        items.append(_Named(expression, name))
        if not parser.at(","):
            return items
        parser.take(",")


def parse_query(text: str) -> Query:
    """Parse a dashboard log widget's query, raising QueryError for syntax outside the subset."""
    query = Query()
    for command in _split_commands(text):
        word, _, rest = command.partition(" ")
        keyword = word.lower()
        if word == "SOURCE":
            match = re.fullmatch(r"'([^']+)'", rest.strip())
            if match is None:
                raise QueryError(f"SOURCE needs one quoted log group: {command!r}")
            query.sources.append(match.group(1))
            continue
        parser = _Parser(rest)
        if keyword == "fields":
            query.commands.append(("fields", _named_list(parser)))
        elif keyword == "filter":
            query.commands.append(("filter", parser.expression()))
        elif keyword == "stats":
            query.commands.append(("stats", _parse_stats(parser)))
        elif keyword == "sort":
            name = parser.take()[1]
            order = parser.take()[1].lower() if not parser.done() else "desc"
            if order not in ("asc", "desc"):
                raise QueryError(f"sort order must be asc or desc: {command!r}")
            query.commands.append(("sort", (name, order)))
        elif keyword == "limit":
            query.commands.append(("limit", int(parser.take()[1])))
        else:
            raise QueryError(f"command {word!r} is not supported by the preview")
        if not parser.done():
            raise QueryError(f"unexpected {parser.peek()!r} in {command!r}")
    return query


def _parse_stats(parser: _Parser) -> tuple[list[_Named], list[_Named]]:
    aggregates = _named_list(parser)
    for item in aggregates:
        if item.expression.kind != "call" or item.expression.value not in _AGGREGATES:
            raise QueryError(f"stats needs an aggregate function, got {item.expression.text!r}")
    groups: list[_Named] = []
    if parser.at("by"):
        parser.take()
        groups = _named_list(parser)
    return aggregates, groups


# --- Running ------------------------------------------------------------------------------------


def discover_fields(timestamp_ms: int, message: str, log_group: str, account: str) -> Event:
    """Return an event's fields: the `@` fields and, for a JSON object message, its keys."""
    event: Event = {
        "@timestamp": timestamp_ms,
        "@message": message,
        "@log": f"{account}:{log_group}",
    }
    try:
        document = json.loads(message)
    except ValueError:
        return event
    if isinstance(document, dict):
        _flatten(document, "", event)
    return event


def _flatten(document: Mapping[str, Any], prefix: str, event: Event) -> None:
    for key, value in document.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            _flatten(value, f"{name}.", event)
        elif not isinstance(value, list):
            event.setdefault(name, value)


def run_query(query: Query, events: Iterable[Event]) -> QueryResult:
    """Run the query's commands over the events; timestamps come out as Logs Insights shows them."""
    rows: list[Event] = list(events)
    columns: list[str] = []
    time_columns = {"@timestamp"}
    for name, argument in query.commands:
        if name == "fields":
            for event in rows:
                for item in argument:
                    event[item.name] = _evaluate(item.expression, event)
            columns = [item.name for item in argument]
        elif name == "filter":
            rows = [event for event in rows if _truthy(_evaluate(argument, event))]
        elif name == "stats":
            rows, columns = _stats(rows, *argument)
            time_columns |= _time_columns(*argument)
        elif name == "sort":
            rows = _sort(rows, *argument)
        elif name == "limit":
            rows = rows[:argument]
    rows = rows[:DEFAULT_LIMIT]
    if not columns:
        columns = ["@timestamp", "@message"]
    return QueryResult(
        columns, [[_shown(event.get(column), column in time_columns) for column in columns] for event in rows]
    )


def _time_columns(aggregates: Sequence[_Named], groups: Sequence[_Named]) -> set[str]:
    """Return the stats columns that hold times: time bins, and the first, last, least or greatest @timestamp."""
    names = {group.name for group in groups if _BIN.fullmatch(group.expression.text)}
    for item in aggregates:
        arguments = item.expression.args
        of_time = bool(arguments) and arguments[0].kind == "field" and arguments[0].value == "@timestamp"
        if of_time and item.expression.value in ("earliest", "latest", "min", "max"):
            names.add(item.name)
    return names


def _stats(
    rows: Sequence[Event], aggregates: Sequence[_Named], groups: Sequence[_Named]
) -> tuple[list[Event], list[str]]:
    buckets: dict[tuple[Any, ...], list[Event]] = {}
    for event in rows:
        key = tuple(_group_value(group, event) for group in groups)
        buckets.setdefault(key, []).append(event)
    result = []
    for key, members in buckets.items():
        row: Event = {group.name: value for group, value in zip(groups, key, strict=True)}
        for group, value in zip(groups, key, strict=True):
            if _BIN.fullmatch(group.expression.text):
                # NOTE: assumed from queries that sort by @timestamp after `stats ... by bin()`:
                # the row's @timestamp is the bin's start. The service documents no other key.
                row["@timestamp"] = value
        for item in aggregates:
            row[item.name] = _aggregate(item.expression, members)
        result.append(row)
    return result, [group.name for group in groups] + [item.name for item in aggregates]


def _group_value(group: _Named, event: Mapping[str, Any]) -> Any:
    match = _BIN.fullmatch(group.expression.text)
    if match:
        size_ms = int(match.group(1)) * _BIN_SECONDS[match.group(2)] * 1000
        return event["@timestamp"] // size_ms * size_ms
    return _evaluate(group.expression, event)


def _aggregate(expression: _Expr, members: Sequence[Event]) -> Any:
    function = expression.value
    argument = expression.args[0] if expression.args else _Expr("literal", "*")
    if function == "count":
        if argument.kind == "literal" and argument.value == "*":
            return len(members)
        return sum(1 for event in members if _evaluate(argument, event) is not None)
    if function in ("earliest", "latest"):
        ordered = sorted(members, key=lambda event: event["@timestamp"])
        chosen = ordered[0] if function == "earliest" else ordered[-1]
        return _evaluate(argument, chosen)
    numbers = [n for n in (_number(_evaluate(argument, event)) for event in members) if n is not None]
    if not numbers:
        return None
    if function == "sum":
        return sum(numbers)
    if function == "avg":
        return sum(numbers) / len(numbers)
    return min(numbers) if function == "min" else max(numbers)


def _sort(rows: Sequence[Event], name: str, order: str) -> list[Event]:
    present = [event for event in rows if event.get(name) is not None]
    missing = [event for event in rows if event.get(name) is None]
    present.sort(key=lambda event: (_number(event[name]) is None, _number(event[name]) or 0, str(event[name])))
    if order == "desc":
        present.reverse()
    return present + missing


def _shown(value: Any, is_time: bool) -> Any:
    if is_time and isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    if isinstance(value, float):
        return round(value, 4)
    return value
