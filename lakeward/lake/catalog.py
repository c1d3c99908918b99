"""The Iceberg catalog: a pyiceberg SQL catalog (sqlite) over a file:// warehouse under LAKEWARD_HOME."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.table import Table

from lakeward.home import Home

if TYPE_CHECKING:  # SQLAlchemy only for the local catalog: the AWS functions use Glue and do not ship it
    from pyiceberg.catalog.sql import SqlCatalog

NAMESPACES = ("staging", "marts", "audit", "quarantine")
TABLE_PROPERTIES = {"format-version": "2", "write.parquet.compression-codec": "zstd"}


def open_catalog(home: Home) -> SqlCatalog:
    from pyiceberg.catalog.sql import SqlCatalog

    home.ensure()
    catalog = SqlCatalog(
        "lakeward", uri=f"sqlite:///{home.catalog_db}", warehouse=home.warehouse.as_uri()
    )
    existing = {ns[0] for ns in catalog.list_namespaces()}
    for namespace in NAMESPACES:
        if namespace not in existing:
            catalog.create_namespace_if_not_exists(namespace)
    return catalog


def load_table(catalog: Catalog, identifier: str) -> Table | None:
    try:
        return catalog.load_table(identifier)
    except NoSuchTableError:
        return None


def all_tables(catalog: Catalog) -> list[str]:
    return sorted(
        ".".join(ident) for ns in NAMESPACES for ident in catalog.list_tables(ns)
    )


def ensure_table(catalog: Catalog, identifier: str, schema: pa.Schema) -> Table:
    """Load a table, or create it with this Arrow schema (non-nullable fields become required)."""
    return load_table(catalog, identifier) or catalog.create_table(
        identifier, schema=schema, properties=TABLE_PROPERTIES
    )
