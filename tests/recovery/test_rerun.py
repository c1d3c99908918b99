"""Rerun refuses what it cannot do with one clear line, and reruns only what failed."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from lakeward.cli import app
from lakeward.lake import engine
from lakeward.lake.catalog import open_catalog
from lakeward.recovery import faults
from lakeward.recovery.fingerprint import fingerprint
from lakeward.recovery.rerun import rerun
from lakeward.runner import run
from tests.conftest import NIGHT
from tests.recovery.conftest import T0, alerts_of, small_definition, use

cli = CliRunner()


def test_rerun_redoes_only_the_failed_steps(module_source, tmp_path, monkeypatch):
    home = use(monkeypatch, tmp_path / "home", module_source)
    defn = small_definition(tmp_path)

    def refuse(where: str) -> None:
        raise OSError(28, "No space left on device")
    with faults.armed("landing.mid_write", refuse):
        failed = run(defn, home, end=T0, now=NIGHT, sources={"postgres"})
    assert not failed.ok
    fired = [a for a in alerts_of(home) if a["kind"] == "disk_full"]
    assert {a["step"] for a in fired} == {f"extract:postgres.{o}" for o in ("orders", "payments", "refunds")}
    assert {a["recovery"] for a in fired} == {f"lakeward rerun --run {failed.run_id}"}
    assert all("could not be written under" in a["message"] and "No space left on device" in a["message"]
               for a in fired)

    status = cli.invoke(app, ["status", "--definition", str(defn.path)], env={"COLUMNS": "300"})
    assert f"lakeward rerun --run {failed.run_id}" in status.stdout and "failed" in status.stdout

    out = cli.invoke(app, ["rerun", "--run", failed.run_id, "--definition", str(defn.path)])
    assert out.exit_code == 0, out.stdout + out.stderr
    listed = json.loads(cli.invoke(app, ["status", "--runs", "-f", "json", "--definition", str(defn.path)]).stdout)
    assert listed == []
    before = fingerprint(home)
    again = cli.invoke(app, ["rerun", "--run", failed.run_id, "--definition", str(defn.path)])
    assert again.exit_code == 0 and fingerprint(home) == before  # running the recovery twice changes nothing


def test_rerun_of_an_unknown_run_says_so(module_source, tmp_path, monkeypatch):
    use(monkeypatch, tmp_path / "home", module_source)
    defn = small_definition(tmp_path)
    out = cli.invoke(app, ["rerun", "--run", "20990101T000000Z-nope", "--definition", str(defn.path)])
    assert out.exit_code == 2
    assert "run 20990101T000000Z-nope is not in audit.runs" in " ".join(out.stderr.split())


def test_rerun_of_a_stage_step_reruns_its_quality_gate(module_source, tmp_path, monkeypatch):
    """extract -> quality -> stage per object: naming the stage brings back the gate that must pass before it."""
    home = use(monkeypatch, tmp_path / "home", module_source)
    defn = small_definition(tmp_path)

    first = run(defn, home, end=T0, now=NIGHT, sources={"postgres"})
    assert first.ok
    before = fingerprint(home)

    redone = rerun(defn, home, first.run_id, step="stage:postgres.payments", now=NIGHT)
    assert redone.ok, [r.error for r in redone.failed()]
    ran = {sid for sid, r in redone.results.items() if r.status == "succeeded"}
    assert {"extract:postgres.payments", "quality:staging.postgres__payments", "stage:postgres.payments"} <= ran
    assert not any(sid.endswith("postgres.orders") or sid.endswith("postgres__orders") for sid in ran)
    gate = engine.query(open_catalog(home), "SELECT status FROM audit.runs WHERE run_id = "
                                            f"'{redone.run_id}' AND step = 'quality:staging.postgres__payments'")
    assert gate.column("status").to_pylist() == ["succeeded"]
    assert fingerprint(home) == before  # the same batch, replayed from landing, gated and staged again
