"""audit.runs takes a few commits per run, not one per step, and a crash still leaves the record of every
step that finished: the journal of a killed run is committed by the next look at the trail."""

from __future__ import annotations

import json
import signal
from collections import Counter

from typer.testing import CliRunner

from lakeward import audit, audit_chain, dag
from lakeward.cli import app
from lakeward.lake.catalog import load_table, open_catalog
from lakeward.recovery import trail
from lakeward.recovery.rerun import plan
from lakeward.runner import run
from tests.conftest import NIGHT
from tests.recovery.conftest import T0, lakeward_process, small_definition, use

cli = CliRunner()


def _trail(home):
    return load_table(open_catalog(home), audit.RUNS)


def test_a_run_commits_all_its_step_records_in_one_append(module_source, tmp_path, monkeypatch):
    home = use(monkeypatch, tmp_path / "home", module_source)
    defn = small_definition(tmp_path)
    steps = set(dag.build(defn))
    for runs in (1, 2):
        assert run(defn, home, end=T0, now=NIGHT).ok
        table = _trail(home)
        # per run: its opening record, then every step record in one append, then its closing record
        assert len(table.snapshots()) == 3 * runs
        rows = table.scan().to_arrow().to_pylist()
        assert len(rows) == runs * (len(steps) + 2)
    by_run = Counter(r["run_id"] for r in rows if r["kind"] != "run")
    assert sorted(by_run.values()) == [len(steps), len(steps)]
    assert {r["step"] for r in rows if r["kind"] != "run"} == steps
    assert audit_chain.verify(table).ok
    assert not list((home.root / trail.FOLDER).glob("*.jsonl"))  # nothing left journaled


def _killed(defn, home, source, point):
    killed = lakeward_process(["run", "--definition", str(defn.path), "--end", T0.isoformat()], home.root, source,
                              kill_at=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    [opened] = [r for r in _trail(home).scan().to_arrow().to_pylist() if r["status"] == "running"]
    return opened["run_id"]


def test_a_killed_run_keeps_the_record_of_every_step_it_finished(module_source, tmp_path, monkeypatch):
    home = use(monkeypatch, tmp_path / "home", module_source)
    defn = small_definition(tmp_path)
    graph = dag.build(defn)
    run_id = _killed(defn, home, module_source, "mart.start")  # every object extracted, checked and staged
    journal = trail.journal_of(home, run_id)
    journaled = trail.read_journal(journal)
    staged = {sid for sid, s in graph.items() if s.source}  # extract, quality and stage of each object
    assert {r.step for r in journaled} == staged and {r.status for r in journaled} == {"succeeded"}
    assert [r["step"] for r in _trail(home).scan().to_arrow().to_pylist()] == ["run"]  # not committed yet

    objects = cli.invoke(app, ["status", "-f", "json", "--definition", str(defn.path)])
    assert objects.exit_code == 0, objects.stderr
    assert {r["object"]: r["last_status"] for r in json.loads(objects.stdout)} == {
        o: "succeeded" for o in ("orders", "payments", "refunds")}  # the journaled stages count
    listed = cli.invoke(app, ["status", "--runs", "-f", "json", "--definition", str(defn.path)])
    assert listed.exit_code == 0, listed.stderr
    assert [r["status"] for r in json.loads(listed.stdout)] == ["crashed"]
    rows = sorted(_trail(home).scan().to_arrow().to_pylist(), key=lambda r: r["seq"])
    assert [r["step"] for r in rows[1:-1]] == [r.step for r in journaled]  # in the order the steps finished
    assert (rows[0]["status"], rows[-1]["status"]) == ("running", "crashed")
    assert not journal.exists() and audit_chain.verify(_trail(home)).ok
    # the recovery redoes only what the crash cut off: the mart and its gate
    assert plan(defn, open_catalog(home), run_id).steps == set(graph) - staged


def test_a_kill_after_the_commit_and_before_the_journal_goes_duplicates_nothing(module_source, tmp_path,
                                                                                  monkeypatch):
    home = use(monkeypatch, tmp_path / "home", module_source)
    defn = small_definition(tmp_path)
    run_id = _killed(defn, home, module_source, "audit.mid_flush")
    assert trail.journal_of(home, run_id).exists()
    recovered = cli.invoke(app, ["rerun", "--run", run_id, "--definition", str(defn.path)])  # no status first
    assert recovered.exit_code == 0, recovered.stdout + recovered.stderr
    rows = [r for r in _trail(home).scan().to_arrow().to_pylist() if r["run_id"] == run_id]
    steps = Counter(r["step"] for r in rows if r["kind"] != "run")
    assert set(steps) == set(dag.build(defn)) and set(steps.values()) == {1}
    assert not trail.journal_of(home, run_id).exists() and audit_chain.verify(_trail(home)).ok
    listed = cli.invoke(app, ["status", "--runs", "-f", "json", "--definition", str(defn.path)])
    assert json.loads(listed.stdout) == []  # crashed, then recovered by the rerun
