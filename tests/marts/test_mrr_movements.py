"""mrr_movements against the Stripe account's own invoices, classified here in Python (docs/metrics.md rules)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from lakeward.demo.stripe_world import Rates
from lakeward.lake import engine
from lakeward.lake.catalog import open_catalog
from tests.conftest import copy_quality_rules, write_definition
from tests.stripe.conftest import OCT1, run, start_account

KINDS = ("new", "reactivation", "expansion", "contraction", "churn")


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def expected(invoices: list[dict]) -> dict[tuple, tuple]:
    paid = [i for i in invoices if i["status"] == "paid" and i["subscription"]]
    data_end = max(i["created"] for i in invoices)
    month = datetime.fromtimestamp(min(i["period_start"] for i in paid), UTC).date().replace(day=1)
    last = datetime.fromtimestamp(data_end, UTC).date().replace(day=1)
    months = []
    while month <= last:
        months.append(month)
        month = _next_month(month)
    subs = {i["subscription"]: i["currency"].upper() for i in paid}
    out: dict[tuple, list[int]] = defaultdict(lambda: [0] * 6)
    for sub, currency in subs.items():
        previous, ever = 0, False
        for m in months:
            end = datetime(*_next_month(m).timetuple()[:3], tzinfo=UTC).timestamp() - 1
            at = min(end, data_end)
            holding = [i for i in paid if i["subscription"] == sub and i["period_start"] <= at < i["period_end"]]
            mrr = 0
            if holding:
                inv = max(holding, key=lambda i: i["period_start"])
                yearly = inv["period_end"] - inv["period_start"] > 32 * 86_400
                mrr = int((inv["total"] / 12) + 0.5) if yearly else inv["total"]
            row = out[(m, currency)]
            if previous == 0 and mrr > 0:
                row[1 if ever else 0] += mrr
            elif previous > 0 and mrr > previous:
                row[2] += mrr - previous
            elif 0 < mrr < previous:
                row[3] += previous - mrr
            elif previous > 0 and mrr == 0:
                row[4] += previous
            row[5] += mrr
            ever = ever or mrr > 0
            previous = mrr
    return {k: tuple(v) for k, v in out.items()}


def test_mrr_movements_equal_the_invoices(marketplace_db, monkeypatch, tmp_path, home):
    truth, got = movements(marketplace_db, monkeypatch, tmp_path, home, Rates(), OCT1 + timedelta(days=2))
    assert got == truth
    assert sum(v[0] for v in truth.values()) > 0 and len({k[0] for k in truth}) >= 2


def test_every_kind_of_movement_occurs_and_equals_the_invoices(marketplace_db, monkeypatch, tmp_path, home):
    # Busier subscribers over three months: plan changes (expansion, contraction) and cancellations (churn).
    rates = Rates(subscribe=0.9, change_per_day=0.08, cancel_per_day=0.02, renewal_fails=0.5, retry_pays=0.8)
    voided: list[str] = []

    def void_renewals(world, at: datetime) -> None:
        """Reactivation needs a gap in a subscription's paid periods at a month end, which the account never
        makes on its own: in October the business voids two open (past due) monthly renewals whose period holds
        October's last second and cancels their retry; the subscriptions carry on to their next renewal."""
        october_end = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp()) - 1
        if len(voided) == 2 or at > OCT1 + timedelta(days=25):
            return
        for inv in sorted(world.current("invoices").values(), key=lambda i: i["id"]):
            if (len(voided) < 2 and inv["status"] == "open" and inv["billing_reason"] == "subscription_cycle"
                    and inv["period_end"] - inv["period_start"] < 32 * 86_400
                    and inv["period_start"] <= october_end < inv["period_end"]):
                stamp = int(at.timestamp()) - 1
                world.account.update("invoices", inv["id"], {
                    "status": "void", "next_payment_attempt": None,
                    "status_transitions": dict(inv["status_transitions"], voided_at=stamp)}, stamp, "invoice.voided")
                world.due = [d for d in world.due if not (d[2] == "retry" and d[3] == inv["id"])]
                voided.append(inv["id"])

    truth, got = movements(marketplace_db, monkeypatch, tmp_path, home, rates, OCT1 + timedelta(days=61),
                           marketplace_too=False, every_day=void_renewals)
    assert len(voided) == 2
    totals = {kind: sum(v[i] for v in truth.values()) for i, kind in enumerate(KINDS)}
    assert all(totals.values()), totals
    assert got == truth


def movements(dsn, monkeypatch, tmp_path, home, rates: Rates, until, marketplace_too: bool = True,
              every_day=lambda world, at: None) -> tuple[dict, dict]:
    """(classified from the account's invoices here, read from marts.mrr_movements) after running to `until`,
    a day at a time with `every_day(world, day_end)` after each day and a run at least every 20 days (well inside
    Stripe's 30-day events horizon)."""
    account = start_account(dsn, monkeypatch, rates=rates)
    try:
        def edit(raw: dict) -> None:
            raw["sources"]["stripe"]["initial_start"] = "2026-08-01T00:00:00Z"
            raw["sources"]["stripe"]["retry"] = {"attempts": 8, "base_delay": 0.05, "max_delay": 1}

        defn = copy_quality_rules(write_definition(tmp_path, edit, sources=("postgres", "stripe")))
        assert "mrr_movements" in defn.marts
        assert run(defn, home, OCT1).ok
        at, last_run = OCT1, OCT1
        while at < until:
            day_end = min(until, at + timedelta(days=1))
            account.advance(at, day_end, marketplace_too=marketplace_too)
            every_day(account.world, day_end)
            if day_end - last_run >= timedelta(days=20) or day_end == until:
                result = run(defn, home, day_end)
                assert result.ok, [r.error for r in result.failed()]
                last_run = day_end
            at = day_end
        truth = expected(list(account.world.current("invoices").values()))
    finally:
        account.api.stop()
    got = engine.query(open_catalog(home), """SELECT month, currency, new_minor, reactivation_minor, expansion_minor,
        contraction_minor, churn_minor, ending_mrr_minor FROM marts.mrr_movements""").to_pylist()
    return truth, {tuple(r.values())[:2]: tuple(r.values())[2:] for r in got}
