"""The landing zone: immutable Parquet batches, one folder per deterministic batch id.

A batch is committed when its manifest exists; the manifest is written last, so a crash mid-write leaves
an uncommitted folder that the next attempt at the same window overwrites key by key. A committed batch
is never rewritten unless a re-extract is asked for, which makes a rerun replay exactly what was read.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lakeward.recovery import faults
from lakeward.version import code_version

MANIFEST = "manifest.json"
FILE_ROWS = 1_000_000


@dataclass(frozen=True)
class Window:
    """A half-open extraction window [start, end) in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window bounds must be timezone-aware")
        if self.start >= self.end:
            raise ValueError(f"empty window: start {self.start.isoformat()} is not before end {self.end.isoformat()}")

    def as_dict(self) -> dict[str, str]:
        return {"start": _iso(self.start), "end": _iso(self.end)}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def batch_id(source: str, obj: str, window: Window) -> str:
    """Deterministic: the same (source, object, window) always lands under the same id."""
    key = f"{source}/{obj}/{_iso(window.start)}/{_iso(window.end)}"
    return hashlib.sha256(key.encode()).hexdigest()[:20]


@dataclass
class Manifest:
    batch_id: str
    source: str
    object: str
    window: dict[str, str]
    row_count: int
    files: list[dict]
    code_version: str
    extracted_at: str
    stats: dict = field(default_factory=dict)

    @property
    def window_obj(self) -> Window:
        return Window(datetime.fromisoformat(self.window["start"]), datetime.fromisoformat(self.window["end"]))


class LandingError(RuntimeError):
    """A landing batch is missing or does not match its manifest."""


class BatchWriter:
    """Streams record batches into part files, then commits them with a manifest.

    Several extraction streams may write at once: each stream has its own part files."""

    def __init__(self, root: Path, source: str, obj: str, window: Window):
        self.source, self.obj, self.window = source, obj, window
        self.id = batch_id(source, obj, window)
        self.dir = root / source / obj / self.id
        self._streams: dict[int, _Stream] = {}
        self._lock = threading.Lock()

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self._streams.values())

    def begin(self) -> BatchWriter:
        # Uncommit first: a reader must never pair an old manifest with new part files.
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / MANIFEST).unlink(missing_ok=True)
        for stale in self.dir.glob("part-*.parquet"):
            stale.unlink()
        return self

    def write(self, batch: pa.RecordBatch, stream: int = 0) -> None:
        """Append rows; a given stream must write from one thread only."""
        with self._lock:
            part = self._streams.setdefault(stream, _Stream(self.dir, stream))
        part.write(batch)

    def commit(self, schema: pa.Schema, stats: dict | None = None) -> Manifest:
        files = []
        for stream in sorted(self._streams):
            files += self._streams[stream].close()
        if not files:  # An empty window still lands: its manifest proves the window was read.
            pq.write_table(schema.empty_table(), self.dir / "part-00-00000.parquet", compression="zstd")
            files.append({"path": "part-00-00000.parquet", "rows": 0})
        for entry in files:
            path = self.dir / entry["path"]
            entry["sha256"], entry["bytes"] = sha256_file(path), path.stat().st_size
        manifest = Manifest(
            self.id, self.source, self.obj, self.window.as_dict(), self.rows, files,
            code_version(), _iso(datetime.now(UTC)), stats or {},
        )
        tmp = self.dir / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(asdict(manifest), indent=2))
        faults.reached("landing.before_manifest")
        tmp.replace(self.dir / MANIFEST)  # atomic: the batch is committed from this instant
        return manifest


class _Stream:
    """The part files of one extraction stream, rolled over every FILE_ROWS rows."""

    def __init__(self, folder: Path, number: int):
        self.folder, self.number = folder, number
        self.files: list[dict] = []
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._file_rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        if self._writer is not None and (self._writer.schema != batch.schema or self._file_rows >= FILE_ROWS):
            self._writer.close()
            self._writer = None
        if self._writer is None:
            path = self.folder / f"part-{self.number:02d}-{len(self.files):05d}.parquet"
            self._writer = pq.ParquetWriter(path, batch.schema, compression="zstd")
            self.files.append({"path": path.name, "rows": 0})
            self._file_rows = 0
        self._writer.write_batch(batch)
        faults.reached("landing.mid_write", str(self.folder))
        self._file_rows += batch.num_rows
        self.files[-1]["rows"] += batch.num_rows
        self.rows += batch.num_rows

    def close(self) -> list[dict]:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        return self.files


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def committed(root: Path, source: str, obj: str, window: Window) -> Manifest | None:
    path = root / source / obj / batch_id(source, obj, window) / MANIFEST
    return Manifest(**json.loads(path.read_text())) if path.exists() else None


def read_batch(root: Path, manifest: Manifest) -> pa.Table:
    """The batch's rows, after checking every file against the sha256 its manifest recorded."""
    folder = root / manifest.source / manifest.object / manifest.batch_id
    tables = []
    for entry in manifest.files:
        path = folder / entry["path"]
        if not path.exists():
            raise LandingError(f"landing batch {manifest.batch_id}: file {path} is missing")
        if sha256_file(path) != entry["sha256"]:
            raise LandingError(f"landing batch {manifest.batch_id}: {path} does not match its manifest sha256")
        tables.append(pq.read_table(path))
    table = pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
    if table.num_rows != manifest.row_count:
        raise LandingError(
            f"landing batch {manifest.batch_id}: {table.num_rows} rows on disk, manifest says {manifest.row_count}"
        )
    return table


def clean_uncommitted(root: Path) -> list[Path]:
    """Remove batch folders without a manifest: a crash mid-write left them, and no reader may pair them."""
    import shutil

    removed = []
    for folder in sorted(root.glob("*/*/*")):
        # Batch folders are named by their 20-hex-digit id; anything else (a ledger) is not a batch.
        if folder.is_dir() and len(folder.name) == 20 and not (folder / MANIFEST).exists():
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed
