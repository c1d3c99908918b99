"""Run one fault scenario end to end in a sandbox and report detected / contained / recovered.

The sandbox is a fresh database of the source with a month of seeded history, a definition cut down to
the scenario's sources and the marts they feed, and two lakehouses: one that lives through the fault and
its recovery, one that loads the final state of the source once, cleanly. The scenario passes when the
expected alert fired with a clear error, nothing half-done was published, the alert's own recovery
command ran, and the two warehouses hold the same rows.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import yaml

from lakeward import runner, sql
from lakeward.definition import Definition, staging_table
from lakeward.demo import embedded_postgres, events_world, ga4_world, marketplace
from lakeward.home import Home
from lakeward.lake import engine
from lakeward.lake.catalog import open_catalog
from lakeward.load_definition import definition_hash, load_definition
from lakeward.quality import declare
from lakeward.recovery import alerts, fingerprint, reconcile, run_health
from lakeward.recovery.scenarios import SCENARIOS, Scenario
from lakeward.version import code_version

T0 = datetime(2026, 10, 1, tzinfo=UTC)
NIGHT = datetime(2026, 10, 3, 2, 0, tzinfo=UTC)  # off business hours: the sandbox clock
SANDBOX_OBJECTS = ("users", "orders", "payments", "refunds")


@dataclass
class Sandbox:
    defn: Definition
    home: Home
    clean: Home
    dsn: str
    t0: datetime = T0
    stripe: object | None = None  # the local Stripe emulator (lakeward.emulators.stripe_api.StripeAPI)
    stripe_world: object | None = None
    salesforce: object | None = None  # the local Salesforce emulator
    salesforce_world: object | None = None
    events_root: Path | None = None  # the app event firehose's folder
    events_truth: object | None = None
    ga4_world: object | None = None  # the GA4 export bucket (lakeward.demo.ga4_world.Ga4World)
    ga4_on_time: dict = field(default_factory=dict)  # per day, the events GA4 had before the late ones came
    ga4_loaded: dict = field(default_factory=dict)  # per day, the events GA4 had when the setup run loaded it

    def simulate_hour(self) -> None:
        with psycopg.connect(self.dsn) as conn:
            marketplace.simulate_hour(conn, seed=5, scale=0.03, hour_start=self.t0)
            if self.stripe_world is not None:
                self.stripe_world.advance(conn, self.t0, self.t1)
            if self.events_root is not None:
                _events(self, conn, self.t0, self.t1)
        if self.ga4_world is not None:
            _ga4_hours(self, self.t0, self.t1)
        if self.salesforce_world is not None:
            from lakeward.demo.salesforce_world import customers

            self.salesforce_world.hour(customers(self.dsn, self.t1), self.t0)

    def stop(self) -> None:
        for emulator in (self.stripe, self.salesforce):
            if emulator is not None:
                emulator.stop()

    @property
    def t1(self) -> datetime:
        return self.t0 + timedelta(hours=1)

    def restart_postgres(self) -> None:
        """A real restart (fast shutdown, then start) of the server behind the source."""
        import pgserver
        from pgserver._commands import pg_ctl

        with psycopg.connect(self.dsn) as conn:
            data = Path(conn.execute("SHOW data_directory").fetchone()[0])
        server = pgserver.get_server(data)
        pg_ctl(["-w", "-m", "fast", "restart"], pgdata=data, user=server.system_user, timeout=60)

    def reconcile(self) -> reconcile.Report:
        return reconcile.reconcile(self.defn, self.home, now=NIGHT, apply_deletes=True)


@dataclass
class ScenarioReport:
    name: str
    detected: bool = False
    contained: bool = False
    recovered: bool = False
    error: str | None = None
    alert: dict | None = None
    command: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.detected and self.contained and self.recovered

    def lines(self) -> list[str]:
        def mark(ok: bool) -> str:
            return "yes" if ok else "NO"
        out = [f"scenario {self.name}: detected {mark(self.detected)}, contained {mark(self.contained)}, "
               f"recovered {mark(self.recovered)}"]
        if self.error:
            out.append(f"  error: {self.error}")
        if self.alert:
            out.append(f"  alert: {self.alert['kind']} ({self.alert['severity']}): {self.alert['message'][:200]}")
        out.append(f"  recovery: {self.command or 'none needed: the pipeline absorbed it'}")
        out += [f"  problem: {p}" for p in self.problems]
        return out


STRIPE_OBJECTS = ("customers", "charges", "refunds", "balance_transactions")
SALESFORCE_OBJECTS = ("account", "opportunity")
EVENTS_HISTORY = timedelta(days=2)  # app events and GA4: enough to stage, all of it read on the first run
GA4_SCALE = 0.3  # a handful of sessions an hour, so that some of their events arrive late
FAST_RETRY = {"attempts": 8, "base_delay": 0.01, "max_delay": 0.1}  # faults resolve in a second, not minutes


def sandbox_definition(defn: Definition, folder: Path, sources: tuple[str, ...]) -> Definition:
    """The definition cut to the scenario's sources (the finance objects of postgres) and the marts they feed,
    with small chunks so that a fault can land between two reads."""
    raw = yaml.safe_load(defn.path.read_text())
    raw["sources"] = {n: s for n, s in raw["sources"].items() if n in sources}
    if "postgres" in raw["sources"]:
        pg = raw["sources"]["postgres"]
        pg["objects"] = {k: v for k, v in pg["objects"].items() if k in SANDBOX_OBJECTS}
        pg["limits"] = {"chunk_rows": 20, "concurrency": 2}
        pg["business_hours"] = []
    if "stripe" in raw["sources"]:
        st = raw["sources"]["stripe"]
        st["objects"] = {k: v for k, v in st["objects"].items() if k in STRIPE_OBJECTS}
        st["initial_start"] = (T0 - timedelta(days=31)).isoformat()
        st["retry"] = {**FAST_RETRY, "attempts": 3}
    for files in ("events", "ga4"):  # a files source lists every hour or day since its initial start
        if files in raw["sources"]:
            raw["sources"][files]["initial_start"] = (T0 - EVENTS_HISTORY).isoformat()
    if "salesforce" in raw["sources"]:
        sf = raw["sources"]["salesforce"]
        sf["objects"] = {k: v for k, v in sf["objects"].items() if k in SALESFORCE_OBJECTS}
        sf["initial_start"] = (T0 - timedelta(days=31)).isoformat()
        sf["retry"] = FAST_RETRY
    kept = {staging_table(s, o) for s, src in raw["sources"].items() for o in src["objects"]}
    marts = {}
    for name, mart in raw.get("marts", {}).items():
        mart["sql"] = str((defn.root / mart["sql"]).resolve())
        if sql.tables_read(sql.read(Path(mart["sql"]))) <= kept | {f"marts.{m}" for m in marts}:
            marts[name] = mart
    raw["marts"] = marts
    for src in raw["sources"].values():
        for obj in src["objects"].values():
            if obj.get("staging_sql"):
                obj["staging_sql"] = str((defn.root / obj["staging_sql"]).resolve())
    folder.mkdir(parents=True, exist_ok=True)
    for table in kept | {f"marts.{m}" for m in marts}:  # the quality rules of what is kept come along
        rules = defn.root / declare.FOLDER / f"{table}.yaml"
        if rules.exists():
            (folder / declare.FOLDER).mkdir(exist_ok=True)
            shutil.copy(rules, folder / declare.FOLDER / rules.name)
    (folder / "pipeline.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_definition(folder / "pipeline.yaml")


def prepare(defn: Definition, folder: Path, server_dsn: str, name: str) -> Sandbox:
    sources = SCENARIOS[name].sources if name in SCENARIOS else ("postgres",)
    dsn = embedded_postgres.database_dsn(server_dsn, f"scenario_{name}"[:60], fresh=True)
    box = Sandbox(sandbox_definition(defn, folder, tuple({"postgres", *sources})), Home(folder / "faulted").ensure(),
                  Home(folder / "clean").ensure(), dsn)
    with psycopg.connect(dsn) as conn:
        marketplace.create_schema(conn)
        marketplace.generate_history(conn, seed=5, scale=0.03, start=T0 - timedelta(days=30), end=T0)
        if "stripe" in sources:
            _start_stripe(box, conn)
        if "events" in sources:
            box.events_root = folder / "events-source"
            box.events_root.mkdir(parents=True, exist_ok=True)
            os.environ[events_world.ROOT_VARIABLE] = str(box.events_root)
            _events(box, conn, T0 - EVENTS_HISTORY, T0)
    if "salesforce" in sources:
        _start_salesforce(box)
    if "ga4" in sources:
        box.ga4_world = ga4_world.Ga4World(folder / "ga4-source", seed=5, scale=GA4_SCALE)
        os.environ[ga4_world.ROOT_VARIABLE] = str(box.ga4_world.root)
        _ga4_hours(box, T0 - EVENTS_HISTORY, T0)
    return box


def _ga4_hours(box: Sandbox, start: datetime, end: datetime) -> None:
    """GA4 sessions hour by hour, exported as GA4 would at the end of each hour."""
    users, hour = ga4_world.app_users(box.dsn, end), start
    while hour < end:
        box.ga4_world.hour(users, hour)
        hour += ga4_world.HOUR
        box.ga4_world.export(hour)


def _events(box: Sandbox, conn: psycopg.Connection, start: datetime, end: datetime) -> None:
    """The app's events for the window, messy delivery but no malformed lines: the scenario adds those."""
    activity = events_world.read_activity(conn, start, end)
    box.events_truth = events_world.generate(box.events_root, activity, seed=5, scale=0.03, start=start, end=end,
                                             faults=events_world.Faults(malformed=0.0), truth=box.events_truth)


