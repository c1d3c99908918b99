"""The Athena statement that publishes a mart from its SELECT: ONE `MERGE INTO`, so a rebuild is one Iceberg
commit and a reader sees either the previous mart or the new one, never an empty or half-written table.

Athena has no INSERT OVERWRITE for Iceberg, and DELETE then INSERT is two commits. Its MERGE INTO is
transactional but has no `WHEN NOT MATCHED BY SOURCE`, so the source is the new rows plus, flagged
`_lw_gone`, the keys of current rows the new SELECT no longer returns: those are deleted, changed rows
updated, new rows inserted, unchanged rows left alone (docs/aws.md, "Publishing marts").
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.qualify import qualify

from lakeward import sql
from lakeward.definition import Definition

FRESH, GONE = "_lw_fresh", "_lw_gone"


class MartStatementError(ValueError):
    """A mart whose SELECT does not name its output columns (a `*`), which MERGE must list."""


def statements(defn: Definition, mart: str) -> list[str]:
    spec = defn.marts[mart]
    select = sql.read(defn.root / spec.sql)
    return [merge_statement(f"marts.{mart}", select, spec.key, origin=spec.sql)]


def _q(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql("trino")


def _output_columns(select: exp.Expression) -> list[str]:
    """The SELECT's output names; a * over its own CTEs expands to theirs (sqlglot's qualifier)."""
    if not isinstance(select, exp.Query):
        return []
    if "*" not in select.named_selects:
        return list(select.named_selects)
    try:
        return list(qualify(select.copy(), dialect="trino", validate_qualify_columns=False).named_selects)
    except sqlglot.errors.SqlglotError:
        return ["*"]


def merge_statement(target: str, select: exp.Expression, key: list[str], origin: str = "<mart>") -> str:
    columns = _output_columns(select)
    if not columns or "*" in columns or any(not c for c in columns):
        raise MartStatementError(f"{origin}: the mart's SELECT must name every output column (a * over a "
                                 "table has no column list offline)")
    missing = [k for k in key if k not in columns]
    if missing:
        raise MartStatementError(f"{origin}: key column(s) {', '.join(missing)} are not in the SELECT")
    body = select.copy()
    ctes = body.args.get("with_")
    body.set("with_", None)
    # The mart's own CTEs move up beside the new rows' CTE, so the statement has one WITH.
    withs = [c.sql("trino", comments=False) for c in ctes.expressions] if ctes else []
    withs.append(f"{_q(FRESH)} AS ({body.sql('trino', comments=False)})")
    table = exp.to_table(target).sql("trino", identify=True)
    values = [k for k in columns if k not in key]
    same_key = " AND ".join(f"{{a}}.{_q(k)} IS NOT DISTINCT FROM {{b}}.{_q(k)}" for k in key)
    old_keys = ", ".join([*(f"o.{_q(c)}" if c in key else f"NULL AS {_q(c)}" for c in columns),
                          f"true AS {_q(GONE)}"])
    source = (f"WITH {', '.join(withs)}\n"
              f"SELECT {', '.join(_q(c) for c in columns)}, false AS {_q(GONE)} FROM {_q(FRESH)}\n"
              f"UNION ALL\nSELECT {old_keys} FROM {table} AS o\n"
              f"WHERE NOT EXISTS (SELECT 1 FROM {_q(FRESH)} AS f WHERE {same_key.format(a='f', b='o')})")
    clauses = [f"WHEN MATCHED AND s.{_q(GONE)} THEN DELETE"]
    if values:
        changed = " OR ".join(f"t.{_q(c)} IS DISTINCT FROM s.{_q(c)}" for c in values)
        clauses.append(f"WHEN MATCHED AND ({changed}) THEN UPDATE SET "
                       + ", ".join(f"{_q(c)} = s.{_q(c)}" for c in values))
    clauses.append(f"WHEN NOT MATCHED AND NOT s.{_q(GONE)} THEN INSERT ({', '.join(_q(c) for c in columns)}) "
                   f"VALUES ({', '.join(f's.{_q(c)}' for c in columns)})")
    return (f"MERGE INTO {table} AS t\nUSING (\n{source}\n) AS s\nON {same_key.format(a='t', b='s')}\n"
            + "\n".join(clauses))
