"""A real PostgreSQL for the laptop: pgserver's bundled server on a Unix socket under LAKEWARD_HOME."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

DSN_VARIABLE = "LAKEWARD_PG_DSN"  # the definition's connection reference for the postgres source
DATABASE = "brightcart"


def server_dsn(data_dir: Path) -> str:
    """Start (or attach to) the embedded server; it stops when the last process using it exits."""
    import pgserver  # imported here: starting it is a local-only concern

    data_dir.mkdir(parents=True, exist_ok=True)
    return pgserver.get_server(data_dir, cleanup_mode="stop").get_uri()


def database_dsn(server: str, database: str = DATABASE, *, fresh: bool = False) -> str:
    """The DSN of a database on that server, created if missing (dropped first when `fresh`)."""
    with psycopg.connect(server, autocommit=True) as conn:
        if fresh:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')
    return make_conninfo(server, dbname=database)


def ensure_local_source(data_dir: Path) -> None:
    """Point the postgres source at the embedded server when no DSN was given and one exists here."""
    if not os.environ.get(DSN_VARIABLE) and (data_dir / "PG_VERSION").exists():
        os.environ[DSN_VARIABLE] = database_dsn(server_dsn(data_dir))
