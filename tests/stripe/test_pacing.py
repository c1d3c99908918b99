"""The pacer's schedule: both budgets hold, and an endpoint waiting for its turn never holds back the others."""

from __future__ import annotations

from lakeward.definition import StripeRateLimit
from lakeward.sources.stripe_pacing import Pacer


def test_slots_keep_both_budgets_and_fill_the_gaps_an_endpoint_leaves():
    # One request per 10 s per endpoint: the schedule spans 30 s, far more than any pause between the calls.
    pacer = Pacer(StripeRateLimit(overall=100, per_object=0.1))
    events = [pacer.reserve("events") for _ in range(4)]
    others = [pacer.reserve(obj) for obj in ("customers", "charges", "refunds")]
    # One endpoint: at least 1/0.1 s apart.
    assert all(b - a >= 10 - 1e-9 for a, b in zip(events, events[1:], strict=False))
    # The others take the free slots between the events' turns instead of queueing behind them.
    assert max(others) < events[-1]
    # Overall: no two requests share a 1/100 s slot.
    every = sorted(events + others)
    assert all(b - a >= 0.01 - 1e-9 for a, b in zip(every, every[1:], strict=False))
