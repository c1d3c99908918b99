"""DuckDB as the local SQL engine: every Iceberg table is visible as `namespace.table`.

DuckDB cannot attach a SQL catalog here (its iceberg extension needs the internet), so each table's
current snapshot is read through pyiceberg and loaded into a DuckDB schema named after its namespace.
Only the tables a query reads are loaded, unless it asks the information schema.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb
import pyarrow as pa
from pyiceberg.catalog import Catalog

from lakeward import sql
from lakeward.lake.catalog import NAMESPACES, all_tables


class QueryError(ValueError):
    """A query that failed in the local engine, with the reason."""


def duck() -> duckdb.DuckDBPyConnection:
    """A DuckDB connection set up to behave like Athena where it matters."""
    con = duckdb.connect()
    # Dates of timestamptz values follow the session zone; Athena works in UTC.
    con.execute("SET TimeZone = 'UTC'")
    return con


def connect(catalog: Catalog, tables: Iterable[str] | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the given Iceberg tables (all of them when None) loaded."""
    con = duck()
    for namespace in NAMESPACES:
        con.execute(f"CREATE SCHEMA {namespace}")
    known = set(all_tables(catalog))
    for identifier in sorted(known if tables is None else set(tables) & known):
        data = catalog.load_table(identifier).scan().to_arrow()
        con.register("_lw_arrow", data)
        con.execute(f"CREATE TABLE {identifier} AS SELECT * FROM _lw_arrow")
        con.unregister("_lw_arrow")
    return con


def query(catalog: Catalog, text: str, dialect: str = "trino") -> pa.Table:
    """Run one SQL statement (Athena dialect by default) against the local warehouse."""
    try:
        tree = sql.parse(text) if dialect == "trino" else None
    except sql.SqlError as err:
        raise QueryError(str(err)) from None
    wanted = None
    if tree is not None:
        read = sql.tables_read(tree)
        wanted = None if any("information_schema" in t for t in read) else read
    con = connect(catalog, wanted)
    try:
        return con.sql(sql.to_duckdb(tree) if tree is not None else text).to_arrow_table()
    except duckdb.Error as err:
        raise QueryError(str(err).splitlines()[0]) from None
