"""SQL is written once in the Athena (Trino) dialect; sqlglot reads it, finds its inputs and translates it."""

from __future__ import annotations

import functools
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

SOURCE_DIALECT = "trino"


class SqlError(ValueError):
    """SQL that cannot be parsed or translated, named by file."""


@functools.cache
def _parse_cached(text: str, origin: str) -> exp.Expression:
    try:
        statements = [s for s in sqlglot.parse(text, read=SOURCE_DIALECT) if s is not None]
    except ParseError as err:
        raise SqlError(f"{origin}: not valid Athena/Trino SQL: {err}") from err
    if len(statements) != 1:
        raise SqlError(f"{origin}: expected exactly one SELECT statement, found {len(statements)}")
    if not isinstance(statements[0], exp.Query):
        raise SqlError(f"{origin}: expected a SELECT, found {statements[0].key.upper()}")
    return statements[0]


def parse(text: str, origin: str = "<sql>") -> exp.Expression:
    return _parse_cached(text, origin).copy()


def read(path: Path) -> exp.Expression:
    try:
        text = path.read_text()
    except FileNotFoundError as err:
        raise SqlError(f"{path}: SQL file not found") from err
    return parse(text, str(path))


def tables_read(query: exp.Expression) -> set[str]:
    """Namespace-qualified tables a query reads (`staging.x`, `marts.y`), CTE names excluded."""
    ctes = {cte.alias_or_name for cte in query.find_all(exp.CTE)}
    found = set()
    for table in query.find_all(exp.Table):
        if not table.name or (not table.db and table.name in ctes):
            continue
        found.add(f"{table.db}.{table.name}" if table.db else table.name)
    return found


def to_duckdb(query: exp.Expression | str) -> str:
    tree = parse(query) if isinstance(query, str) else query
    return tree.sql(dialect="duckdb")
