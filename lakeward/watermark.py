"""Watermarks live in the staging table's own properties, set in the same commit as the data they cover.

So a watermark can never run ahead of its data: the commit either lands with both or with neither.
"""

from __future__ import annotations

from datetime import datetime

from pyiceberg.table import Table

from lakeward.definition import ObjectSpec, SourceBase
from lakeward.lake.landing import Window

PROPERTY = "lakeward.watermark"


def read(table: Table | None) -> datetime | None:
    value = table.properties.get(PROPERTY) if table is not None else None
    return datetime.fromisoformat(value) if value else None


def plan(source: SourceBase, spec: ObjectSpec, watermark: datetime | None,
         start: datetime | None, end: datetime) -> Window:
    """The window to read: an explicit start, else the watermark less the lookback overlap
    (to catch rows committed late with an older cursor), else the source's initial start."""
    if start is None:
        start = max(watermark - spec.lookback, source.initial_start) if watermark else source.initial_start
    return Window(start, end)


def advance(watermark: datetime | None, window: Window, initial_start: datetime) -> datetime | None:
    """Move forward only over contiguous coverage, and never backwards."""
    covered_from = watermark or initial_start
    if window.start > covered_from:
        return watermark  # a window beyond a gap: the gap is not covered yet
    return max(filter(None, (watermark, window.end)))
