"""Which listed files belong to a window. `path_time` dates a file by the strftime fields of its path
(an hourly prefix `dt=%Y-%m-%d/hour=%H`): the folder an object store wrote it under when it arrived."""

from __future__ import annotations

import importlib
from datetime import UTC, date, datetime

from lakeward.definition import FilesObject
from lakeward.lake.landing import Window
from lakeward.sources.file_store import SourceFile, pattern_regex

SELECTORS = {
    "path_time": "lakeward.sources.file_select",
    "ga4": "lakeward.sources.ga4",
}


def selector(name: str):
    if name not in SELECTORS:
        raise KeyError(f"unknown file selector '{name}' (known: {', '.join(SELECTORS)})")
    return importlib.import_module(SELECTORS[name]).select


def path_time(path: str, spec: FilesObject) -> datetime | None:
    """The time a path carries in its strftime fields, or None when the pattern has none."""
    under = spec.prefix.strip("/")
    match = pattern_regex(spec.pattern).match(path[len(under) + 1:] if under else path)
    fields = match.groupdict() if match else {}
    if not fields:
        return None
    return datetime(int(fields["Y"]), int(fields.get("m") or 1), int(fields.get("d") or 1),
                    int(fields.get("H") or 0), tzinfo=UTC)


def path_day(path: str, spec: FilesObject, where: str) -> date:
    """The day a path names: what a file holds for day-based selection and partition replacement."""
    moment = path_time(path, spec)
    if moment is None:
        raise ValueError(f"{where}: file {path}: its path carries no date (pattern {spec.pattern})")
    return moment.date()


def select(files: list[SourceFile], window: Window, spec: FilesObject) -> list[SourceFile]:
    """Files dated inside [start, end); an undated pattern selects every file (the ledger skips old ones)."""
    kept = []
    for f in files:
        moment = path_time(f.path, spec)
        if moment is None or window.start <= moment < window.end:
            kept.append(f)
    return kept
