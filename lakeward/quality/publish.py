"""Taking back a mart build that failed its gate: `main` returns to the snapshot before it, in one commit."""

from __future__ import annotations

import pyarrow as pa
from pyiceberg.table import Table
from pyiceberg.table.update.snapshot import ManageSnapshots

from lakeward.materialize import INPUTS_PROPERTY


def revert(table: Table, previous: int | None) -> None:
    """Point `main` back at `previous` (empty the table if there was none) and drop the inputs the build
    recorded, so the next build is a full one rather than a diff against a state never published."""
    if previous is None:
        with table.transaction() as tx:
            tx.overwrite(pa.Table.from_pylist([], schema=table.schema().as_arrow()))
            tx.remove_properties(INPUTS_PROPERTY)
        return
    with table.transaction() as tx:
        ManageSnapshots(tx).create_branch(previous, "main").commit()
        tx.remove_properties(INPUTS_PROPERTY)
