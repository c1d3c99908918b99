"""The `files` kind: the window's files under a prefix (local disk or S3), checked against the object's
column contract.

`land: parquet` copies the rows, typed by the contract, into the landing batch; `land: reference` lands
only the file list (path, size, change tag) and leaves reading to the stager: at 1.2 TB of events a day,
a second copy of the raw logs would double storage and I/O for nothing (docs/decisions.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa

from lakeward.definition import FilesObject, FilesSource, Limits
from lakeward.lake.landing import BatchWriter, Window
from lakeward.sources import file_manifest
from lakeward.sources.connections import resolve
from lakeward.sources.file_contract import contract_schema, read_file
from lakeward.sources.file_select import selector
from lakeward.sources.file_store import Root, SourceFile
from lakeward.sources.target import Target


def open_root(target: Target) -> Root:
    assert isinstance(target.source, FilesSource)
    return Root(resolve(target.source.connection, f"sources.{target.source_name}.connection"))


def window_files(target: Target, root: Root, window: Window, batch_id: str,
                 landing_root: Path) -> tuple[list[SourceFile], int]:
    """The files this window reads, and how many it skips because an earlier batch already staged them."""
    spec = target.spec
    assert isinstance(spec, FilesObject)
    chosen = selector(spec.select)(root.list(spec.prefix, spec.pattern), window, spec)
    if spec.reprocess == "all":
        return chosen, 0
    done = file_manifest.processed(landing_root, target.source_name, target.object_name, batch_id)
    fresh = [f for f in chosen if (f.path, f.etag) not in done]
    return fresh, len(chosen) - len(fresh)


def extract(
    target: Target, window: Window, writer: BatchWriter, limits: Limits,
    permits: threading.Semaphore | None = None, on_rows: Callable[[int], None] = lambda n: None,
) -> tuple[pa.Schema, dict]:
    spec = target.spec
    assert isinstance(spec, FilesObject)
    started = time.perf_counter()
    root = open_root(target)
    landing_root = writer.dir.parents[2]  # <landing>/<source>/<object>/<batch id>
    files, skipped = window_files(target, root, window, writer.id, landing_root)
    file_manifest.write_file_list(writer, files)
    stats = {"files": len(files), "bytes": sum(f.size for f in files), "files_already_processed": skipped,
             "land": spec.land}
    if spec.land == "parquet":
        where = target.key()

        def land(numbered: tuple[int, SourceFile]) -> None:
            stream, source_file = numbered
            with permits or threading.Semaphore(1), root.open(source_file.path) as fh:
                table = read_file(fh.read(), source_file.path, spec, where)
            for batch in table.to_batches():
                writer.write(batch, stream % limits.concurrency)
            on_rows(table.num_rows)

        # One stream per worker keeps each stream's writes on one thread.
        for start in range(0, len(files), limits.concurrency):
            with ThreadPoolExecutor(max_workers=limits.concurrency, thread_name_prefix="files") as pool:
                list(pool.map(land, enumerate(files[start:start + limits.concurrency], start)))
    stats["seconds"] = round(time.perf_counter() - started, 3)
    return contract_schema(spec), stats
