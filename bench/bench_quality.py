"""Quality metrics: one compiled query for a table's ten rules against one query per rule (ten scans).

Both run on DuckDB over the same in-memory table of orders; the ratio is per-rule time over one-query
time, measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

from lakeward.lake import engine
from lakeward.quality.compile_metrics import compile_query, to_duckdb
from lakeward.quality.rules import TableRules
from tests.quality.test_metrics_query import orders_rules

END = datetime(2026, 10, 20, tzinfo=UTC)


ORDERS = """
CREATE TABLE candidate AS
SELECT range AS id, range // 7 AS user_id, CASE WHEN range % 2 = 0 THEN 'paid' ELSE 'shipped' END AS status,
       'USD' AS currency, CAST(range % 256 AS DECIMAL(12, 2)) AS subtotal, CAST(4.99 AS DECIMAL(12, 2)) AS shipping,
       CAST(range % 256 + 4.99 AS DECIMAL(12, 2)) AS total_amount,
       TIMESTAMPTZ '2026-10-19 00:00:00+00' + INTERVAL (range % 86400) SECOND AS created_at,
       TIMESTAMPTZ '2026-10-19 00:00:00+00' + INTERVAL (range % 86400) SECOND AS updated_at
FROM range({rows})
"""


def timed(fn, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rules = orders_rules()
    con = engine.duck()
    con.execute(ORDERS.format(rows=args.rows))
    con.execute("CREATE SCHEMA staging")
    con.execute(f"CREATE TABLE staging.postgres__users AS SELECT range AS id FROM range({args.rows // 7 + 1})")
    columns = {row[0] for row in con.execute("DESCRIBE candidate").fetchall()}
    one, _ = compile_query(rules, "candidate", columns, END)
    each = [compile_query(TableRules(table=rules.table, rules=[r]), "candidate", columns, END)[0] for r in rules.rules]
    single = timed(lambda: con.execute(to_duckdb(one)).fetchall(), args.repeat)
    separate = timed(lambda: [con.execute(to_duckdb(q)).fetchall() for q in each], args.repeat)
    print(f"quality metrics, {len(rules.rules)} rules over {args.rows:,} rows: one query {single:.3f}s, "
          f"one query per rule {separate:.3f}s, ratio {separate / single:.2f}x")


if __name__ == "__main__":
    main()
