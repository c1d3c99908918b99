"""The rules of one table compile into ONE aggregate query (Athena dialect), so the table is scanned once.

Every rule contributes named metrics (`rows`, `nulls:email`, `violations:status_values`, ...); rules that
share a metric share its expression. Parents of referential rules are joined as distinct keys, which
never multiplies the child's rows. Identifiers are quoted and literals escaped by sqlglot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlglot import exp

from lakeward import sql
from lakeward.quality.rules import Rule, TableRules

ALIAS = "t"


@dataclass(frozen=True)
class Metric:
    name: str
    expression: str  # Athena SQL over the table aliased `t`


def _col(name: str, alias: str = ALIAS) -> str:
    return exp.column(name, table=alias, quoted=True).sql("trino")


def _lit(value: object) -> str:
    return exp.Literal.string(str(value).lower() if isinstance(value, bool) else str(value)).sql("trino")


def _instant(moment: datetime) -> str:
    return f"from_iso8601_timestamp({_lit(moment.isoformat())})"


def _number(value: float) -> str:
    return repr(float(value))


def rule_metrics(rule: Rule, columns: set[str], end: datetime, parent: int) -> list[Metric]:
    """The metrics one rule needs; none for a rule whose columns the batch lacks (the contract reports it)."""
    needed = [rule.column_name] if rule.column_name else list(getattr(rule, "columns", []) or [])
    if rule.kind == "sql":
        needed = rule.columns_read
    if rule.kind != "schema" and any(c not in columns for c in needed):
        return []
    rows = Metric("rows", "count(*)")
    if rule.kind == "schema":
        return [rows] + [Metric(f"nulls:{c}", f"count_if({_col(c)} IS NULL)") for c in rule.required if c in columns]
    if rule.kind == "not_null":
        return [rows, Metric(f"nulls:{rule.column}", f"count_if({_col(rule.column)} IS NULL)")]
    if rule.kind == "unique":
        cols = [_col(c) for c in rule.columns]
        distinct = cols[0] if len(cols) == 1 else f"ROW({', '.join(cols)})"
        present = " AND ".join(f"{c} IS NOT NULL" for c in cols)
        return [rows, Metric(f"duplicates:{'+'.join(rule.columns)}",
                             f"count_if({present}) - count(DISTINCT {distinct})")]
    if rule.kind == "freshness":
        if rule.basis == "load_time":
            return [rows]
        return [rows, Metric(f"newest:{rule.column}", f"to_unixtime(CAST(max({_col(rule.column)}) AS TIMESTAMP))")]
    if rule.kind == "row_count":
        return [rows]
    if rule.kind == "accepted_values":
        values = ", ".join(_lit(v) for v in rule.values)
        column = _col(rule.column)
        return [rows, Metric(f"violations:{rule.rule_name}",
                             f"count_if({column} IS NOT NULL AND CAST({column} AS VARCHAR) NOT IN ({values}))")]
    if rule.kind == "range":
        column = _col(rule.column)
        outside = " OR ".join(
            ([f"{column} < {_number(rule.min)}"] if rule.min is not None else [])
            + ([f"{column} > {_number(rule.max)}"] if rule.max is not None else []))
        return [rows, Metric(f"violations:{rule.rule_name}", f"count_if({outside})"),
                Metric(f"min:{rule.column}", f"CAST(min({column}) AS DOUBLE)"),
                Metric(f"max:{rule.column}", f"CAST(max({column}) AS DOUBLE)")]
    if rule.kind == "sql":
        return [rows, Metric(f"violations:{rule.rule_name}", f"count_if(NOT coalesce(({rule.expect}), false))")]
    if rule.kind == "references":
        orphan = f"{_col(rule.column)} IS NOT NULL AND {_col('_lw_key', f'p{parent}')} IS NULL"
        out = [rows, Metric(f"orphans:{rule.rule_name}", f"count_if({orphan})")]
        if rule.grace_column and rule.grace_column in columns:
            late = f"{_col(rule.grace_column)} >= {_instant(end - rule.grace)}"
            out.append(Metric(f"orphans_in_grace:{rule.rule_name}", f"count_if({orphan} AND {late})"))
        return out
    raise ValueError(f"unknown rule kind {rule.kind}")


def compile_query(rules: TableRules, relation: str, columns: set[str], end: datetime, *,
                  skip: frozenset[str] = frozenset()) -> tuple[str, list[Metric]]:
    """(Athena SQL, metrics in column order) for one table; `relation` is what the query reads as `t`.
    Rules named in `skip` are left out (typed SQL that fails against a drifted batch)."""
    metrics: dict[str, Metric] = {}
    joins = []
    for n, rule in enumerate(rules.rules):
        if rule.rule_name in skip:
            continue
        for metric in rule_metrics(rule, columns, end, n):
            metrics.setdefault(metric.name, metric)
        if rule.kind == "references" and rule.column in columns:
            key = exp.column(rule.key, quoted=True).sql("trino")
            parent = exp.to_table(rule.table).sql("trino")
            joins.append(f"LEFT JOIN (SELECT DISTINCT {key} AS \"_lw_key\" FROM {parent}) AS \"p{n}\" "
                         f"ON {_col(rule.column)} = {_col('_lw_key', f'p{n}')}")
    ordered = list(metrics.values())
    select = ",\n       ".join(f"{m.expression} AS \"m{i}\"" for i, m in enumerate(ordered))
    text = f"SELECT {select}\nFROM {relation} AS {ALIAS}\n" + "\n".join(joins)
    return text, ordered


def to_duckdb(text: str) -> str:
    return sql.to_duckdb(sql.parse(text, "<quality metrics>"))
