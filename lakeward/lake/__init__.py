"""The local lakehouse: landing files, Iceberg tables and the DuckDB engine over them."""
