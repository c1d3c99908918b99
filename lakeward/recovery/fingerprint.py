"""The warehouse checksum: per table, a row count and an order-independent hash of every row.

Scenarios and backfills prove "nothing lost, nothing duplicated" by comparing it with a clean run's.
Bookkeeping columns (`_lw_*`, a quarantine row's `batch_id`: which batch wrote a row) can legitimately
differ between an incremental history and one full load, so a comparison may leave them out.
"""

from __future__ import annotations

from pyiceberg.catalog import Catalog

from lakeward.home import Home
from lakeward.lake import engine
from lakeward.lake.catalog import all_tables, open_catalog

Fingerprint = dict[str, tuple[int, str]]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def of_arrow(data, columns: list[str] | None = None) -> tuple[int, str]:
    """Count and checksum of an Arrow table (optionally only some of its columns)."""
    con = engine.duck()
    con.register("t", data)
    cols = ", ".join(_quote(c) for c in (columns or data.column_names))
    count, digest = con.execute(
        f"SELECT count(*), coalesce(sum(hash(struct_pack({cols}))::HUGEINT), 0) FROM t").fetchall()[0]
    return count, str(digest)


def fingerprint(home: Home, *, lineage: bool = True, columns: dict[str, list[str]] | None = None,
                catalog: Catalog | None = None) -> Fingerprint:
    """Every table but the audit trail; `columns` limits a table to those columns (as in another warehouse)."""
    catalog = catalog or open_catalog(home)
    out = {}
    for identifier in all_tables(catalog):
        if identifier.startswith("audit."):
            continue
        data = catalog.load_table(identifier).scan().to_arrow()
        names = [c for c in data.column_names if lineage or not _bookkeeping(identifier, c)]
        if columns is not None and identifier in columns:
            names = [c for c in names if c in columns[identifier]]
        out[identifier] = of_arrow(data, names)
    return out


def _bookkeeping(table: str, column: str) -> bool:
    # A quarantine row names the batch that met it; the same bad line meets a different batch in a full load.
    return column.startswith("_lw_") or (table.endswith("_quarantine") and column == "batch_id")


def column_sets(home: Home) -> dict[str, list[str]]:
    catalog = open_catalog(home)
    return {t: catalog.load_table(t).schema().column_names for t in all_tables(catalog) if not t.startswith("audit.")}


def compare(home: Home, clean: Home) -> list[str]:
    """How `home` differs from a clean run's warehouse, on the clean warehouse's tables and columns."""
    want = fingerprint(clean, lineage=False)
    got = fingerprint(home, lineage=False, columns=column_sets(clean))
    problems = []
    for table in sorted(set(want) | set(got)):
        if table not in got:
            problems.append(f"{table}: missing (the clean run has {want[table][0]} rows)")
        elif table not in want:
            if not table.startswith("quarantine."):  # a refused batch's record: a clean run meets no failure
                problems.append(f"{table}: not in the clean run")
        elif got[table] != want[table]:
            problems.append(f"{table}: {got[table][0]} rows, checksum {got[table][1]}; the clean run has "
                            f"{want[table][0]} rows, checksum {want[table][1]}")
    return problems
