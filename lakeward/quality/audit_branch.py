"""Write-audit-publish on an Iceberg branch: a mart build is written to the `audit` branch, its gate reads
that snapshot, and only a passing build moves `main` to it (a fast-forward: one atomic ref update).

Readers scan `main`, so a failed build is never visible to them; it stays readable on the branch until the
next build starts the branch again from `main`.
"""

from __future__ import annotations

from pyiceberg.table import Table, Transaction
from pyiceberg.table.snapshots import Snapshot
from pyiceberg.table.update.snapshot import ManageSnapshots

BRANCH = "audit"
MAIN = "main"


class PublishError(RuntimeError):
    """`main` moved since the build branched off it: publishing would drop that change."""


def restart(tx: Transaction, name: str = BRANCH) -> str | None:
    """Inside the build's transaction: the branch starts at `main`, so it holds `main` plus this build.

    A table without snapshots cannot be branched yet: None, so the build is written as a snapshot no ref
    points at, which `adopt` then names."""
    main = tx.table_metadata.current_snapshot_id
    if main is None:
        return None
    ManageSnapshots(tx).create_branch(main, name).commit()
    return name


def adopt(table: Table, name: str = BRANCH) -> None:
    """Point the branch at the build just written with no ref (the table's newest snapshot)."""
    table = table.refresh()
    with table.transaction() as tx:
        ManageSnapshots(tx).create_branch(table.metadata.snapshots[-1].snapshot_id, name).commit()


def head(table: Table, name: str = BRANCH) -> Snapshot | None:
    ref = table.refs().get(name)
    return table.snapshot_by_id(ref.snapshot_id) if ref is not None else None


def lineage(table: Table, snapshot: Snapshot | None) -> list[int]:
    """The snapshot and its ancestors, newest first."""
    ids = []
    while snapshot is not None:
        ids.append(snapshot.snapshot_id)
        snapshot = table.snapshot_by_id(snapshot.parent_snapshot_id) if snapshot.parent_snapshot_id else None
    return ids


def publish(table: Table, snapshot_id: int) -> None:
    """Fast-forward `main` to the audited snapshot; the commit also asserts `main` is still where it was read."""
    table = table.refresh()
    main = table.current_snapshot()
    if main is not None and main.snapshot_id not in lineage(table, table.snapshot_by_id(snapshot_id)):
        name = ".".join(table.name()[-2:])
        raise PublishError(f"{name}: main moved to snapshot {main.snapshot_id} after the "
                           f"build branched off; snapshot {snapshot_id} is not published, rerun the mart")
    with table.transaction() as tx:
        ManageSnapshots(tx).create_branch(snapshot_id, MAIN).commit()
