"""Every fault scenario that its sources allow, run end to end: detected, contained, recovered.

Recovery runs the command the alert itself carries, and "recovered" means the warehouse equals a clean
full load of the final source state (lakeward.recovery.fingerprint.compare)."""

from __future__ import annotations

from collections import Counter

import pytest
from typer.testing import CliRunner

from lakeward.cli import app
from lakeward.demo import events_world, ga4_world
from lakeward.demo.salesforce_world import SECRET_VARIABLE as SALESFORCE_SECRET
from lakeward.demo.stripe_world import SECRET_VARIABLE
from lakeward.lake import engine
from lakeward.lake.catalog import open_catalog
from lakeward.load_definition import load_definition
from lakeward.recovery.scenario_run import prepare, run_scenario
from lakeward.recovery.scenarios import BAD_EVENT_LINES, SCENARIOS
from tests.conftest import REPO
from tests.events.conftest import whole_lines

# The kill matrix (tests/recovery/test_kill_matrix.py) covers every kill point; one runs here as a scenario.
NAMES = [n for n, s in SCENARIOS.items() if "kill" not in s.tags] + ["kill_at_stage_mid_commit"]
EXPECTED = {  # what the person paged must read, per scenario: alert kind and the start of the recovery command
    "postgres_restart_mid_extract": ("source_unavailable", "lakeward rerun --run "),
    "disk_full_landing_write": ("disk_full", "lakeward rerun --run "),
    "stripe_outage": ("source_unavailable", "lakeward rerun --run "),
    "salesforce_429_storm": ("source_throttled", None),
    "schema_drift_added_column": ("schema_drift", None),
    "schema_drift_dropped_column": ("schema_drift", "lakeward backfill --source postgres --object payments --rebuild"),
    "schema_drift_type_change": ("schema_drift", "lakeward backfill --source postgres --object payments --rebuild"),
    "duplicate_primary_keys": ("duplicate_keys", "lakeward rerun --run "),
    "clock_skew_cursor": ("reconcile_mismatch", "lakeward backfill --source postgres --object payments --start "
                                                "2026-09-30T00:00:00+00:00 --end 2026-10-01T00:00:00+00:00"),
    "kill_at_stage_mid_commit": ("run_crashed", "lakeward rerun --run "),
    "malformed_event_files": ("lines_quarantined", None),
    "ga4_late_data": ("late_data", None),
}


def test_every_scenario_is_listed():
    out = CliRunner().invoke(app, ["scenario", "list"])
    assert out.exit_code == 0
    assert all(name in out.stdout for name in SCENARIOS)
    assert set(EXPECTED) == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_scenario(name, pg_server, tmp_path, monkeypatch):
    monkeypatch.setenv(SECRET_VARIABLE, "")  # restored after: a sandbox sets its own API secrets
    monkeypatch.setenv(SALESFORCE_SECRET, "")
    for root in (events_world.ROOT_VARIABLE, ga4_world.ROOT_VARIABLE):  # and its own file roots
        monkeypatch.setenv(root, "")
    box = prepare(load_definition(REPO / "pipeline.yaml"), tmp_path / "sandbox", pg_server, name)
    monkeypatch.setenv("LAKEWARD_HOME", str(box.home.root))
    monkeypatch.setenv("LAKEWARD_PG_DSN", box.dsn)
    try:
        report = run_scenario(SCENARIOS[name], box)
    finally:
        box.stop()
    assert report.passed, "\n".join(report.lines())
    kind, command = EXPECTED[name]
    assert report.alert["kind"] == kind
    assert (report.command or None) == command or (command and report.command.startswith(command))
    if SCENARIOS[name].error:
        assert SCENARIOS[name].error in report.error
    if name == "malformed_event_files":  # each injected bad line, plus one row for the cut stream's lost rest
        assert report.alert["details"] == {"lines_quarantined": BAD_EVENT_LINES + 1}
        assert _event_ids(box) == set(box.events_truth.loaded_by(box.t1)) | _readable(box) | {
            "fault-login-001", "fault-page_view-002"}  # nothing readable was lost

    if name == "ga4_late_data":  # every day holds what GA4 finally had, though some of it came days late
        world = box.ga4_world
        assert any(box.ga4_on_time[day] != world.truth[day] for day in world.truth)  # late events did come
        assert {day: _ga4_counts(box, day) for day in world.truth} == dict(world.truth)
        before = {day: box.ga4_loaded[day].total() for day in world.truth}  # what the setup run staged
        late = {day.isoformat(): world.truth[day].total() - n for day, n in sorted(before.items())
                if n and world.truth[day].total() > n}
        assert late and report.alert["details"]["late_rows"] == late  # the alert names each day and its count
        assert all(f"{day} +{n}" in report.alert["message"] for day, n in late.items())


def _ga4_counts(box, day) -> Counter:
    rows = engine.query(open_catalog(box.home), "SELECT event_name, count(*) AS n FROM staging.ga4__events "
                                                f"WHERE event_date = DATE '{day:%Y-%m-%d}' GROUP BY event_name")
    return Counter(dict(zip(rows.column("event_name").to_pylist(), rows.column("n").to_pylist(), strict=True)))


def _readable(box) -> set[str]:
    """Event ids of the whole lines Python's gzip module reads from the cut file before it gives up."""
    ids = set(whole_lines(next(box.events_root.rglob("part-fault-cut.json.gz"))))
    assert 0 < len(ids) < 300
    return ids


def _event_ids(box) -> set[str]:
    rows = engine.query(open_catalog(box.home), "SELECT event_id FROM staging.events__app_events")
    return set(rows.column("event_id").to_pylist())


def test_scenario_run_from_the_command_line(monkeypatch):
    """The product command: its own sandbox and embedded PostgreSQL under LAKEWARD_HOME."""
    import shutil
    import tempfile
    from pathlib import Path

    root = Path(tempfile.mkdtemp(prefix="lakeward-scenario-"))
    root.chmod(0o755)  # the embedded server runs as its own OS user when tests run as root
    monkeypatch.setenv("LAKEWARD_HOME", str(root / "home"))
    monkeypatch.delenv("LAKEWARD_PG_DSN", raising=False)
    try:
        out = CliRunner().invoke(app, ["scenario", "run", "schema_drift_added_column"])
        assert out.exit_code == 0, out.stdout + str(out.exception)
        assert "detected yes, contained yes, recovered yes" in " ".join(out.stdout.split())
        bad = CliRunner().invoke(app, ["scenario", "run", "no_such_fault"])
        assert bad.exit_code == 2 and "unknown scenario 'no_such_fault'" in bad.stderr
    finally:
        shutil.rmtree(root, ignore_errors=True)
