"""Reconciliation of the Stripe ledger against the emulated account over real HTTP: a balance transaction
the warehouse lost is found per day, recorded with its row, and alerted with the command that repairs it."""

from __future__ import annotations

import json

import pytest
from pyiceberg.expressions import EqualTo
from typer.testing import CliRunner

from lakeward.cli import app
from lakeward.lake import engine
from lakeward.lake.catalog import load_table, open_catalog
from lakeward.load_definition import load_definition
from tests.conftest import REPO
from tests.recovery.conftest import alerts_of
from tests.stripe.conftest import OCT1, run, start_account, stripe_definition

cli = CliRunner()


@pytest.fixture
def account(marketplace_db, monkeypatch):
    acct = start_account(marketplace_db, monkeypatch)
    yield acct
    acct.api.stop()


def test_the_repository_reconciles_the_stripe_ledger():
    spec = load_definition(REPO / "pipeline.yaml").sources["stripe"].objects["balance_transactions"]
    assert spec.reconcile is not None and spec.reconcile.amount == "amount"


def test_a_lost_balance_transaction_is_found_by_day_and_alerted(account, home, tmp_path):
    defn = stripe_definition(tmp_path, objects=("balance_transactions",))
    assert run(defn, home, end=OCT1).ok
    clean = cli.invoke(app, ["reconcile", "--source", "stripe", "--definition", str(defn.path)])
    assert clean.exit_code == 0, clean.stdout + clean.stderr
    assert "MATCH stripe.balance_transactions" in clean.stdout and "MISMATCH" not in clean.stdout

    truth = account.world.current("balance_transactions")
    lost = min(truth)  # a row the warehouse lost (a batch restored from a bad backup, a manual delete)
    load_table(open_catalog(home), "staging.stripe__balance_transactions").delete(EqualTo("id", lost))

    found = cli.invoke(app, ["reconcile", "--source", "stripe", "--definition", str(defn.path)])
    assert found.exit_code == 1, found.stdout
    assert "MISMATCH stripe.balance_transactions" in found.stdout
    rows = engine.query(open_catalog(home), "SELECT * FROM audit.reconciliations "
                                            "WHERE object = 'balance_transactions' AND kind <> 'day'").to_pylist()
    assert [(json.loads(r["row_key"]), r["kind"], r["source_value"]) for r in rows] == [
        ({"id": lost}, "missing_in_warehouse", str(truth[lost]["amount"]))]
    [alert] = [a for a in alerts_of(home) if a["kind"] == "reconcile_mismatch"]
    assert "stripe.balance_transactions" in alert["message"]
    assert "lakeward backfill --source stripe" in json.dumps(alert)
