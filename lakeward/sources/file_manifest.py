"""The file list of a landing batch and the ledger of files already staged, by path and change tag.

The file list sits beside the batch's manifest (`source_files.json`). The ledger gets a batch's list only
after its data is committed to staging: a crash in between means those files are read again, which the
key merge absorbs; the reverse order could lose them.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from lakeward.lake.landing import BatchWriter, Manifest
from lakeward.sources.file_store import SourceFile

FILE_LIST = "source_files.json"
LEDGER = "_processed"


def write_file_list(writer: BatchWriter, files: list[SourceFile]) -> None:
    (writer.dir / FILE_LIST).write_text(json.dumps([asdict(f) for f in files], indent=1))


def read_file_list(landing: Path, manifest: Manifest) -> list[SourceFile]:
    path = landing / manifest.source / manifest.object / manifest.batch_id / FILE_LIST
    return [SourceFile(**entry) for entry in json.loads(path.read_text())]


def mark_processed(landing: Path, manifest: Manifest) -> None:
    """Record the batch's files as staged (call after the staging commit)."""
    folder = landing / manifest.source / manifest.object / LEDGER
    folder.mkdir(parents=True, exist_ok=True)
    files = read_file_list(landing, manifest)
    tmp = folder / f"{manifest.batch_id}.json.tmp"
    tmp.write_text(json.dumps([[f.path, f.etag] for f in files]))
    tmp.replace(folder / f"{manifest.batch_id}.json")


def processed(landing: Path, source: str, obj: str, except_batch: str) -> set[tuple[str, str]]:
    """(path, tag) of every file staged by a batch other than `except_batch`."""
    folder = landing / source / obj / LEDGER
    seen: set[tuple[str, str]] = set()
    for entry in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        if entry.stem != except_batch:
            seen.update((path, tag) for path, tag in json.loads(entry.read_text()))
    return seen
