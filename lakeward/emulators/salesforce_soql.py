"""The subset of SOQL that incremental extraction uses, parsed and evaluated over in-memory records.

    SELECT Id, Name | count() FROM Account
    WHERE SystemModstamp >= 2026-10-01T00:00:00Z AND (SystemModstamp > X OR (SystemModstamp = X AND Id > '001..'))
    ORDER BY SystemModstamp, Id LIMIT 2000

Comparisons follow SOQL: a null field equals only `null` and fails every other comparison.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

Record = dict[str, object]
Predicate = Callable[[Record], bool]

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
    | (?P<date>\d{4}-\d{2}-\d{2})
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<string>'(?:[^'\\]|\\.)*')
    | (?P<op><=|>=|!=|<>|=|<|>)
    | (?P<punct>[(),])
    | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""", re.VERBOSE)

_OPS = {"=": operator.eq, "!=": operator.ne, "<>": operator.ne, "<": operator.lt, "<=": operator.le,
        ">": operator.gt, ">=": operator.ge}


class SoqlError(ValueError):
    """A query outside the supported subset, or naming an unknown field: Salesforce's MALFORMED_QUERY."""

    def __init__(self, message: str, code: str = "MALFORMED_QUERY"):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Query:
    sobject: str
    fields: tuple[str, ...]  # empty for count()
    where: Predicate
    order: tuple[tuple[str, bool], ...]  # (field, descending)
    limit: int | None

    @property
    def is_count(self) -> bool:
        return not self.fields


def parse(text: str, known_fields: Callable[[str], set[str]]) -> Query:
    """Parse a query; `known_fields(sobject)` lists the object's fields (raises SoqlError if it has none)."""
    return _Parser(_tokens(text), known_fields).query()


def run(query: Query, records: list[Record]) -> list[Record]:
    """The matching records, ordered and limited, projected to the selected fields."""
    rows = [r for r in records if query.where(r)]
    for name, descending in reversed(query.order):  # stable sorts, last key first; nulls first like SOQL
        rows.sort(key=lambda r, n=name: (r.get(n) is not None, r.get(n) if r.get(n) is not None else 0),
                  reverse=descending)
    if query.limit is not None:
        rows = rows[:query.limit]
    return [{f: r.get(f) for f in query.fields} for r in rows]


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos, text = [], 0, text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise SoqlError(f"unexpected token at: '{text[pos:pos + 30]}'")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], known_fields: Callable[[str], set[str]]):
        self.tokens, self.pos, self.known_fields = tokens, 0, known_fields
        self.fields: set[str] = set()
        self.sobject = ""

    def peek(self, offset: int = 0) -> tuple[str, str]:
        at = self.pos + offset
        return self.tokens[at] if at < len(self.tokens) else ("end", "")

    def keyword(self, *words: str) -> bool:
        if self.peek()[0] == "word" and self.peek()[1].upper() in words:
            self.pos += 1
            return True
        return False

    def expect(self, kind: str, value: str | None = None) -> str:
        got_kind, got = self.peek()
        if got_kind != kind or (value is not None and got.upper() != value):
            raise SoqlError(f"expected {value or kind}, found '{got or 'end of query'}'")
        self.pos += 1
        return got

    def query(self) -> Query:
        self.expect("word", "SELECT")
        selected: list[str] = []
        if self.peek()[1].lower() == "count" and self.peek(1)[1] == "(":
            self.pos += 2
            self.expect("punct", ")")
        else:
            selected.append(self.expect("word"))
            while self.peek() == ("punct", ","):
                self.pos += 1
                selected.append(self.expect("word"))
        self.expect("word", "FROM")
        self.sobject = self.expect("word")
        self.fields = self.known_fields(self.sobject)
        for name in selected:
            self.field(name)
        where: Predicate = lambda r: True  # noqa: E731
        if self.keyword("WHERE"):
            where = self.disjunction()
        order: list[tuple[str, bool]] = []
        if self.keyword("ORDER"):
            self.expect("word", "BY")
            while True:
                name = self.field(self.expect("word"))
                descending = self.keyword("DESC")
                if not descending:
                    self.keyword("ASC")
                order.append((name, descending))
                if self.peek() != ("punct", ","):
                    break
                self.pos += 1
        limit = int(self.expect("number")) if self.keyword("LIMIT") else None
        if self.peek()[0] != "end":
            raise SoqlError(f"unexpected token: '{self.peek()[1]}'")
        return Query(self.sobject, tuple(selected), where, tuple(order), limit)

    def field(self, name: str) -> str:
        if name not in self.fields:
            raise SoqlError(f"No such column '{name}' on entity '{self.sobject}'. If you are attempting to use a "
                            "custom field, be sure to append the '__c' after the custom field name.",
                            "INVALID_FIELD")
        return name

    def disjunction(self) -> Predicate:
        parts = [self.conjunction()]
        while self.keyword("OR"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else (lambda r: any(p(r) for p in parts))

    def conjunction(self) -> Predicate:
        parts = [self.factor()]
        while self.keyword("AND"):
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else (lambda r: all(p(r) for p in parts))

    def factor(self) -> Predicate:
        if self.keyword("NOT"):
            inner = self.factor()
            return lambda r: not inner(r)
        if self.peek() == ("punct", "("):
            self.pos += 1
            inner = self.disjunction()
            self.expect("punct", ")")
            return inner
        name = self.field(self.expect("word"))
        if self.keyword("IN"):
            self.expect("punct", "(")
            values = [self.literal()]
            while self.peek() == ("punct", ","):
                self.pos += 1
                values.append(self.literal())
            self.expect("punct", ")")
            return lambda r: r.get(name) in values
        op = _OPS[self.expect("op")]
        value = self.literal()
        if value is None:
            return lambda r: op(r.get(name) is None, True)
        return lambda r: r.get(name) is not None and op(r.get(name), value)

    def literal(self) -> object:
        kind, text = self.peek()
        self.pos += 1
        if kind == "datetime":
            return datetime.fromisoformat(text)
        if kind == "date":
            return date.fromisoformat(text)
        if kind == "number":
            return Decimal(text)
        if kind == "string":
            return re.sub(r"\\(.)", r"\1", text[1:-1])
        if kind == "word" and text.lower() in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[text.lower()]
        raise SoqlError(f"expected a value, found '{text or 'end of query'}'")
