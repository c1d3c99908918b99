"""Write-audit-publish for marts on an Iceberg branch: main only ever points at builds that passed their gate."""

from __future__ import annotations

from lakeward.lake import engine
from lakeward.lake.catalog import load_table, open_catalog
from lakeward.quality.audit_branch import BRANCH
from lakeward.runner import run
from tests.conftest import NIGHT
from tests.quality import scenario
from tests.quality.scenario import day_end, simulate_day
from tests.test_postgres_incremental import mart_rows, source_rows

MART = "marts.daily_revenue"
COLUMNS = "revenue_date, currency, gross_amount, refund_amount, net_amount, orders, buyers"
RAW = scenario.pipeline(("orders", "payments", "refunds"), marts=True)


def _rows_at(home, snapshot_id: int) -> list[tuple]:
    con = engine.duck()
    con.register("built", load_table(open_catalog(home), MART).scan(snapshot_id=snapshot_id).to_arrow())
    return [tuple(r) for r in con.execute(f"SELECT {COLUMNS} FROM built ORDER BY revenue_date, currency").fetchall()]


def test_a_reader_never_sees_a_failed_mart_build_and_a_fixed_rerun_publishes_it(tmp_path, pg_dsn, home):
    # A rule that holds for the history and breaks as soon as the first live day is in the mart.
    rules = {MART: [{"kind": "sql", "name": "no_live_days", "expect": f"revenue_date < DATE '{scenario.D0:%Y-%m-%d}'"}]}
    defn = scenario.write(tmp_path, rules=rules, raw=RAW)
    scenario.fill_history(pg_dsn)
    assert run(defn, home, end=scenario.D0, now=NIGHT).ok
    table = load_table(open_catalog(home), MART)
    published, history_rows = table.current_snapshot().snapshot_id, mart_rows(home)
    assert table.refs()[BRANCH].snapshot_id == published  # the first build passed and main moved to it

    simulate_day(pg_dsn, 0)
    result = run(defn, home, end=day_end(0), now=NIGHT)
    assert result.results[f"quality:{MART}"].status == "failed"
    table = load_table(open_catalog(home), MART)
    failed = table.refs()[BRANCH].snapshot_id
    assert failed == result.results[f"mart:{MART.removeprefix('marts.')}"].outcome.snapshot_id
    # main never pointed at the failed build: not now, not for a moment (its snapshot log says where it was).
    assert table.current_snapshot().snapshot_id == published
    assert failed not in {entry.snapshot_id for entry in table.history()}
    assert mart_rows(home) == history_rows
    # The failed build stays readable on its branch: exactly the mart SQL run on the source, live day included.
    on_branch = _rows_at(home, failed)
    assert on_branch == source_rows(pg_dsn)
    assert len(on_branch) > len(history_rows) and max(r[0] for r in on_branch) >= scenario.D0.date()

    # After the fix (the rule dropped) a rerun builds again, passes and moves main to that build.
    (tmp_path / "quality" / f"{MART}.yaml").unlink()
    fixed = scenario.write(tmp_path, rules={}, raw=RAW)
    again = run(fixed, home, end=day_end(0), now=NIGHT)
    assert again.ok, [(r.step.id, r.error) for r in again.failed()]
    table = load_table(open_catalog(home), MART)
    assert table.current_snapshot().snapshot_id == table.refs()[BRANCH].snapshot_id not in (published, failed)
    assert mart_rows(home) == source_rows(pg_dsn)