def _start_salesforce(box: Sandbox) -> None:
    """A Salesforce org whose accounts are the sandbox marketplace's customers, on the local emulator."""
    import json
    import os
    import secrets

    from lakeward.demo.salesforce_world import SECRET_VARIABLE, SalesforceWorld, customers
    from lakeward.emulators.salesforce_api import SalesforceEmulator
    from lakeward.emulators.salesforce_org import Org
    from lakeward.emulators.server import Faults

    org = Org()
    box.salesforce_world = SalesforceWorld(org, 5, 0.03)
    box.salesforce_world.generate(customers(box.dsn, T0), T0 - timedelta(days=30), T0)
    client_id, client_secret = "lakeward-scenario", secrets.token_urlsafe(16)
    box.salesforce = SalesforceEmulator(org, client_id=client_id, client_secret=client_secret,
                                        faults=Faults(seed=3)).start()
    os.environ[SECRET_VARIABLE] = json.dumps(
        {"instance_url": box.salesforce.url, "client_id": client_id, "client_secret": client_secret})


def _start_stripe(box: Sandbox, conn: psycopg.Connection) -> None:
    """A Stripe account mirroring the sandbox marketplace, on the local emulator, with switchable faults."""
    import json
    import os
    import secrets

    from lakeward.demo.stripe_world import SECRET_VARIABLE, StripeWorld
    from lakeward.emulators.server import Faults
    from lakeward.emulators.stripe_api import StripeAPI

    box.stripe_world = StripeWorld(seed=5)
    box.stripe_world.advance(conn, T0 - timedelta(days=30), T0)
    key = "sk_test_" + secrets.token_hex(16)
    box.stripe = StripeAPI(box.stripe_world.account, key, faults=Faults()).start()
    os.environ[SECRET_VARIABLE] = json.dumps({"api_key": key, "api_base": box.stripe.url})


