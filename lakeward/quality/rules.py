"""Declared quality rules: one format for every table, with defaults from the primary key and cursor.

A table's rules come from `quality/<namespace>.<table>.yaml` (a list under `rules:`), added to the defaults
every table gets: key uniqueness (block), freshness on the cursor (warn) and the schema contract against
the published table (block). A declared rule of the same kind and column replaces its default; a declared
unique or freshness rule replaces the default of its kind whatever its column.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

import sqlglot
from pydantic import Field, model_validator
from sqlglot import exp

from lakeward.definition import Definition, Duration, Identifier, QualifiedTable, Strict, staging_table

Severity = Literal["block", "warn"]
TYPE_NAME = r"^(integer|decimal(\(\d{1,2},\s*\d{1,2}\))?|floating|string|boolean|timestamp|date|binary)$"
Literal_ = str | int | float | bool


class Anomaly(Strict):
    """How far a metric may move from its own history: mean ± k·σ once `min_history` points exist,
    else ± `max_change` (relative) around their mean; `floor` is the smallest band (absolute)."""

    k: Annotated[float, Field(gt=0)] = 3.0
    min_history: Annotated[int, Field(ge=2)] = 7
    max_change: Annotated[float, Field(gt=0)] = 0.5
    floor: Annotated[float, Field(ge=0)] = 0.0


class RuleBase(Strict):
    name: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_:.]{0,80}$")] | None = None
    severity: Severity = "block"

    @property
    def column_name(self) -> str | None:
        return getattr(self, "column", None)

    @property
    def rule_name(self) -> str:
        if self.name:
            return self.name
        columns = getattr(self, "columns", None)
        target = self.column_name or ("+".join(columns) if columns else None)
        return f"{self.kind}:{target}" if target else self.kind  # type: ignore[attr-defined]


class SchemaRule(RuleBase):
    """The contract: declared column types and required (never null) columns; with no `columns`, the
    published table's columns and types are the contract, which is schema drift."""

    kind: Literal["schema"]
    columns: dict[Identifier, Annotated[str, Field(pattern=TYPE_NAME)]] = {}
    required: list[Identifier] = []


class NotNull(RuleBase):
    kind: Literal["not_null"]
    column: Identifier
    max_null_rate: Annotated[float, Field(ge=0, le=1)] = 0.0
    spike: bool = False  # also compare the null rate with its own history
    anomaly: Anomaly = Anomaly(floor=0.05)


class Unique(RuleBase):
    kind: Literal["unique"]
    columns: Annotated[list[Identifier], Field(min_length=1)]


class Freshness(RuleBase):
    """Newest cursor value (basis cursor) or last load that brought rows (basis load_time) vs the run's end."""

    kind: Literal["freshness"]
    column: Identifier | None = None
    basis: Literal["cursor", "load_time"] = "cursor"
    sla: Duration = timedelta(days=1)
    severity: Severity = "warn"

    @model_validator(mode="after")
    def _column_for_cursor(self) -> Freshness:
        if self.basis == "cursor" and self.column is None:
            raise ValueError("freshness on the cursor needs a column")
        return self


class RowCount(RuleBase):
    """Rows per batch against the batches of the same weekday and hour (windows of the same length)."""

    kind: Literal["row_count"]
    seasonality: Literal["weekday_hour", "weekday", "none"] = "weekday_hour"
    anomaly: Anomaly = Anomaly()
    severity: Severity = "warn"


class References(RuleBase):
    """Every child key is a key of the parent table, except rows younger than `grace` (late parents);
    up to `tolerance` (a share of the rows) may be orphans."""

    kind: Literal["references"]
    column: Identifier
    table: QualifiedTable
    key: Identifier = "id"
    grace: Duration = timedelta(0)
    grace_column: Identifier | None = None  # the child's time column the grace period counts on
    tolerance: Annotated[float, Field(ge=0, le=1)] = 0.0

    @model_validator(mode="after")
    def _grace_needs_column(self) -> References:
        if self.grace and self.grace_column is None:
            raise ValueError("a grace period needs grace_column (the child's time column, e.g. created_at)")
        return self


