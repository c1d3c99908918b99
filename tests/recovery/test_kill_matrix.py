"""kill -9 of a real `lakeward run` process at every fault point, then the documented recovery.

The recovery command is not hard-coded: it is read from `lakeward status --runs` and from the alert the
crash raised, then executed. The warehouse must end identical (row counts and checksums, batch ids
included) to a clean run's, with nothing half-written left on disk.
"""

from __future__ import annotations

import json
import signal

import pytest
from typer.testing import CliRunner

from lakeward import audit, audit_chain
from lakeward.cli import app
from lakeward.lake.catalog import load_table, open_catalog
from lakeward.recovery import cleanup, faults
from lakeward.recovery.fingerprint import fingerprint
from lakeward.runner import run
from tests.conftest import NIGHT
from tests.recovery.conftest import T0, alerts_of, lakeward_process, small_definition, uncommitted_landing, use

KILL_POINTS = [p for p in faults.POINTS if not p.startswith("backfill.")]
cli = CliRunner()


@pytest.fixture(scope="module")
def clean(module_source, tmp_path_factory):
    """The warehouse of an uninterrupted run over the same window: the one baseline of this module."""
    folder = tmp_path_factory.mktemp("clean")
    with pytest.MonkeyPatch.context() as mp:
        home = use(mp, folder / "home", module_source)
        defn = small_definition(folder)
        assert run(defn, home, end=T0, now=NIGHT).ok
        return fingerprint(home)


def test_the_matrix_covers_at_least_ten_points():
    assert len(KILL_POINTS) >= 10
    assert {"landing.mid_write", "stage.mid_commit", "extract.start", "mart.end"} <= set(KILL_POINTS)


@pytest.mark.parametrize("point", KILL_POINTS)
def test_kill_then_documented_recovery_restores_the_clean_state(point, clean, module_source, tmp_path, monkeypatch):
    defn = small_definition(tmp_path)
    home = use(monkeypatch, tmp_path / "home", module_source)
    killed = lakeward_process(["run", "--definition", str(defn.path), "--end", T0.isoformat()], home.root,
                              module_source, kill_at=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    if point == "landing.mid_write":
        assert uncommitted_landing(home), "the kill should have left a batch without its manifest"

    listed = cli.invoke(app, ["status", "--runs", "-f", "json", "--definition", str(defn.path)])
    assert listed.exit_code == 0, listed.stderr
    [crashed] = json.loads(listed.stdout)
    assert crashed["status"] == "crashed"
    [alert] = [a for a in alerts_of(home) if a["kind"] == "run_crashed"]
    assert alert["run_id"] == crashed["run_id"] and alert["recovery"] == crashed["command"]

    command = crashed["command"].split()
    assert command[:2] == ["lakeward", "rerun"]
    recovered = cli.invoke(app, [*command[1:], "--definition", str(defn.path)])
    assert recovered.exit_code == 0, recovered.stdout + recovered.stderr

    assert fingerprint(home) == clean
    assert uncommitted_landing(home) == []
    assert cleanup.orphan_data_files(open_catalog(home)) == []
    again = json.loads(cli.invoke(app, ["status", "--runs", "-f", "json", "--definition", str(defn.path)]).stdout)
    assert again == []
    assert audit_chain.verify(load_table(open_catalog(home), audit.RUNS)).ok
