"""The same declared rules as a pydeequ VerificationSuite, run inside a Glue job before it commits.

`compile_checks` is plain data (method, arguments, assertion), so it is testable without Spark or the Deequ
jar; `verification_suite` turns it into pydeequ objects where the jar is on the job's classpath. Rules
Deequ cannot express (freshness on history, references across tables, the type contract, anomaly bands
with no history) are listed in `uncompiled`: lakeward judges those from the metrics query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import sqlglot

from lakeward.quality.anomaly import Bounds
from lakeward.quality.rules import Rule, TableRules


@dataclass(frozen=True)
class Constraint:
    rule: str
    level: str  # Error (block) | Warning (warn)
    method: str  # a pydeequ Check method
    args: tuple
    assertion: Callable[[float], bool] | None = field(default=None, compare=False)


@dataclass
class Compiled:
    table: str
    constraints: list[Constraint]
    uncompiled: dict[str, str]  # rule -> why lakeward judges it instead


def _level(rule: Rule) -> str:
    return "Error" if rule.severity == "block" else "Warning"


def _spark_sql(text: str) -> str:
    return sqlglot.transpile(text, read="trino", write="spark")[0]


def compile_checks(rules: TableRules, bounds: dict[str, Bounds] | None = None) -> Compiled:
    """`bounds` are the anomaly bands lakeward computed from `audit.quality_metrics` (rule name -> band)."""
    bounds = bounds or {}
    out: list[Constraint] = []
    skipped: dict[str, str] = {}
    for rule in rules.rules:
        name, level = rule.rule_name, _level(rule)

        def add(method: str, *args, assertion=None, _name=name, _level=level) -> None:
            out.append(Constraint(_name, _level, method, args, assertion))

        band = bounds.get(name)
        if rule.kind == "unique":
            add("hasUniqueness", list(rule.columns), assertion=lambda u: u == 1.0)
        elif rule.kind == "not_null":
            if rule.max_null_rate == 0:
                add("isComplete", rule.column)
            else:
                add("hasCompleteness", rule.column, assertion=lambda c, r=rule.max_null_rate: c >= 1 - r)
            if rule.spike and band is not None:
                add("hasCompleteness", rule.column, assertion=lambda c, hi=band.upper: c >= 1 - hi)
        elif rule.kind == "schema":
            for column in rule.required:
                add("isComplete", column)
            skipped[name] = "column types are compared with the contract from the DataFrame schema"
        elif rule.kind == "accepted_values":
            add("isContainedIn", rule.column, [str(v) for v in rule.values])
        elif rule.kind == "range":
            if rule.min is not None:
                add("hasMin", rule.column, assertion=lambda m, lo=rule.min: m >= lo)
            if rule.max is not None:
                add("hasMax", rule.column, assertion=lambda m, hi=rule.max: m <= hi)
        elif rule.kind == "sql" and rule.max_violations == 0:
            add("satisfies", _spark_sql(rule.expect), name, assertion=lambda share: share == 1.0)
        elif rule.kind == "row_count" and band is not None:
            add("hasSize", assertion=lambda n, b=band: b.holds(n))
        else:
            skipped[name] = {
                "freshness": "judged against the newest value in the metrics history",
                "references": "needs the parent table: judged by the metrics query's join",
                "row_count": "no history yet: the band is learned first",
                "sql": "a violation budget above zero is judged from the metrics query",
            }[rule.kind]
    return Compiled(rules.table, out, skipped)


def check_name(table: str, level: str) -> str:
    """The description of the Check holding one level's constraints; results are matched back by it."""
    return f"{table} ({level.lower()})"


def verification_suite(spark, frame, compiled: Compiled):
    """A pydeequ VerificationSuite over a Spark DataFrame (needs the Deequ jar: see docs/quality.md)."""
    from pydeequ.checks import Check, CheckLevel
    from pydeequ.verification import VerificationSuite

    checks = {level: Check(spark, getattr(CheckLevel, level), check_name(compiled.table, level))
              for level in ("Error", "Warning")}
    for c in compiled.constraints:
        args = (*c.args, c.assertion) if c.assertion is not None else c.args
        checks[c.level] = getattr(checks[c.level], c.method)(*args, hint=c.rule)
    suite = VerificationSuite(spark).onData(frame)
    for check in checks.values():
        suite = suite.addCheck(check)
    return suite
