"""Recovery fixtures: a small source database per module and a definition cut down to what the finance
mart reads, so every crash, rerun and scenario stays fast on two shared cores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from lakeward.demo import embedded_postgres, marketplace
from lakeward.home import Home
from tests.conftest import REPO, write_definition

T0 = datetime(2026, 10, 1, tzinfo=UTC)
OBJECTS = ("orders", "payments", "refunds")


def finance_only(raw: dict) -> None:
    objects = raw["sources"]["postgres"]["objects"]
    raw["sources"]["postgres"]["objects"] = {k: v for k, v in objects.items() if k in OBJECTS}
    raw["marts"] = {"daily_revenue": raw["marts"]["daily_revenue"]}


def small_definition(folder: Path, edit=None):
    def both(raw):
        finance_only(raw)
        if edit:
            edit(raw)
    folder.mkdir(parents=True, exist_ok=True)
    return write_definition(folder, both)


def fresh_database(server: str, name: str, *, start=datetime(2026, 9, 1, tzinfo=UTC), end=T0,
                   scale: float = 0.03) -> str:
    dsn = embedded_postgres.database_dsn(server, name, fresh=True)
    with psycopg.connect(dsn) as conn:
        marketplace.create_schema(conn)
        marketplace.generate_history(conn, seed=5, scale=scale, start=start, end=end)
    return dsn


def use(monkeypatch, home_dir: Path, dsn: str) -> Home:
    monkeypatch.setenv("LAKEWARD_HOME", str(home_dir))
    monkeypatch.setenv(embedded_postgres.DSN_VARIABLE, dsn)
    return Home.from_env().ensure()


def lakeward_process(args: list[str], home_dir: Path, dsn: str, kill_at: str | None = None,
                     ) -> subprocess.CompletedProcess:
    """`python -m lakeward ...` as a real child process (the kill matrix SIGKILLs it)."""
    env = {**os.environ, "LAKEWARD_HOME": str(home_dir), embedded_postgres.DSN_VARIABLE: dsn}
    env.pop("LAKEWARD_KILL_AT", None)
    if kill_at:
        env["LAKEWARD_KILL_AT"] = kill_at
    return subprocess.run([sys.executable, "-m", "lakeward", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)


def uncommitted_landing(home: Home) -> list[Path]:
    return [p for p in home.landing.glob("*/*/*") if p.is_dir() and not (p / "manifest.json").exists()]


def alerts_of(home: Home) -> list[dict]:
    path = home.root / "alerts.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture(scope="module")
def module_source(pg_server, request) -> str:
    """One small seeded database shared by a module whose tests do not change it."""
    return fresh_database(pg_server, "r_" + request.module.__name__.rsplit(".", 1)[-1][:40])
