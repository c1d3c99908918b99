"""`lakeward demo` from an empty LAKEWARD_HOME, then `lakeward query`, checked against the source."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal

import psycopg

from lakeward import dag
from lakeward.demo import embedded_postgres
from lakeward.load_definition import load_definition
from tests.conftest import REPO
from tests.test_postgres_incremental import SOURCE_REVENUE


def lakeward(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lakeward", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)


def test_demo_then_query_matches_the_source_to_the_cent(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != embedded_postgres.DSN_VARIABLE}
    env |= {"LAKEWARD_HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    demo = lakeward("demo", "--hours", "3", "--days", "7", "--scale", "0.1", env=env)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    steps = len(dag.build(load_definition(REPO / "pipeline.yaml")))
    assert f"pipeline runs: {4 * steps} steps succeeded" in demo.stdout  # the initial load + 3 hourly runs
    assert "marts.daily_revenue" in demo.stdout

    query = lakeward("query", "select * from marts.daily_revenue order by revenue_date, currency",
                     "--format", "json", env=env)
    assert query.returncode == 0, query.stderr
    mart = [(r["revenue_date"], r["currency"], Decimal(r["gross_amount"]), Decimal(r["refund_amount"]),
             Decimal(r["net_amount"]), r["orders"], r["buyers"]) for r in json.loads(query.stdout)]

    # The demo's server stopped with it; start it again on the same files and ask the source directly.
    server = embedded_postgres.server_dsn(tmp_path / "home" / "postgres")
    with psycopg.connect(embedded_postgres.database_dsn(server)) as conn:
        source = [(str(r[0]), r[1], *r[2:]) for r in conn.execute(SOURCE_REVENUE).fetchall()]
    assert len({day for day, *_ in source}) >= 7  # revenue on every day of the week of history
    assert mart == source

    status = lakeward("status", env=env)
    objects = len(load_definition(REPO / "pipeline.yaml").objects())
    assert status.returncode == 0 and status.stdout.count("succeeded") == objects