class AcceptedValues(RuleBase):
    kind: Literal["accepted_values"]
    column: Identifier
    values: Annotated[list[Literal_], Field(min_length=1)]


class Range(RuleBase):
    kind: Literal["range"]
    column: Identifier
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounded(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("a range needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


def _boolean_sql(text: str) -> str:
    """A custom assertion is one boolean expression over a row, in the Athena dialect; no subqueries."""
    try:
        tree = sqlglot.parse_one(text, read="trino", into=exp.Condition)
    except sqlglot.errors.ParseError as err:
        raise ValueError(f"not a valid Athena/Trino expression: {str(err).splitlines()[0]}") from None
    if tree.find(exp.Select, exp.Subquery):
        raise ValueError("a custom assertion is one row expression; subqueries are not allowed")
    return text


class SqlAssertion(RuleBase):
    """Rows where `expect` is not true are violations; at most `max_violations` are allowed."""

    kind: Literal["sql"]
    name: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_:.]{0,80}$")]
    expect: Annotated[str, Field(min_length=1)]
    max_violations: Annotated[int, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _parses(self) -> SqlAssertion:
        _boolean_sql(self.expect)
        return self

    @property
    def columns_read(self) -> list[str]:
        tree = sqlglot.parse_one(self.expect, read="trino", into=exp.Condition)
        return sorted({c.name for c in tree.find_all(exp.Column)})


Rule = Annotated[
    SchemaRule | NotNull | Unique | Freshness | RowCount | References | AcceptedValues | Range | SqlAssertion,
    Field(discriminator="kind"),
]
RULE_KINDS = ("schema", "not_null", "unique", "freshness", "row_count", "references", "accepted_values",
              "range", "sql")


class RuleFile(Strict):
    rules: list[Rule] = []


class TableRules(Strict):
    """Every rule of one table, defaults included, and what the defaults were derived from."""

    table: str
    rules: list[Rule]
    cursor: str | None = None


def defaults(key: list[str], cursor: str | None, sla: timedelta, unique: Severity = "block") -> list[Rule]:
    out: list[Rule] = [SchemaRule(kind="schema"), Unique(kind="unique", columns=key, severity=unique)]
    if cursor:
        out.append(Freshness(kind="freshness", column=cursor, sla=sla))
    return out


def _identity(rule: Rule) -> tuple[str, str | None]:
    # A table has one key and one notion of fresh: a declared unique or freshness rule replaces the default.
    return rule.kind, rule.column_name if rule.kind not in ("unique", "freshness") else None


def merge_rules(default: list[Rule], declared: list[Rule]) -> list[Rule]:
    """Declared rules replace the default of the same kind and column, and add to the rest."""
    replaced = {_identity(r) for r in declared}
    return [r for r in default if _identity(r) not in replaced] + list(declared)


def table_defaults(defn: Definition) -> dict[str, dict]:
    """Per published table, what its default rules come from: key, cursor, freshness SLA (a day, or three
    cadences) and how bad a repeated key in one batch is: a database snapshot cannot repeat a key, while
    APIs and event files deliver at least once (the merge keeps the latest)."""
    out: dict[str, dict] = {}
    for source, obj, spec in defn.objects():
        src = defn.sources[source]
        out[staging_table(source, obj)] = {
            "key": list(spec.primary_key), "cursor": spec.cursor, "sla": max(timedelta(days=1), 3 * src.cadence),
            "unique": "block" if src.kind == "postgres" else "warn"}
    for mart, spec in defn.marts.items():
        out[f"marts.{mart}"] = {"key": list(spec.key), "cursor": None, "sla": timedelta(days=1), "unique": "block"}
    return out

