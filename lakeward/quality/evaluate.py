"""Judge one table's measured metrics against its rules; every verdict carries a message a person can act on:
the table, the column and the numbers."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from lakeward.quality import anomaly
from lakeward.quality.rules import Rule, TableRules

FAMILIES = (
    ("integer", pa.types.is_integer), ("decimal", pa.types.is_decimal), ("floating", pa.types.is_floating),
    ("string", lambda t: pa.types.is_string(t) or pa.types.is_large_string(t)), ("boolean", pa.types.is_boolean),
    ("timestamp", pa.types.is_timestamp), ("date", pa.types.is_date),
    ("binary", lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t) or isinstance(t, pa.UuidType)),
)


@dataclass
class Audit:
    """What one gate looks at: the candidate's schema and metric values, and the table's history."""

    table: str
    window_start: datetime | None
    window_end: datetime
    schema: pa.Schema
    contract: pa.Schema | None  # the published table's schema, the default contract
    values: dict[str, float | None]
    history: list[dict] = field(default_factory=list)


@dataclass
class Verdict:
    rule: Rule
    status: str  # pass | warn | fail | learning
    message: str
    observed: float | None = None
    lower: float | None = None
    upper: float | None = None
    anomalous: list[str] = field(default_factory=list)  # metrics that must not teach the history


def family(arrow_type: pa.DataType) -> str:
    if isinstance(arrow_type, pa.ExtensionType) and not isinstance(arrow_type, pa.UuidType):
        arrow_type = arrow_type.storage_type
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return f"list<{family(arrow_type.value_type)}>"
    if pa.types.is_struct(arrow_type):
        return "struct<" + ", ".join(f"{f.name}: {family(f.type)}" for f in arrow_type) + ">"
    return next((name for name, test in FAMILIES if test(arrow_type)), str(arrow_type))


def duration(delta: timedelta) -> str:
    hours = delta / timedelta(hours=1)
    return f"{hours / 24:g}d" if hours >= 48 and hours % 24 == 0 else f"{hours:g}h"


def _type_name(arrow_type: pa.DataType) -> str:
    kind = family(arrow_type)
    return f"decimal({arrow_type.precision},{arrow_type.scale})" if kind == "decimal" else kind


def _matches(declared: str, arrow_type: pa.DataType) -> bool:
    return declared.replace(" ", "") == _type_name(arrow_type) if "(" in declared else declared == family(
        arrow_type)


def _pct(x: float) -> str:
    return f"{x:.1%}"


def _series(history: list[dict], metric: str, *, accepted_only: bool = True) -> dict[tuple, dict]:
    """Per past batch (run, window end): its metric values, for batches where `metric` was accepted."""
    batches: dict[tuple, dict] = defaultdict(dict)
    for row in history:
        batches[(row["run_id"], row["window_end"])][row["metric"]] = row
    return {k: v for k, v in batches.items()
            if metric in v and (v[metric]["accepted"] or not accepted_only) and v[metric]["value"] is not None}


def evaluate(rules: TableRules, audit: Audit) -> list[Verdict]:
    out = []
    for rule in rules.rules:
        try:
            out.append(_judge(rule, audit))
        except KeyError:  # its metric was not measured: the batch lacks what the rule reads, or has another type
            out.append(_fired(rule, f"{audit.table}: rule {rule.rule_name} could not be measured on this batch "
                                    f"({_why_unmeasured(rule, audit.schema)})"))
    return out


def _why_unmeasured(rule: Rule, schema: pa.Schema) -> str:
    read = rule.columns_read if rule.kind == "sql" else [rule.column_name] if rule.column_name else []
    missing = [c for c in read if c not in schema.names]
    if missing:
        return f"it reads column '{missing[0]}', which is not in the batch"
    return "; ".join(f"column '{c}' is {_type_name(schema.field(c).type)}" for c in read) or "no metric"


def _fired(rule: Rule, message: str, **kw) -> Verdict:
    return Verdict(rule, "fail" if rule.severity == "block" else "warn", message, **kw)


def _judge(rule: Rule, audit: Audit) -> Verdict:
    t, v = audit.table, audit.values
    column = rule.column_name
    if column and rule.kind != "freshness" and column not in audit.schema.names:
        return _fired(rule, f"{t}: column '{column}' (rule {rule.rule_name}) is not in the batch")
    rows = int(v.get("rows") or 0)
    if rule.kind == "schema":
        return _schema(rule, audit, rows)
    if rule.kind == "not_null":
        return _not_null(rule, audit, rows)
    if rule.kind == "unique":
        missing = [c for c in rule.columns if c not in audit.schema.names]
        if missing:
            return _fired(rule, f"{t}: key column '{missing[0]}' is not in the batch")
        dupes = int(v[f"duplicates:{'+'.join(rule.columns)}"] or 0)
        if dupes:
            return _fired(rule, f"{t}: {dupes} duplicate key(s) on ({', '.join(rule.columns)}) in {rows} rows",
                          observed=dupes, upper=0)
        return Verdict(rule, "pass", f"{t}: key ({', '.join(rule.columns)}) unique in {rows} rows", dupes, upper=0)
    if rule.kind == "freshness":
        return _freshness(rule, audit, rows)
    if rule.kind == "row_count":
        return _row_count(rule, audit, rows)
    if rule.kind == "references":
        orphans = int(v[f"orphans:{rule.rule_name}"] or 0)
        late = int(v.get(f"orphans_in_grace:{rule.rule_name}") or 0)
        counted = orphans - late
        allowed = rule.tolerance * rows
        text = (f"{t}: {counted} of {rows} rows have a {rule.column} not in {rule.table}.{rule.key} "
                f"({_pct(counted / rows if rows else 0)}, tolerance {_pct(rule.tolerance)}); "
                f"{late} more within the {duration(rule.grace)} grace period")
        if counted > allowed:
            return _fired(rule, text, observed=counted, upper=allowed)
        return Verdict(rule, "pass", text, counted, upper=allowed)
    if rule.kind in ("accepted_values", "range", "sql"):
        return _violations(rule, audit, rows)
    raise ValueError(f"unknown rule kind {rule.kind}")


def _schema(rule: Rule, audit: Audit, rows: int) -> Verdict:
    t = audit.table
    have = {f.name: f.type for f in audit.schema}
    if rule.columns:
        expected = dict(rule.columns)
        wrong = [(c, d, have[c]) for c, d in expected.items() if c in have and not _matches(d, have[c])]
    else:
        contract = [f for f in audit.contract or [] if not f.name.startswith("_lw_")]
        expected = {f.name: _type_name(f.type) for f in contract}
        wrong = [(f.name, _type_name(f.type), have[f.name]) for f in contract
                 if f.name in have and family(f.type) != family(have[f.name])]
    # An empty batch says nothing about which fields a source sends (APIs omit what no row carries).
    missing = [c for c in expected if c not in have] if rows else []
    problems = [f"column '{c}' is missing from the batch (the contract has it as {expected[c]})" for c in missing]
    problems += [f"column '{c}' changed type from {d} to {_type_name(got)}" for c, d, got in wrong]
    for c in rule.required:
        nulls = int(audit.values.get(f"nulls:{c}") or 0)
        if c not in have:
            problems.append(f"required column '{c}' is missing from the batch")
        elif nulls:
            problems.append(f"required column '{c}' is null in {nulls} of {rows} rows")
    if problems:
        return _fired(rule, f"{t}: " + "; ".join(problems), observed=len(problems), upper=0)
    return Verdict(rule, "pass", f"{t}: {len(expected)} columns match the contract", 0, upper=0)


def _not_null(rule, audit: Audit, rows: int) -> Verdict:
    t, c = audit.table, rule.column
    nulls = int(audit.values.get(f"nulls:{c}") or 0)
    rate = nulls / rows if rows else 0.0
    if rate > rule.max_null_rate:
        return _fired(rule, f"{t}: column '{c}' is null in {nulls} of {rows} rows ({_pct(rate)}), above the "
                      f"allowed {_pct(rule.max_null_rate)}", observed=rate, upper=rule.max_null_rate,
                      anomalous=[f"nulls:{c}"])
    if not rule.spike or not rows:
        return Verdict(rule, "pass", f"{t}: column '{c}' null in {nulls} of {rows} rows", rate,
                       upper=rule.max_null_rate)
    past = [float(b[f"nulls:{c}"]["value"]) / b["rows"]["value"]
            for b in _series(audit.history, f"nulls:{c}").values() if "rows" in b and b["rows"]["value"]]
    band = anomaly.bounds(past, rule.anomaly, upper_only=True)
    if band is None:
        return Verdict(rule, "learning", f"{t}: null rate of '{c}' is {_pct(rate)}; no history yet", rate)
    if not band.holds(rate):
        return _fired(rule, f"{t}: null rate of '{c}' jumped to {_pct(rate)} ({nulls} of {rows} rows); expected "
                      f"at most {_pct(band.upper)} ({band.basis})", observed=rate, upper=band.upper,
                      anomalous=[f"nulls:{c}"])
    return Verdict(rule, "pass", f"{t}: null rate of '{c}' {_pct(rate)} within {band.basis}", rate,
                   upper=band.upper)


def _freshness(rule, audit: Audit, rows: int) -> Verdict:
    t, end = audit.table, audit.window_end
    if rule.basis == "cursor":
        name = f"newest:{rule.column}"
        seen = [r["value"] for r in audit.history if r["metric"] == name and r["value"] is not None]
        seen += [audit.values[name]] if audit.values.get(name) is not None else []
        what = f"newest {rule.column}"
    else:
        seen = [r["window_end"].timestamp() for r in audit.history if r["metric"] == "rows" and r["value"]]
        seen += [end.timestamp()] if rows else []
        what = "last load with rows"
    if not seen:  # nothing ever loaded: the row counts speak for an empty source, freshness cannot
        return Verdict(rule, "learning", f"{t}: no {what} yet; the SLA is {duration(rule.sla)}")
    newest = datetime.fromtimestamp(max(seen), UTC)
    age = end - newest
    hours = age / timedelta(hours=1)
    text = (f"{t}: {what} is {newest:%Y-%m-%d %H:%M} UTC, {hours:.1f}h before the run's end "
            f"{end:%Y-%m-%d %H:%M} UTC; the SLA is {duration(rule.sla)}")
    if age > rule.sla:
        return _fired(rule, text, observed=age.total_seconds(), upper=rule.sla.total_seconds())
    return Verdict(rule, "pass", text, age.total_seconds(), upper=rule.sla.total_seconds())


def _row_count(rule, audit: Audit, rows: int) -> Verdict:
    t, end = audit.table, audit.window_end
    span = end - audit.window_start if audit.window_start else None

    def comparable(batch: dict) -> bool:
        row = batch["rows"]
        start = row["window_start"]
        if span is not None and (start is None or abs((row["window_end"] - start) - span) > timedelta(seconds=1)):
            return False  # a window of another length (an initial load, a backfill) is another quantity
        same_day = row["weekday"] == end.weekday()
        return {"none": True, "weekday": same_day, "weekday_hour": same_day and row["hour"] == end.hour}[
            rule.seasonality]

    past = [float(b["rows"]["value"]) for b in _series(audit.history, "rows").values() if comparable(b)]
    band = anomaly.bounds(past, rule.anomaly)
    season = {"none": "", "weekday": " of the same weekday", "weekday_hour": " of the same weekday and hour"}[
        rule.seasonality]
    if band is None:
        return Verdict(rule, "learning", f"{t}: {rows} rows in this batch; no comparable batches{season} yet", rows)
    text = f"{t}: {rows} rows in this batch; expected {band.lower:.0f} to {band.upper:.0f} ({band.basis}{season})"
    if not band.holds(rows):
        return _fired(rule, text, observed=rows, lower=band.lower, upper=band.upper, anomalous=["rows"])
    return Verdict(rule, "pass", text, rows, band.lower, band.upper)


def _violations(rule, audit: Audit, rows: int) -> Verdict:
    t = audit.table
    bad = int(audit.values[f"violations:{rule.rule_name}"] or 0)  # KeyError: not measured, reported as such
    allowed = getattr(rule, "max_violations", 0)
    if rule.kind == "accepted_values":
        what = f"have {rule.column} outside {rule.values}"
    elif rule.kind == "range":
        lo, hi = audit.values.get(f"min:{rule.column}"), audit.values.get(f"max:{rule.column}")
        what = f"have {rule.column} outside [{rule.min}, {rule.max}] (observed min {lo}, max {hi})"
    else:
        what = f"break '{rule.rule_name}' ({rule.expect})"
    text = f"{t}: {bad} of {rows} rows {what}"
    if bad > allowed:
        return _fired(rule, text, observed=bad, upper=allowed)
    return Verdict(rule, "pass", text, bad, upper=allowed)
