"""The GA4 file selector: every day the window touches, from the daily table once it exists, else intraday."""

from __future__ import annotations

from datetime import UTC, datetime

from lakeward.lake.landing import Window
from lakeward.sources import ga4
from lakeward.sources.file_store import SourceFile


def _file(table: str, shard: int = 0) -> SourceFile:
    return SourceFile(f"analytics_1/{table}/{shard:012d}.parquet", 10, table)


def test_daily_wins_over_intraday_and_days_outside_the_window_are_left(ga4_defn):
    spec = ga4_defn.sources["ga4"].objects["events"]
    files = [_file("events_20261001"), _file("events_20261002"), _file("events_20261002", 1),
             _file("events_intraday_20261002"), _file("events_intraday_20261003"), _file("events_20260927")]
    spec = spec.model_copy(update={"prefix": "analytics_1"})
    window = Window(datetime(2026, 9, 30, 8, tzinfo=UTC), datetime(2026, 10, 3, 8, tzinfo=UTC))
    chosen = ga4.select(files, window, spec)
    assert chosen == [files[0], files[1], files[2], files[4]]
