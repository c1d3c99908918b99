"""The declared rules as a gate inside a Glue job: the pydeequ suite runs on the DataFrame the job is about to
commit; a failed block rule stops the job before its commit with that rule's message, a failed warn rule is
logged. Only `run_suite` needs the Deequ jar; what it returns is judged by `decide`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import sqlglot
from sqlglot import exp

from lakeward.quality.anomaly import Bounds
from lakeward.quality.deequ import Compiled, Constraint, check_name, compile_checks, verification_suite
from lakeward.quality.rules import TableRules

FAILURE = "Failure"


class DeequGateError(RuntimeError):
    """A block rule failed in Deequ: the job stops before it commits."""


@dataclass
class Decision:
    blocking: list[str]
    warnings: list[str]
    checked: int  # constraints Deequ evaluated


def rules_for(definition: Path, table: str) -> TableRules:
    """The table's rules, defaults included, from the definition the job was given."""
    from lakeward.load_definition import load_definition
    from lakeward.quality.declare import load_rules

    rules = load_rules(load_definition(definition))
    if table not in rules:
        raise DeequGateError(f"{definition}: '{table}' is not a table the definition publishes "
                             f"(it publishes: {', '.join(sorted(rules))})")
    return rules[table]


def columns_of(c: Constraint) -> list[str]:
    if c.method == "satisfies":  # the columns the Spark SQL expression reads
        return sorted({col.name for col in sqlglot.parse_one(c.args[0], read="spark").find_all(exp.Column)})
    if c.method == "hasSize" or not c.args:
        return []
    return list(c.args[0]) if isinstance(c.args[0], list) else [c.args[0]]


def applicable(compiled: Compiled, columns: list[str]) -> Compiled:
    """Constraints on columns the DataFrame lacks (renamed by staging SQL later) are left to lakeward's gate."""
    present = set(columns)
    keep = [c for c in compiled.constraints if set(columns_of(c)) <= present]
    skipped = dict(compiled.uncompiled)
    for c in compiled.constraints:
        if c not in keep:
            skipped.setdefault(c.rule, f"column {sorted(set(columns_of(c)) - present)[0]} is not in the DataFrame")
    return replace(compiled, constraints=keep, uncompiled=skipped)


def run_suite(spark, frame, compiled: Compiled) -> list[dict]:  # pragma: no cover - needs the Deequ jar
    """Deequ's check results (check, check_level, constraint, constraint_status, constraint_message)."""
    from pydeequ.verification import VerificationResult

    result = verification_suite(spark, frame, compiled).run()
    return [row.asDict() for row in VerificationResult.checkResultsAsDataFrame(spark, result).collect()]


def decide(compiled: Compiled, rows: list[dict]) -> Decision:
    """Each result row is matched to its constraint by its check and position (Deequ keeps a check's order)."""
    blocking, warnings = [], []
    for level, out in (("Error", blocking), ("Warning", warnings)):
        constraints = [c for c in compiled.constraints if c.level == level]
        results = [r for r in rows if r["check"] == check_name(compiled.table, level)]
        if len(results) != len(constraints):
            raise DeequGateError(f"{compiled.table}: Deequ returned {len(results)} result(s) for {len(constraints)} "
                                 f"{level.lower()} constraint(s); the suite is not the one compiled")
        for c, r in zip(constraints, results, strict=True):
            if r["constraint_status"] == FAILURE:
                on = c.args[0] if c.method == "satisfies" else ", ".join(columns_of(c)) or "the row count"
                out.append(f"{compiled.table}: rule '{c.rule}' failed in Deequ ({c.method} on {on}): "
                           f"{r['constraint_message']}")
    return Decision(blocking, warnings, len(rows))


def gate(spark, frame, rules: TableRules, bounds: dict[str, Bounds] | None = None, *,
         run: Callable[..., list[dict]] = run_suite, log: Callable[[str], None] = print) -> Decision:
    """Check `frame` against `rules`; raises DeequGateError naming every failed block rule."""
    os.environ.setdefault("SPARK_VERSION", ".".join(spark.version.split(".")[:2]))  # pydeequ needs it to import
    compiled = applicable(compile_checks(rules, bounds), frame.columns)
    for rule, why in sorted(compiled.uncompiled.items()):
        log(f"{rules.table}: rule '{rule}' is left to lakeward's gate: {why}")
    if not compiled.constraints:
        return Decision([], [], 0)
    decision = decide(compiled, run(spark, frame, compiled))
    for message in decision.warnings:
        log(f"warning: {message}")
    if decision.blocking:
        raise DeequGateError("; ".join(decision.blocking))
    return decision
