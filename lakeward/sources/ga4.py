"""Which GA4 export files a window reads: every day the window touches, each from one table only.

GA4 keeps adding late events to the daily table `events_YYYYMMDD` for 72 hours after its day, and keeps an
`events_intraday_YYYYMMDD` table for a day until the daily one exists. A day is read from its daily table
once that exists, else from its intraday table, never from both: reading both counts the day twice. With a
lookback of 3 days, each daily run re-reads every day that can still have changed since the last run.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from lakeward.definition import FilesObject
from lakeward.lake.landing import Window
from lakeward.sources.file_select import path_day
from lakeward.sources.file_store import SourceFile

INTRADAY = re.compile(r"(^|/)events_intraday_\d{8}(/|[^/]*$)")


def is_intraday(path: str) -> bool:
    return INTRADAY.search(path) is not None


def select(files: list[SourceFile], window: Window, spec: FilesObject) -> list[SourceFile]:
    """The files of each day overlapping [start, end): the daily table's, or the intraday's when no daily exists."""
    tables: dict[tuple[date, bool], list[SourceFile]] = {}
    for f in files:
        tables.setdefault((path_day(f.path, spec, "select ga4"), is_intraday(f.path)), []).append(f)
    chosen = []
    for (day, intraday), shards in sorted(tables.items(), key=lambda item: item[0]):
        starts = datetime.combine(day, time(0), tzinfo=UTC)
        if not (window.start < starts + timedelta(days=1) and starts < window.end):
            continue
        if intraday and (day, False) in tables:
            continue  # the daily table wins once it exists
        chosen += shards
    return sorted(chosen, key=lambda f: f.path)
