"""The headline KPIs the demo prints, each read from the mart that defines it (docs/metrics.md).

A KPI whose mart is not in the definition, or not built yet, is left out. Money stays per currency, in its mart's units.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from pyiceberg.catalog import Catalog

from lakeward.definition import Definition
from lakeward.lake import engine
from lakeward.lake.catalog import load_table


@dataclass(frozen=True)
class Kpi:
    name: str
    mart: str
    values: dict[str, object]  # per currency or per source


def _rows(catalog: Catalog, query: str) -> dict[str, object]:
    table = engine.query(catalog, query)
    return dict(zip(table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True))


def headline(defn: Definition, catalog: Catalog, today: date) -> list[Kpi]:
    """Yesterday's net revenue, current MRR, yesterday's funnel conversion and top campaign, from the marts present."""
    day = f"DATE '{today - timedelta(days=1):%Y-%m-%d}'"
    wanted = [
        ("net revenue yesterday (marketplace)", "daily_revenue",
         f"SELECT currency, net_amount FROM marts.daily_revenue WHERE revenue_date = {day} ORDER BY 1"),
        ("net revenue yesterday (Stripe, minor units)", "stripe_revenue",
         f"SELECT currency, sum(net_minor) FROM marts.stripe_revenue WHERE revenue_date = {day} "
         "GROUP BY 1 ORDER BY 1"),
        ("MRR (minor units)", "subscription_mrr",
         "SELECT currency, sum(mrr_minor) FROM marts.subscription_mrr WHERE is_active GROUP BY 1 ORDER BY 1"),
        ("funnel conversion yesterday (purchase sessions / sessions)", "funnel",
         f"SELECT source, round(CAST(sum(purchase_sessions) AS DOUBLE) / sum(sessions), 4) FROM marts.funnel "
         f"WHERE session_date = {day} GROUP BY 1 ORDER BY 1"),
        ("top campaign (linear credit of order revenue)", "marketing_attribution",
         "SELECT currency, max_by(campaign_key, credited) FROM (SELECT currency, campaign_key, "
         "sum(credited_minor) AS credited FROM marts.marketing_attribution WHERE model = 'linear' "
         "AND conversion_type = 'order' AND campaign_key <> '(none)' GROUP BY 1, 2) AS c GROUP BY 1 ORDER BY 1"),
    ]
    return [Kpi(name, mart, _rows(catalog, query)) for name, mart, query in wanted
            if mart in defn.marts and load_table(catalog, f"marts.{mart}") is not None]