def run_scenario(scenario: Scenario, box: Sandbox) -> ScenarioReport:
    import os

    from typer.testing import CliRunner

    from lakeward.cli import app

    os.environ[embedded_postgres.DSN_VARIABLE] = box.dsn
    os.environ["LAKEWARD_HOME"] = str(box.home.root)
    report = ScenarioReport(scenario.name)
    assert runner.run(box.defn, box.home, end=box.t0, now=NIGHT, triggered_by="scenario:setup").ok
    before = fingerprint.fingerprint(box.home)
    fired_before = len(alerts.read(box.home))
    box.simulate_hour()
    scenario.change(box)

    failed: list = []
    if scenario.kill_at:
        killed = _child(box, scenario.kill_at)
        if killed.returncode != -9:
            report.problems.append(f"the run was not killed at {scenario.kill_at} (exit {killed.returncode})")
        meta = {"code_version": code_version(), "definition_hash": definition_hash(box.defn),
                "triggered_by": "scenario"}
        run_health.attention(box.defn, box.home, open_catalog(box.home), meta)
    else:
        with scenario.fault(box):
            result = runner.run(box.defn, box.home, end=box.t1, now=NIGHT, triggered_by=f"scenario:{scenario.name}")
        failed = result.failed()
        report.error = failed[0].error if failed else None
    if scenario.detect:
        scenario.detect(box)

    fired = [a for a in alerts.read(box.home)[fired_before:] if a.kind == scenario.alert]
    report.alert = fired[0].__dict__ if fired else None
    clear_error = scenario.error is None or any(scenario.error in (f.error or "") for f in failed)
    report.detected = bool(fired) and clear_error
    if not fired:
        report.problems.append(f"no {scenario.alert} alert fired")
    if not clear_error:
        report.problems.append(f"no failed step says {scenario.error!r}")

    report.contained = _contained(box, before, failed, report)
    report.command = next((a.recovery for a in fired if a.recovery), None)
    scenario.repair(box)
    if report.command:
        args = shlex.split(report.command, comments=True)[1:] + ["--definition", str(box.defn.path)]
        out = CliRunner().invoke(app, args)
        if out.exit_code != 0:
            report.problems.append(f"`{report.command}` exited {out.exit_code}: {out.output[-500:]}")
    os.environ["LAKEWARD_HOME"] = str(box.clean.root)
    assert runner.run(box.defn, box.clean, end=box.t1, now=NIGHT, triggered_by="scenario:clean").ok
    differences = fingerprint.compare(box.home, box.clean)
    report.problems += differences
    report.recovered = not differences and not any(p.startswith("`") for p in report.problems)
    return report


