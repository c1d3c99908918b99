"""The extractor of each source kind. Every extractor has one signature, so the local runner, a Lambda
handler and a Glue script call any of them the same way:

    extract(target, window, writer, limits, permits=None, on_rows=lambda n: None) -> (arrow schema, stats)

It writes every record whose cursor lies in `window` into the landing `writer` and never commits it.
Modules are imported on first use, so a deployment carries only the client libraries it needs.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Protocol

import pyarrow as pa

from lakeward.definition import Limits
from lakeward.lake.landing import BatchWriter, Window
from lakeward.sources.target import Target

EXTRACTORS = {
    "postgres": "lakeward.sources.extract_postgres",
    "salesforce": "lakeward.sources.extract_salesforce",
    "stripe": "lakeward.sources.extract_stripe",
    "files": "lakeward.sources.extract_files",
}


class Extract(Protocol):
    def __call__(self, target: Target, window: Window, writer: BatchWriter, limits: Limits,
                 permits: threading.Semaphore | None = None,
                 on_rows: Callable[[int], None] = ...) -> tuple[pa.Schema, dict]: ...


def extractor(kind: str) -> Extract:
    return importlib.import_module(EXTRACTORS[kind]).extract
