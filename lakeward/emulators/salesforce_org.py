"""The data of one emulated Salesforce org: its objects' fields (what describe() reports) and records.

Records hold Python values (str, bool, Decimal, date, aware datetime, None); the HTTP layer formats them
the way the REST API (JSON) or Bulk API 2.0 (CSV) would. Deleted records stay, with IsDeleted = true,
like the recycle bin: `query` hides them, `queryAll` returns them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

Record = dict[str, object]


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str  # Salesforce field type: id, string, reference, boolean, currency, double, int, date, datetime...
    precision: int = 0
    scale: int = 0

    def describe(self) -> dict:
        return {"name": self.name, "type": self.type, "label": self.name, "nillable": self.name != "Id",
                "precision": self.precision, "scale": self.scale, "length": 255 if self.type == "string" else 0,
                "custom": self.name.endswith("__c"), "updateable": self.type not in ("id", "datetime")}


def _fields(spec: str) -> list[FieldSpec]:
    """'Name:string Amount:currency(18,2)' -> field specs."""
    out = []
    for item in spec.split():
        name, _, kind = item.partition(":")
        precision = scale = 0
        if "(" in kind:
            kind, _, digits = kind.partition("(")
            precision, scale = (int(d) for d in digits.rstrip(")").split(","))
        out.append(FieldSpec(name, kind, precision, scale))
    return out


_SYSTEM = ("Id:id CreatedDate:datetime CreatedById:reference LastModifiedDate:datetime "
           "LastModifiedById:reference SystemModstamp:datetime")
_DELETABLE = _SYSTEM + " IsDeleted:boolean"
SCHEMAS: dict[str, str] = {
    "User": _SYSTEM + " Username:string FirstName:string LastName:string Name:string Email:email "
                      "IsActive:boolean Title:string Department:string",
    "Account": _DELETABLE + " Name:string Type:picklist Industry:picklist AccountSource:picklist "
                            "BillingCountry:string Phone:phone Website:url AnnualRevenue:currency(18,2) "
                            "NumberOfEmployees:int OwnerId:reference CurrencyIsoCode:picklist "
                            "Stripe_Customer_Id__c:string App_User_Id__c:double(18,0)",
    "Contact": _DELETABLE + " AccountId:reference FirstName:string LastName:string Name:string Email:email "
                            "Title:string LeadSource:picklist MailingCountry:string OwnerId:reference",
    "Lead": _DELETABLE + " FirstName:string LastName:string Name:string Company:string Email:email "
                         "Status:picklist Rating:picklist LeadSource:picklist Country:string IsConverted:boolean "
                         "ConvertedDate:date ConvertedAccountId:reference ConvertedContactId:reference "
                         "ConvertedOpportunityId:reference OwnerId:reference",
    "Opportunity": _DELETABLE + " AccountId:reference Name:string StageName:picklist Amount:currency(18,2) "
                                "Probability:percent(3,0) CloseDate:date IsClosed:boolean IsWon:boolean "
                                "Type:picklist LeadSource:picklist CampaignId:reference "
                                "ForecastCategoryName:picklist OwnerId:reference CurrencyIsoCode:picklist",
    "OpportunityLineItem": _DELETABLE + " OpportunityId:reference Product2Id:reference Name:string "
                                        "Quantity:double(10,2) UnitPrice:currency(18,2) TotalPrice:currency(18,2) "
                                        "ServiceDate:date CurrencyIsoCode:picklist",
    "Campaign": _DELETABLE + " Name:string Type:picklist Status:picklist StartDate:date EndDate:date "
                             "IsActive:boolean BudgetedCost:currency(18,2) ActualCost:currency(18,2) "
                             "UTM_Campaign__c:string OwnerId:reference CurrencyIsoCode:picklist",
    "CampaignMember": _DELETABLE + " CampaignId:reference LeadId:reference ContactId:reference "
                                   "Status:picklist HasResponded:boolean FirstRespondedDate:date",
}


KEY_PREFIXES = {"User": "005", "Account": "001", "Contact": "003", "Lead": "00Q", "Opportunity": "006",
                "OpportunityLineItem": "00k", "Campaign": "701", "CampaignMember": "00v"}


def record_id(sobject: str, number: int) -> str:
    """An 18-character id with the object's key prefix (the shape of identities.salesforce_account_id)."""
    return f"{KEY_PREFIXES[sobject]}BC{number:010d}AAA"


class Org:
    """Objects, their fields and records, safe to read while a generator writes."""

    def __init__(self) -> None:
        self.fields: dict[str, dict[str, FieldSpec]] = {
            name: {f.name: f for f in _fields(spec)} for name, spec in SCHEMAS.items()}
        self.records: dict[str, dict[str, Record]] = {name: {} for name in SCHEMAS}
        self.lock = threading.RLock()

    def put(self, sobject: str, record: Record) -> Record:
        """Insert or replace a whole record; fields it lacks are null, fields the object lacks are refused."""
        unknown = set(record) - set(self.fields[sobject])
        if unknown:
            raise KeyError(f"{sobject} has no field(s) {sorted(unknown)}")
        with self.lock:
            full = {name: record.get(name) for name in self.fields[sobject]}
            self.records[sobject][str(record["Id"])] = full
        return full

    def change(self, sobject: str, record_id: str, at: datetime, **values: object) -> Record:
        """Update fields of a live record, stamped `at` (LastModifiedDate and SystemModstamp)."""
        with self.lock:
            record = self.records[sobject][record_id]
            record.update(values, LastModifiedDate=at, SystemModstamp=at)
            return record

    def delete(self, sobject: str, record_id: str, at: datetime) -> None:
        """Move a record to the recycle bin: IsDeleted, stamped `at`."""
        self.change(sobject, record_id, at, IsDeleted=True)

    def rows(self, sobject: str) -> list[Record]:
        with self.lock:
            return [dict(r) for r in self.records[sobject].values()]

    def get(self, sobject: str, record_id: str) -> Record:
        with self.lock:
            return dict(self.records[sobject][record_id])

    def describe(self, sobject: str) -> dict:
        with self.lock:
            fields = [f.describe() for f in self.fields[sobject].values()]
        return {"name": sobject, "label": sobject, "queryable": True, "fields": fields,
                "keyPrefix": KEY_PREFIXES[sobject]}

    # Schema changes an admin makes in Setup, for drift tests.
    def add_field(self, sobject: str, name: str, kind: str, value: object = None) -> None:
        with self.lock:
            self.fields[sobject][name] = FieldSpec(name, kind)
            for record in self.records[sobject].values():
                record[name] = value

    def remove_field(self, sobject: str, name: str) -> None:
        with self.lock:
            del self.fields[sobject][name]
            for record in self.records[sobject].values():
                record.pop(name, None)

    def change_type(self, sobject: str, name: str, kind: str, convert=str) -> None:
        with self.lock:
            self.fields[sobject][name] = FieldSpec(name, kind)
            for record in self.records[sobject].values():
                if record.get(name) is not None:
                    record[name] = convert(record[name])
