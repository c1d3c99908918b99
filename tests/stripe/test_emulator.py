"""The emulator answers like Stripe for what the extractor relies on, checked through the official SDK."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import stripe

from lakeward.emulators.stripe_api import StripeAccount, StripeAPI

KEY = "sk_test_" + "emulator0000000000001234"


@pytest.fixture
def api():
    account = StripeAccount()
    for n in range(250):  # two customers per second, so created ties exist across page boundaries
        account.create("customers", {"id": f"cus_{n:05d}", "object": "customer", "created": 1_700_000_000 + n // 2,
                                     "email": None, "metadata": {"n": str(n)}}, "customer.created")
    account.clock = datetime.fromtimestamp(1_700_000_000, UTC) + timedelta(days=10)
    with StripeAPI(account, KEY) as server:
        yield server


def client(api, key=KEY) -> stripe.StripeClient:
    return stripe.StripeClient(key, base_addresses={"api": api.url}, stripe_version="2025-03-31.basil",
                               max_network_retries=0)


def test_pagination_returns_every_object_once_newest_first(api):
    seen, after = [], None
    while True:
        page = client(api).v1.customers.list(params={"limit": 100, **({"starting_after": after} if after else {})})
        seen += [c.id for c in page.data]
        if not page.has_more:
            break
        after = page.data[-1].id
    assert seen == [f"cus_{n:05d}" for n in reversed(range(250))]
    assert page.object == "list" and page.url == "/v1/customers"
    back = client(api).v1.customers.list(params={"limit": 3, "ending_before": "cus_00100"})
    assert [c.id for c in back.data] == ["cus_00103", "cus_00102", "cus_00101"]


def test_created_filters_and_limit(api):
    page = client(api).v1.customers.list(params={"limit": 100, "created": {"gte": 1_700_000_010, "lt": 1_700_000_012}})
    assert sorted(c.id for c in page.data) == ["cus_00020", "cus_00021", "cus_00022", "cus_00023"]
    page = client(api).v1.customers.list(params={"limit": 100, "created": {"gt": 1_700_000_010, "lte": 1_700_000_011}})
    assert sorted(c.id for c in page.data) == ["cus_00022", "cus_00023"]
    with pytest.raises(stripe.InvalidRequestError) as err:
        client(api).v1.customers.list(params={"limit": 101})
    assert err.value.http_status == 400 and "limit" in str(err.value)


def test_events_are_kept_30_days_and_filter_by_type(api):
    account = api.account
    account.update("customers", "cus_00007", {"email": "a@example.com"}, 1_700_000_000 + 9 * 86_400,
                   "customer.updated")
    account.clock = datetime.fromtimestamp(1_700_000_000, UTC) + timedelta(days=35)
    events = client(api).v1.events.list(params={"limit": 100, "type": "customer.*"})
    assert [(e.type, e.data.object.id, e.data.previous_attributes.email) for e in events.data] == [
        ("customer.updated", "cus_00007", None)]
    assert client(api).v1.customers.retrieve("cus_00007").email == "a@example.com"


def test_errors_have_stripes_shape_and_never_echo_the_key(api):
    with pytest.raises(stripe.AuthenticationError) as err:
        client(api, "sk_test_" + "wrongwrongwrongwrong9876").v1.customers.list()
    assert err.value.http_status == 401 and "wrongwrongwrong" not in str(err.value)
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client(api).v1.customers.retrieve("cus_nope")
    assert missing.value.code == "resource_missing" and missing.value.http_status == 404
    api.faults.storm = 1.0
    with pytest.raises(stripe.RateLimitError) as limited:
        client(api).v1.customers.list()
    assert limited.value.http_status == 429 and limited.value.headers["Retry-After"] == "1"


def test_rate_limit_refuses_above_25_per_second_on_one_endpoint(api):
    codes = []
    for _ in range(40):  # far faster than 25/s: the bucket (25 tokens) runs dry
        try:
            client(api).v1.customers.retrieve("cus_00001")
            codes.append(200)
        except stripe.RateLimitError:
            codes.append(429)
    assert 25 <= codes.count(200) < 40 and codes.count(429) > 0
