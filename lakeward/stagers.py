"""Stage steps other than the key merge, chosen per object by `stage_with` and imported on first use.

Each module exposes `stage(ctx, step) -> Outcome` and `candidate(ctx, step) -> pa.Table` (the rows it
would publish, for the quality gate); `steps.stage` dispatches here.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from lakeward.lake.landing import Manifest

STAGERS = {
    "compact_events": "lakeward.compaction.stage",
    "replace_partitions": "lakeward.stage_partitions",
}


def stager(name: str):
    return importlib.import_module(STAGERS[name]).stage


def candidate(name: str):
    """The rows a stager would publish for a step's batch, without publishing them (for the quality gate)."""
    return importlib.import_module(STAGERS[name]).candidate


def committed(landing: Path, kind: str, manifest: Manifest) -> None:
    """After a batch is in staging: a files source records its files as processed."""
    if kind == "files":
        from lakeward.sources import file_manifest

        file_manifest.mark_processed(landing, manifest)
