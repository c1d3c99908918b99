"""Rule files: defaults from key and cursor, one format for all tables, errors that name file, line and key."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lakeward.definition import DefinitionError
from lakeward.quality.declare import load_rules
from tests.quality import scenario


def test_every_table_gets_uniqueness_freshness_and_the_contract_without_a_line(tmp_path):
    defn = scenario.write(tmp_path, rules={})
    rules = load_rules(defn)
    assert sorted(rules) == ["staging.postgres__orders", "staging.postgres__users"]
    for table in rules.values():
        kinds = {r.rule_name: (r.kind, r.severity) for r in table.rules}
        assert kinds == {"schema": ("schema", "block"), "unique:id": ("unique", "block"),
                         "freshness:updated_at": ("freshness", "warn")}
        fresh = next(r for r in table.rules if r.kind == "freshness")
        assert fresh.sla == timedelta(days=3)  # three cadences of a daily source
    assert [r.severity for r in rules["staging.postgres__orders"].rules if r.kind == "unique"] == ["block"]


def test_a_declared_rule_replaces_its_default_and_adds_to_the_rest(tmp_path):
    defn = scenario.write(tmp_path)
    orders = load_rules(defn)["staging.postgres__orders"]
    fresh = [r for r in orders.rules if r.kind == "freshness"]
    assert len(fresh) == 1 and fresh[0].sla == timedelta(hours=6)
    assert [r.rule_name for r in orders.rules if r.kind == "unique"] == ["unique:id"]
    assert len(orders.rules) == 10


def test_a_declared_load_time_freshness_replaces_the_cursor_default(tmp_path):
    defn = scenario.write(tmp_path, rules={"staging.postgres__users": [
        {"kind": "freshness", "basis": "load_time", "sla": "30d"}]})
    fresh = [r for r in load_rules(defn)["staging.postgres__users"].rules if r.kind == "freshness"]
    assert [(r.basis, r.column, r.sla) for r in fresh] == [("load_time", None, timedelta(days=30))]


@pytest.mark.parametrize(("text", "line", "key", "problem"), [
    ("rules:\n  - kind: not_null\n    column: email\n  - kind: uniq\n    columns: [id]\n", 4, "rules.1",
     "unknown rule kind 'uniq'"),
    ("rules:\n  - kind: not_null\n    column: email\n    max_nul_rate: 0.1\n", 4, "rules.0.max_nul_rate",
     "unknown key (check the spelling)"),
    ("rules:\n  - kind: references\n    column: user_id\n    table: staging.nowhere\n", 4, "rules.0.table",
     "'staging.nowhere' is not a table the definition publishes"),
    ("rules:\n  - kind: range\n    column: total\n    min: 5\n    max: 1\n", 2, "rules.0",
     "min 5.0 is above max 1.0"),
    ("rules:\n  - kind: sql\n    name: broken\n    expect: 'total >'\n", 2, "rules.0",
     "not a valid Athena/Trino expression"),
    ("rules:\n  - kind: freshness\n    column: updated_at\n    sla: soon\n", 4, "rules.0.sla", "soon"),
])
def test_a_bad_rule_file_names_file_line_key_and_problem(tmp_path, text, line, key, problem):
    defn = scenario.write(tmp_path, rules={})
    path = tmp_path / "quality" / "staging.postgres__orders.yaml"
    path.write_text(text)
    with pytest.raises(DefinitionError) as caught:
        load_rules(defn)
    err = caught.value
    assert (err.file, err.line, err.key) == (str(path), line, key)
    assert problem in err.problem
    assert str(err).startswith(f"{path}:{line}: {key}: ")


def test_rules_for_a_table_nobody_publishes_are_refused(tmp_path):
    defn = scenario.write(tmp_path, rules={})
    (tmp_path / "quality" / "staging.postgres__invoices.yaml").write_text("rules: []\n")
    with pytest.raises(DefinitionError, match="rules for 'staging.postgres__invoices', which the definition"):
        load_rules(defn)
