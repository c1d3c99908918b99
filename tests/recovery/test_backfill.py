"""Backfills through the normal path: resumable after kill -9, idempotent, never pulling the watermark back,
within the business-hours limits of the source."""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime, timedelta

import pytest

from lakeward import watermark
from lakeward.lake.catalog import load_table, open_catalog
from lakeward.recovery.backfill import backfill, windows
from lakeward.recovery.fingerprint import fingerprint
from lakeward.runner import run
from tests.conftest import NIGHT
from tests.recovery.conftest import T0, fresh_database, lakeward_process, small_definition, use

START = T0 - timedelta(days=90)
CHUNK = timedelta(days=15)
OFFICE = datetime(2026, 10, 5, 10, 0, tzinfo=UTC)  # a Monday inside the source's business hours


@pytest.fixture(scope="module")
def ninety_days(pg_server):
    return fresh_database(pg_server, "r_backfill90", start=START, end=T0, scale=0.02)


def test_windows_cover_the_range_exactly():
    parts = windows(START, T0, CHUNK)
    assert len(parts) == 6 and parts[0].start == START and parts[-1].end == T0
    assert all(a.end == b.start for a, b in zip(parts, parts[1:], strict=False))


def test_interrupted_backfill_resumes_to_the_same_warehouse(ninety_days, tmp_path, monkeypatch):
    defn = small_definition(tmp_path)
    whole = use(monkeypatch, tmp_path / "whole", ninety_days)
    done = backfill(defn, whole, "postgres", start=START, end=T0, chunk=CHUNK, now=NIGHT)
    assert done.windows == 6 and done.done_before == 0 and done.rows > 100
    expected = fingerprint(whole)

    home = use(monkeypatch, tmp_path / "interrupted", ninety_days)
    args = ["backfill", "--definition", str(defn.path), "--source", "postgres", "--start", START.isoformat(),
            "--end", T0.isoformat(), "--chunk", "15d"]
    killed = lakeward_process(args, home.root, ninety_days, kill_at="backfill.chunk_done#3")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    [state] = (home.root / "backfills").glob("*.json")
    assert len(json.loads(state.read_text())["done"]) == 2  # the third window finished; its progress was not saved

    resumed = backfill(defn, home, "postgres", start=START, end=T0, chunk=CHUNK, now=OFFICE)
    assert resumed.done_before == 2 and len(json.loads(state.read_text())["done"]) == 6
    assert fingerprint(home) == expected
    # Both leave the watermark where coverage from initial_start allows: the gap before START keeps it unset.
    assert (watermark.read(load_table(open_catalog(home), "staging.postgres__payments"))
            == watermark.read(load_table(open_catalog(whole), "staging.postgres__payments")))
    # Windows first read in office hours used the business-hours limits: one query at a time, small chunks.
    assert _limits(home, windows(START, T0, CHUNK)[3:]) == {(1, 20000)}
    assert _limits(whole, windows(START, T0, CHUNK)[3:]) == {(3, 250000)}


def _limits(home, parts) -> set[tuple[int, int]]:
    starts = {w.start.isoformat() for w in parts}
    manifests = [json.loads(m.read_text()) for m in home.landing.glob("postgres/*/*/manifest.json")]
    return {(m["stats"]["concurrency"], m["stats"]["chunk_rows"]) for m in manifests if m["window"]["start"] in starts}


def test_backfill_of_the_past_never_moves_the_watermark_back(ninety_days, tmp_path, monkeypatch):
    defn = small_definition(tmp_path)
    home = use(monkeypatch, tmp_path / "home", ninety_days)
    assert run(defn, home, end=T0, now=NIGHT).ok
    before = fingerprint(home, lineage=False)
    marks = {o: watermark.read(load_table(open_catalog(home), f"staging.postgres__{o}")) for o in
             ("orders", "payments")}
    again = backfill(defn, home, "postgres", start=START, end=START + CHUNK, chunk=CHUNK, now=NIGHT)
    assert again.windows == 1
    assert {o: watermark.read(load_table(open_catalog(home), f"staging.postgres__{o}")) for o in marks} == marks
    assert fingerprint(home, lineage=False) == before  # idempotent: a past window changes nothing
    twice = backfill(defn, home, "postgres", start=START, end=START + CHUNK, chunk=CHUNK, now=NIGHT)
    assert twice.done_before == 1 and twice.rows == 0
