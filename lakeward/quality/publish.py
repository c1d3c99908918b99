"""Taking back a mart build that failed its gate: `main` returns to the snapshot before it, in one commit,
or (a build left unpublished on the audit branch) only its input bookkeeping is dropped."""

from __future__ import annotations

import pyarrow as pa
from pyiceberg.table import Table
from pyiceberg.table.update.snapshot import ManageSnapshots

from lakeward.materialize import INPUTS_PROPERTY


def revert(table: Table, previous: int | None) -> None:
    """Point `main` back at `previous` (empty the table if there was none) and drop the inputs the build
    recorded, so the next build is a full one rather than a diff against a state never published."""
    recorded = INPUTS_PROPERTY in table.properties  # a mart built elsewhere (Athena) records none
    if previous is None:
        with table.transaction() as tx:
            tx.overwrite(pa.Table.from_pylist([], schema=table.schema().as_arrow()))
            if recorded:
                tx.remove_properties(INPUTS_PROPERTY)
        return
    with table.transaction() as tx:
        ManageSnapshots(tx).create_branch(previous, "main").commit()
        if recorded:
            tx.remove_properties(INPUTS_PROPERTY)


def forget_inputs(table: Table) -> None:
    """The build recorded inputs `main` does not reflect: the next build is a full one."""
    table = table.refresh()
    if INPUTS_PROPERTY in table.properties:
        with table.transaction() as tx:
            tx.remove_properties(INPUTS_PROPERTY)
