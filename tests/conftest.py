"""Shared fixtures: a real PostgreSQL (pgserver) per test worker, a fresh database and lakehouse per test."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import yaml

from lakeward import sql
from lakeward.definition import Definition, staging_table
from lakeward.demo import embedded_postgres, marketplace
from lakeward.home import Home
from lakeward.load_definition import load_definition
from lakeward.recovery import fingerprint

REPO = Path(__file__).resolve().parent.parent
# A fixed wall clock outside the business-hours window, so tests get the off-hours limits.
NIGHT = datetime(2026, 10, 3, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def pg_server():
    # The server runs as its own OS user when we are root, so its folder must be reachable by it.
    root = Path(tempfile.mkdtemp(prefix="lakeward-pg-"))
    root.chmod(0o755)
    dsn = embedded_postgres.server_dsn(root / "data")
    yield dsn
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_dsn(pg_server, request, monkeypatch) -> str:
    """A fresh, empty database for this test, wired to the definition's connection reference."""
    name = "t_" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:12]
    dsn = embedded_postgres.database_dsn(pg_server, name, fresh=True)
    monkeypatch.setenv(embedded_postgres.DSN_VARIABLE, dsn)
    return dsn


@pytest.fixture
def home(tmp_path, monkeypatch) -> Home:
    monkeypatch.setenv("LAKEWARD_HOME", str(tmp_path / "lakeward"))
    return Home.from_env().ensure()


def write_definition(folder: Path, edit=None, sources=("postgres",)) -> Definition:
    """The repository's pipeline.yaml with only `sources` (None: all), optionally edited, written to `folder`
    with SQL paths kept valid. Other sources need their emulators, which only their own tests start."""
    raw = yaml.safe_load((REPO / "pipeline.yaml").read_text())
    if sources is not None:
        raw["sources"] = {name: src for name, src in raw["sources"].items() if name in sources}
        raw["marts"] = _marts_fed_by(raw)
    for mart in raw.get("marts", {}).values():
        mart["sql"] = str(REPO / mart["sql"])
    for source in raw["sources"].values():
        for obj in source["objects"].values():
            if obj.get("staging_sql"):
                obj["staging_sql"] = str(REPO / obj["staging_sql"])
    if edit:
        edit(raw)
    path = folder / "pipeline.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_definition(path)


def copy_quality_rules(defn: Definition) -> Definition:
    """The repository's quality rules for the tables `defn` publishes, put beside it."""
    published = {staging_table(s, o) for s, o, _ in defn.objects()} | {f"marts.{m}" for m in defn.marts}
    (defn.root / "quality").mkdir(exist_ok=True)
    for rules in (REPO / "quality").glob("*.yaml"):
        if rules.stem in published:
            shutil.copy(rules, defn.root / "quality" / rules.name)
    return defn


def _marts_fed_by(raw: dict) -> dict:
    """The marts whose inputs (read from their SQL) all come from the kept sources or other kept marts."""
    marts = dict(raw.get("marts", {}))
    reads = {name: sql.tables_read(sql.read(REPO / m["sql"])) for name, m in marts.items()}
    kept = {f"staging.{s}__" for s in raw["sources"]}
    while True:
        have = {f"marts.{name}" for name in marts}
        dropped = [n for n in marts if any(not t.startswith(tuple(kept)) and t not in have for t in reads[n])]
        if not dropped:
            return marts
        for name in dropped:
            del marts[name]


@pytest.fixture
def definition(tmp_path) -> Definition:
    return write_definition(tmp_path)


@pytest.fixture
def marketplace_db(pg_dsn) -> str:
    """The marketplace schema filled with a small, seeded month of history ending before NIGHT."""
    with psycopg.connect(pg_dsn) as conn:
        marketplace.create_schema(conn)
        marketplace.generate_history(
            conn, seed=11, scale=0.1, start=datetime(2026, 9, 1, tzinfo=UTC),
            end=datetime(2026, 10, 1, tzinfo=UTC),
        )
    return pg_dsn


def warehouse_fingerprint(home: Home) -> dict[str, tuple[int, str]]:
    """Row count and an order-independent content checksum of every table but the audit trail."""
    return fingerprint.fingerprint(home)


