"""Column names and typed values from describe(): REST (JSON) and Bulk (CSV) text must give the same value."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from lakeward.runner import run
from lakeward.sources.salesforce_types import Field, FieldNameError, column_name, fields_from_describe
from tests.conftest import NIGHT
from tests.salesforce.conftest import T0, sf_definition


@pytest.mark.parametrize("api, column", [
    ("SystemModstamp", "system_modstamp"), ("CurrencyIsoCode", "currency_iso_code"), ("IsDeleted", "is_deleted"),
    ("UTM_Campaign__c", "utm_campaign__c"), ("Stripe_Customer_Id__c", "stripe_customer_id__c"),
    ("Product2Id", "product2_id"), ("HTTPStatus__c", "http_status__c"), ("Id", "id"),
])
def test_column_names_are_snake_case_of_api_names(api, column):
    assert column_name(api) == column


@pytest.mark.parametrize("field, rest, bulk, expected, arrow", [
    (Field("Amount", "currency", 18, 2), Decimal("1234.5"), "1234.50", Decimal("1234.50"), pa.decimal128(18, 2)),
    (Field("App_User_Id__c", "double", 18, 0), Decimal("42.0"), "42", 42, pa.int64()),
    (Field("NumberOfEmployees", "int"), 7, "7", 7, pa.int64()),
    (Field("IsWon", "boolean"), False, "false", False, pa.bool_()),
    (Field("CloseDate", "date"), "2026-10-31", "2026-10-31", date(2026, 10, 31), pa.date32()),
    (Field("SystemModstamp", "datetime"), "2026-10-01T12:30:00.250+0000", "2026-10-01T12:30:00.250Z",
     datetime(2026, 10, 1, 12, 30, 0, 250000, tzinfo=UTC), pa.timestamp("us", tz="UTC")),
    (Field("Rating", "picklist"), None, "", None, pa.string()),
    (Field("BillingAddress", "address"), {"city": "Paris"}, '{"city": "Paris"}', '{"city": "Paris"}', pa.string()),
])
def test_rest_and_bulk_values_type_alike(field, rest, bulk, expected, arrow):
    assert field.arrow == arrow
    assert field.value(rest) == field.value(bulk) == expected


def test_names_that_collide_or_are_not_identifiers_are_refused():
    with pytest.raises(FieldNameError, match="fields IsWon and Is_Won both become column 'is_won'"):
        fields_from_describe("Opportunity", {"fields": [{"name": "IsWon", "type": "boolean"},
                                                        {"name": "Is_Won", "type": "boolean"}]})
    with pytest.raises(FieldNameError, match="Salesforce Lead.Deleted_At: column name|both become column"):
        fields_from_describe("Lead", {"fields": [{"name": "Deleted_At", "type": "datetime"}]})


def test_an_unknown_object_and_an_undeclared_cursor_fail_by_name(tmp_path, home, salesforce):
    def objects(raw):
        raw["sources"]["salesforce"]["objects"] = {
            "widget": {"primary_key": ["id"], "cursor": "system_modstamp"},
            "lead": {"primary_key": ["id"], "cursor": "last_touched_at"}}

    result = run(sf_definition(tmp_path, edit=objects), home, end=T0, now=NIGHT)
    widget = result.results["extract:salesforce.widget"].error or ""
    lead = result.results["extract:salesforce.lead"].error or ""
    assert "Salesforce Widget: extraction failed" in widget and "NOT_FOUND" in widget
    assert "sources.salesforce.objects.lead.cursor: column 'last_touched_at' is not a field of Salesforce Lead" in lead
