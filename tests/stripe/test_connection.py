"""A Stripe connection must resolve to a JSON secret; its value appears in no error."""

from __future__ import annotations

import json

import pytest

from lakeward.lake.landing import BatchWriter, Window
from lakeward.sources.connections import UnresolvedConnection
from lakeward.sources.extract_stripe import ExtractError, extract
from lakeward.sources.target import Target
from tests.stripe.conftest import OCT1, stripe_definition


def target(defn) -> Target:
    source = defn.sources["stripe"]
    return Target("stripe", source, "charges", source.objects["charges"], str(defn.path))


def test_a_secret_that_is_not_json_names_the_reference_not_the_value(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEWARD_STRIPE_SECRET", "sk_live_notjsonatall1234")
    defn = stripe_definition(tmp_path, objects=("charges",))
    window = Window(OCT1.replace(day=1, month=9), OCT1)
    with pytest.raises(UnresolvedConnection) as err:
        extract(target(defn), window, BatchWriter(tmp_path, "stripe", "charges", window), defn.sources["stripe"].limits)
    assert "env:LAKEWARD_STRIPE_SECRET" in str(err.value) and "api_key" in str(err.value)
    assert "notjson" not in str(err.value)


def test_a_refused_key_fails_at_once_without_showing_it(account, tmp_path, monkeypatch):
    secret = {"api_key": "sk_test_refusedrefused5678", "api_base": account.api.url}
    monkeypatch.setenv("LAKEWARD_STRIPE_SECRET", json.dumps(secret))
    defn = stripe_definition(tmp_path, objects=("charges",))
    window = Window(OCT1.replace(day=1, month=9), OCT1)
    with pytest.raises(ExtractError) as err:
        extract(target(defn), window, BatchWriter(tmp_path, "stripe", "charges", window), defn.sources["stripe"].limits)
    assert str(err.value).startswith("stripe.charges: GET /v1/events: AuthenticationError (HTTP 401)")
    assert "refused" in str(err.value) and "5678" not in str(err.value) and "sk_test" not in str(err.value)


def test_a_declared_column_of_the_wrong_type_fails_extraction_naming_it(account, tmp_path):
    world = account.world
    chid = sorted(world.current("charges"))[0]
    world.account.objects["charges"][chid]["amount"] = "12.50"
    defn = stripe_definition(tmp_path, objects=("charges",))
    window = Window(OCT1.replace(day=1, month=9), OCT1)
    with pytest.raises(ExtractError) as err:
        extract(target(defn), window, BatchWriter(tmp_path, "stripe", "charges", window), defn.sources["stripe"].limits)
    assert str(err.value) == "stripe.charges: column 'amount' declared int64: Stripe sent str '12.50'"
