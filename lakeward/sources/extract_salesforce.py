"""Incremental extraction of one Salesforce object into a landing batch, with simple-salesforce.

Rows are read with queryAll, so records moved to the recycle bin arrive with IsDeleted and become soft
deletes in staging. The window is on SystemModstamp; REST reads go in keyset chunks ordered by
(SystemModstamp, Id), so records sharing one SystemModstamp (a bulk update) are never split or skipped
at a chunk or page boundary. A count() first picks the transport: Bulk API 2.0 above the source's
bulk_threshold, REST below; both type values through `salesforce_types`, so they land identical rows.
describe() runs every time and is compared with the fields the last landed batch saw: added fields are
a drift event (staging evolves additively), removed ones a warning (their column turns null), and a
type change refuses the batch, naming the object, the field and both types.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pyarrow as pa
from simple_salesforce.exceptions import SalesforceError

from lakeward.definition import DefinitionError, Limits, SalesforceSource
from lakeward.lake.landing import BatchWriter, Window
from lakeward.sources.http_retry import RetryExhausted
from lakeward.sources.salesforce_client import Client, SalesforceAuthError
from lakeward.sources.salesforce_drift import FieldTypeChanged, last_landed, reconcile
from lakeward.sources.salesforce_types import Field, FieldNameError, arrow_schema, fields_from_describe, to_batch
from lakeward.sources.target import Target


class ExtractError(RuntimeError):
    """The object could not be read; names the object and the reason."""


def api_name(target: Target) -> str:
    """The object's API name: declared in `api_names`, else the PascalCase of its key."""
    source = target.source
    assert isinstance(source, SalesforceSource)
    return source.api_names.get(target.object_name) or "".join(
        part[:1].upper() + part[1:] for part in target.object_name.split("_"))


def soql_time(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def extract(
    target: Target, window: Window, writer: BatchWriter, limits: Limits,
    permits: threading.Semaphore | None = None, on_rows: Callable[[int], None] = lambda n: None,
) -> tuple[pa.Schema, dict]:
    """Read every record whose SystemModstamp lies in the window into `writer`; returns schema and statistics."""
    source = target.source
    assert isinstance(source, SalesforceSource)
    sobject = api_name(target)
    started = time.perf_counter()
    try:
        client = Client(source, f"sources.{target.source_name}.connection", permits)
        drift = reconcile(sobject, fields_from_describe(sobject, client.describe(sobject)),
                          last_landed(writer.dir.parent, writer.dir))
        fields = drift.fields
        schema = arrow_schema(fields)
        _check_declared(target, schema)
        where = (f"SystemModstamp >= {soql_time(window.start)} AND SystemModstamp < {soql_time(window.end)}")
        expected = client.count(f"SELECT count() FROM {sobject} WHERE {where}", sobject)
        bulk = expected > source.bulk_threshold
        pages = _bulk_pages(client, sobject, fields, where, limits.chunk_rows) if bulk else _rest_pages(
            client, sobject, fields, where, limits.chunk_rows)
        rows = 0
        for records in pages:
            if records:
                writer.write(to_batch(fields, records, schema))
                rows += len(records)
                on_rows(len(records))
    except (RetryExhausted, SalesforceAuthError, FieldNameError, FieldTypeChanged, SalesforceError) as err:
        raise ExtractError(f"Salesforce {sobject}: extraction failed: {err}") from None
    stats = {"transport": "bulk" if bulk else "rest", "counted": expected, "requests": client.requests,
             "retries": client.retries, "chunk_rows": limits.chunk_rows,
             "seconds": round(time.perf_counter() - started, 3)} | drift.stats()
    return schema, stats


def _check_declared(target: Target, schema: pa.Schema) -> None:
    for key, column in [("primary_key", c) for c in target.spec.primary_key] + [("cursor", target.spec.cursor)]:
        if column not in schema.names:
            raise DefinitionError(target.definition_file, target.key(key),
                                  f"column '{column}' is not a field of Salesforce {api_name(target)} "
                                  f"(columns: {', '.join(schema.names)})")


def _rest_pages(client: Client, sobject: str, fields: list[Field], where: str, chunk_rows: int
                ) -> Iterator[list[dict]]:
    """Keyset chunks of at most chunk_rows on (SystemModstamp, Id), each read page by page."""
    select = f"SELECT {_names(fields)} FROM {sobject} WHERE {where}"
    after = ""
    while True:
        soql = f"{select}{after} ORDER BY SystemModstamp, Id LIMIT {chunk_rows}"
        last, count = None, 0
        for records in client.query_pages(soql, sobject):
            count += len(records)
            last = records[-1] if records else last
            yield records
        if count < chunk_rows or last is None:
            return
        stamp, ident = soql_time(datetime.fromisoformat(last["SystemModstamp"])), last["Id"]
        after = (f" AND (SystemModstamp > {stamp} OR (SystemModstamp = {stamp} AND Id > '{_quote(ident)}'))")


def _bulk_pages(client: Client, sobject: str, fields: list[Field], where: str, page_rows: int
                ) -> Iterator[list[dict]]:
    """One Bulk API 2.0 job over the whole window (a snapshot: no keyset needed), read in pages of page_rows."""
    soql = f"SELECT {_names(fields)} FROM {sobject} WHERE {where}"
    for text in client.bulk_csv(soql, sobject, page_rows):
        yield list(csv.DictReader(io.StringIO(text)))


def _names(fields: list[Field]) -> str:
    return ", ".join(f.api_name for f in fields if not f.removed)


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")
