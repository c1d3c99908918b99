"""Reruns change nothing; schema drift from Stripe evolves, warns or fails the batch as the issue says."""

from __future__ import annotations

import json
from datetime import timedelta

from lakeward import watermark
from lakeward.demo.stripe_payloads import ts
from lakeward.lake import engine
from lakeward.lake.catalog import load_table, open_catalog
from tests.conftest import warehouse_fingerprint
from tests.stripe.conftest import OCT1, mismatches, run, staging, stripe_definition

OBJECTS = ("subscriptions", "invoices", "charges")
OCT2, OCT3, OCT4 = (OCT1 + timedelta(days=n) for n in (1, 2, 3))


def test_rerunning_any_window_leaves_staging_unchanged(account, tmp_path, home):
    defn = stripe_definition(tmp_path, objects=OBJECTS)
    assert run(defn, home, OCT1).ok
    account.advance(OCT1, OCT2)
    assert run(defn, home, OCT2).ok
    settled = warehouse_fingerprint(home)
    # An earlier window again from its landed batch, then the same read afresh from Stripe: nothing moves.
    assert run(defn, home, OCT2, start=OCT1 - timedelta(hours=2)).ok
    assert run(defn, home, OCT2, start=OCT1 - timedelta(hours=12), reextract=True).ok
    assert warehouse_fingerprint(home) == settled
    for obj in OBJECTS:
        assert mismatches(home, account.world, obj) == [], obj


def test_added_removed_and_retyped_fields(account, tmp_path, home):
    defn = stripe_definition(tmp_path, objects=("charges",))
    assert run(defn, home, OCT1).ok
    world = account.world
    charges = sorted(world.current("charges"))
    at = ts(OCT1 + timedelta(hours=3))
    # Stripe stops sending `captured`, and starts sending a new field on the charges it changes.
    for obj in world.account.objects["charges"].values():
        obj.pop("captured")
    for chid in charges[:3]:
        world.account.update("charges", chid, {"risk_flag": "elevated"}, at, "charge.updated")
    world.account.clock = OCT2
    result = run(defn, home, OCT2)
    assert result.ok, [r.error for r in result.failed()]
    details = result.results["stage:stripe.charges"].outcome.details
    assert details["drift"] == {"added": ["risk_flag"], "removed": ["captured"]}
    assert any("captured" in w for w in details["warnings"])
    rows = staging(home, "charges")
    assert [rows[c]["risk_flag"] for c in charges[:3]] == ["elevated"] * 3
    assert [rows[c]["captured"] for c in charges[:3]] == [None] * 3
    assert rows[charges[3]]["captured"] is not None and rows[charges[3]]["risk_flag"] is None  # not re-read

    # A changed type fails the batch, naming the object, the field, both types and the quarantine table
    # that keeps the batch's rows; nothing staged moves.
    before = warehouse_fingerprint(home)
    captured = world.account.objects["charges"][charges[5]]["amount_captured"]
    world.account.update("charges", charges[5], {"amount_captured": "12.50"}, ts(OCT2 + timedelta(hours=1)),
                         "charge.updated")
    world.account.clock = OCT3
    result = run(defn, home, OCT3)
    assert not result.ok
    (failed,) = result.failed()
    assert failed.step.id == "stage:stripe.charges"
    assert "staging.stripe__charges" in failed.error and "'amount_captured'" in failed.error
    assert "int64" in failed.error and "string" in failed.error and "quarantine.stripe__charges" in failed.error
    after = warehouse_fingerprint(home)
    assert {t: f for t, f in after.items() if not t.startswith("quarantine.")} == before
    assert watermark.read(load_table(open_catalog(home), "staging.stripe__charges")) == OCT2
    extracted = result.results["extract:stripe.charges"].outcome
    kept = quarantined(home)
    assert len(kept) == extracted.rows_out == after["quarantine.stripe__charges"][0]
    assert {(r["batch_id"], r["field"], r["expected_type"], r["found_type"]) for r in kept} == \
        {(extracted.batch_id, "amount_captured", "int64", "string")}
    bad = [json.loads(r["raw_row"]) for r in kept if json.loads(r["raw_row"])["id"] == charges[5]]
    assert [row["amount_captured"] for row in bad] == ["12.50"]

    # Once Stripe sends the field's old type again, the next run stages everything; the quarantine stays.
    world.account.update("charges", charges[5], {"amount_captured": captured}, ts(OCT3 + timedelta(hours=1)),
                         "charge.updated")
    world.account.clock = OCT4
    result = run(defn, home, OCT4)
    assert result.ok, [r.error for r in result.failed()]
    assert mismatches(home, world, "charges") == []
    assert watermark.read(load_table(open_catalog(home), "staging.stripe__charges")) == OCT4
    assert len(quarantined(home)) == len(kept)


def quarantined(home) -> list[dict]:
    con = engine.connect(open_catalog(home), ["quarantine.stripe__charges"])
    return con.sql("SELECT * FROM quarantine.stripe__charges").to_arrow_table().to_pylist()
