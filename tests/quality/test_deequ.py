"""The declared rules compile into pydeequ Check calls that match the declarations and pydeequ's own API."""

from __future__ import annotations

import inspect
import os

from lakeward.quality.anomaly import Bounds
from lakeward.quality.deequ import compile_checks
from tests.quality.test_metrics_query import orders_rules

os.environ.setdefault("SPARK_VERSION", "3.5")  # pydeequ refuses to import without it
from pydeequ.checks import Check  # noqa: E402


def test_each_rule_compiles_to_the_check_that_says_the_same_thing():
    compiled = compile_checks(orders_rules(), {"row_count": Bounds(50.0, 150.0, "test")})
    calls = {(c.rule, c.method): c for c in compiled.constraints}
    assert {(rule, method) for rule, method in calls} == {
        ("unique:id", "hasUniqueness"),
        ("schema", "isComplete"),
        ("accepted_values:status", "isContainedIn"), ("currencies", "isContainedIn"),
        ("range:total_amount", "hasMin"), ("range:total_amount", "hasMax"),
        ("not_null:shipping", "isComplete"),
        ("total_is_subtotal_plus_shipping", "satisfies"),
        ("row_count", "hasSize"),
    }
    required = [c.args[0] for c in compiled.constraints if c.rule == "schema"]
    assert required == ["id", "user_id", "status", "currency", "total_amount"]
    assert calls[("unique:id", "hasUniqueness")].args == (["id"],)
    assert calls[("currencies", "isContainedIn")].args == ("currency", ["USD", "EUR", "GBP"])
    assert calls[("total_is_subtotal_plus_shipping", "satisfies")].args[0] == "total_amount = subtotal + shipping"
    assert {c.level for c in compiled.constraints if c.rule == "row_count"} == {"Warning"}
    assert {c.level for c in compiled.constraints if c.rule == "unique:id"} == {"Error"}
    # The assertions hold exactly where the declarations say.
    low, high = calls[("range:total_amount", "hasMin")].assertion, calls[("range:total_amount", "hasMax")].assertion
    assert low(0) and not low(-0.01) and high(100000) and not high(100000.01)
    size = calls[("row_count", "hasSize")].assertion
    assert size(50) and size(150) and not size(49) and not size(151)
    assert calls[("unique:id", "hasUniqueness")].assertion(1.0) is True
    assert calls[("unique:id", "hasUniqueness")].assertion(0.99) is False
    assert set(compiled.uncompiled) == {"freshness:updated_at", "references:user_id", "schema"}


def test_every_compiled_call_binds_to_the_pydeequ_check_method():
    for c in compile_checks(orders_rules(), {"row_count": Bounds(1.0, 2.0, "test")}).constraints:
        args = (*c.args, c.assertion) if c.assertion is not None else c.args
        inspect.signature(getattr(Check, c.method)).bind(None, *args, hint=c.rule)


def test_a_spike_band_from_history_becomes_a_completeness_floor(tmp_path):
    from lakeward.quality.declare import load_rules
    from tests.quality import scenario

    users = load_rules(scenario.write(tmp_path))["staging.postgres__users"]
    compiled = compile_checks(users, {"not_null:full_name": Bounds(None, 0.3, "test")})
    checks = [c for c in compiled.constraints if c.rule == "not_null:full_name"]
    assert [c.method for c in checks] == ["hasCompleteness", "hasCompleteness"]
    absolute, spike = (c.assertion for c in checks)
    assert absolute(0.11) and not absolute(0.09)  # at most 90% null
    assert spike(0.7) and not spike(0.69)  # at most 30% null, from history
