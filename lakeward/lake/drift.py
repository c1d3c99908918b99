"""Schema drift seen when a batch is staged: the columns it adds and the ones its source stopped sending.

An added column evolves the table (lake/schema.evolve) and is reported as a drift event; a column the
source no longer sends stays in the table, null in the new rows, with a warning. Extractors that know
every column their objects carry (even all-null ones) list them in the manifest stats as
`source_columns`; without that list an absent column cannot be told from an empty one, so none is flagged.
"""

from __future__ import annotations

import logging

from pyiceberg.table import Table

from lakeward.lake.landing import Manifest

log = logging.getLogger("lakeward.drift")


def removed(table: Table, manifest: Manifest) -> list[str]:
    """Table columns the batch's source no longer sends."""
    sent = manifest.stats.get("source_columns")
    if not sent or not manifest.row_count:
        return []
    gone = [f.name for f in table.schema().fields if not f.name.startswith("_lw_") and f.name not in sent]
    for column in gone:
        log.warning("%s/%s batch %s: column '%s' is no longer sent by the source; it is null in this batch",
                    manifest.source, manifest.object, manifest.batch_id, column)
    return gone


def details(added: list[str], gone: list[str]) -> dict:
    """The drift entries of a stage outcome: empty when the schema held still."""
    if not added and not gone:
        return {}
    warnings = [f"column '{c}' is no longer sent by the source; null from this batch on" for c in gone]
    return {"drift": {"added": added, "removed": gone}, **({"warnings": warnings} if warnings else {})}