def _contained(box: Sandbox, before: dict, failed: list, report: ScenarioReport) -> bool:
    """Nothing half-done is visible: one row per key everywhere, and the tables of failed steps untouched."""
    ok = True
    catalog = open_catalog(box.home)
    for source, obj, spec in box.defn.objects():
        keys = ", ".join(f'"{k}"' for k in spec.primary_key)
        table = staging_table(source, obj)
        dupes = engine.query(catalog, f"SELECT count(*) AS n FROM (SELECT {keys} FROM {table} GROUP BY {keys} "
                                      "HAVING count(*) > 1) AS d").to_pylist()[0]["n"]
        if dupes:
            ok = False
            report.problems.append(f"{table}: {dupes} primary key(s) appear more than once")
    now = fingerprint.fingerprint(box.home)
    for res in failed:
        table = res.step.table
        if table and now.get(table) != before.get(table):
            ok = False
            report.problems.append(f"{table} changed although {res.step.id} failed")
    return ok


def _child(box: Sandbox, point: str) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, "LAKEWARD_HOME": str(box.home.root), embedded_postgres.DSN_VARIABLE: box.dsn,
           "LAKEWARD_KILL_AT": point}
    return subprocess.run([sys.executable, "-m", "lakeward", "run", "--definition", str(box.defn.path), "--end",
                           box.t1.isoformat()], env=env, capture_output=True, text=True, timeout=900)


def run_named(name: str, home: Home) -> ScenarioReport:
    """`lakeward scenario run NAME`: a sandbox under LAKEWARD_HOME/scenarios, on its own embedded server."""
    from lakeward.load_definition import load_definition as load

    folder = home.root / "scenarios" / name
    shutil.rmtree(folder, ignore_errors=True)
    server = embedded_postgres.server_dsn(home.root / "scenarios" / "postgres")
    box = prepare(load(None), folder, server, name)
    try:
        return run_scenario(SCENARIOS[name], box)
    finally:
        box.stop()
