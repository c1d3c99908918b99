"""The stripe source's keys are checked when the definition loads, with the file line and the key."""

from __future__ import annotations

import pytest

from lakeward.definition import DefinitionError
from tests.stripe.conftest import stripe_definition


def test_an_unknown_stripe_object_is_named_with_its_line(tmp_path):
    with pytest.raises(DefinitionError) as err:
        stripe_definition(tmp_path, lambda s: s["objects"].update(charge={"primary_key": ["id"]}))
    assert ".objects.charge" in str(err.value) and "'charges'" in str(err.value) and "(got 'charge')" in str(err.value)
    assert err.value.line is not None


def test_the_cursor_of_a_stripe_object_is_version_at(tmp_path):
    with pytest.raises(DefinitionError) as err:
        stripe_definition(tmp_path, lambda s: s["objects"]["charges"].update(cursor="created"))
    assert err.value.key == "sources.stripe.objects.charges.cursor" and "version_at" in str(err.value)


def test_the_api_version_is_pinned(tmp_path):
    with pytest.raises(DefinitionError) as err:
        stripe_definition(tmp_path, lambda s: s.update(api_version="latest"))
    assert err.value.key == "sources.stripe.api_version"
    defn = stripe_definition(tmp_path)
    assert defn.sources["stripe"].api_version == "2025-03-31.basil"
    assert defn.sources["stripe"].objects["subscriptions"].full_refresh.params == {"status": "all"}
