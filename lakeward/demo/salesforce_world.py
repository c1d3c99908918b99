"""BrightCart's Salesforce org: the sales team's view of the same customers, simulated hour by hour.

Accounts mirror the marketplace's Stripe customers (identities.py: an Account carries the Stripe customer
id and the app user id); Campaigns are the shared marketing campaigns (campaigns.py). Leads arrive from
campaigns, get worked, convert into opportunities on a customer's account or are disqualified;
opportunities move through the stages to Closed Won or Closed Lost; junk is deleted to the recycle bin;
every night a territory reassignment updates many accounts at one SystemModstamp, as a bulk update does.
Every change an hour makes is stamped inside that hour, and a record's SystemModstamp only moves forward.
"""

from __future__ import annotations

import json
import os
import random
import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg

from lakeward.demo.campaigns import CAMPAIGNS
from lakeward.demo.identities import STRIPE_CUSTOMERS_SQL, salesforce_account_id, stripe_customer_id
from lakeward.emulators.salesforce_api import SalesforceEmulator
from lakeward.emulators.salesforce_org import Org, record_id

SECRET_VARIABLE = "LAKEWARD_SALESFORCE_SECRET"
HOUR = timedelta(hours=1)
CURRENCY = {"US": "USD", "GB": "GBP", "DE": "EUR", "FR": "EUR", "NL": "EUR", "ES": "EUR"}
# (stage, probability %, forecast category); the last two are the closed stages.
STAGES = (("Prospecting", 10, "Pipeline"), ("Qualification", 20, "Pipeline"), ("Needs Analysis", 40, "Pipeline"),
          ("Proposal/Price Quote", 60, "BestCase"), ("Negotiation/Review", 80, "Commit"),
          ("Closed Won", 100, "Closed"), ("Closed Lost", 0, "Omitted"))
REPS = ("Avery Quinn", "Blake Moreno", "Casey Liu", "Devon Patel", "Emery Walsh", "Finley Okafor")
Customer = tuple[int, str, str | None, str, datetime]  # user id, email, full name, country, customer since


class SalesforceWorld:
    """The org's generator. All randomness comes from (seed, hour), so the same calls give the same org."""

    def __init__(self, org: Org, seed: int, scale: float):
        self.org, self.seed, self.scale = org, seed, scale
        self.counters: dict[str, int] = {}
        self.started = False

    def _id(self, sobject: str) -> str:
        self.counters[sobject] = self.counters.get(sobject, 0) + 1
        return record_id(sobject, self.counters[sobject])

    def new_record(self, sobject: str, at: datetime, owner: str | None = None) -> dict:
        """The system fields of a record created at `at`, with the next id of its object."""
        record = {"Id": self._id(sobject), "CreatedDate": at, "LastModifiedDate": at, "SystemModstamp": at,
                  "CreatedById": record_id("User", 1), "LastModifiedById": record_id("User", 1)}
        if "IsDeleted" in self.org.fields[sobject]:
            record["IsDeleted"] = False
        if owner and "OwnerId" in self.org.fields[sobject]:
            record["OwnerId"] = owner
        return record

    def _change(self, sobject: str, rid: str, at: datetime, hour_end: datetime, **values: object) -> bool:
        """Apply a change stamped strictly after the record's last one, if the hour still has room for it."""
        stamp = max(at, self.org.get(sobject, rid)["SystemModstamp"] + timedelta(seconds=1))  # type: ignore[operator]
        if stamp >= hour_end:
            return False
        self.org.change(sobject, rid, stamp, **values)
        return True

    def _live(self, sobject: str, **match: object) -> list[dict]:
        with self.org.lock:  # copies of the matches only: the org may hold many records
            rows = [dict(r) for r in self.org.records[sobject].values() if not r.get("IsDeleted")
                    and all(r.get(k) == v for k, v in match.items())]
        return sorted(rows, key=lambda r: str(r["Id"]))

    def _open_team(self, at: datetime) -> dict[str, int]:
        """The sales team and the campaigns exist from the first moment of the org's history."""
        for n, name in enumerate(REPS, start=1):
            first, last = name.split()
            self.org.put("User", self.new_record("User", at) | {
                "Username": f"{first.lower()}@brightcart.example", "FirstName": first, "LastName": last,
                "Name": name, "Email": f"{first.lower()}@brightcart.example", "IsActive": True,
                "Title": "Account Executive", "Department": "Sales" if n > 1 else "Sales Operations"})
        for n, campaign in enumerate(CAMPAIGNS):
            record = self.new_record("Campaign", at, self._rep(n)) | {
                "Name": campaign.name, "Type": "Email" if campaign.channel == "email" else "Advertisement",
                "Status": "In Progress", "StartDate": at.date(), "EndDate": at.date() + timedelta(days=180),
                "IsActive": True, "BudgetedCost": Decimal(5000 + 1000 * n).quantize(Decimal("0.01")),
                "ActualCost": Decimal("0.00"), "UTM_Campaign__c": campaign.utm_campaign, "CurrencyIsoCode": "USD"}
            record["Id"] = campaign.salesforce_id
            self.org.put("Campaign", record)
        return {"sf_users": len(REPS), "sf_campaigns": len(CAMPAIGNS)}

    @staticmethod
    def _rep(n: int) -> str:
        return record_id("User", 1 + n % len(REPS))

    def generate(self, customers: list[Customer], start: datetime, end: datetime) -> dict[str, int]:
        """Hour by hour over [start, end); customers who became customers before `start` appear in its first hour."""
        counts: dict[str, int] = {}
        hour = start.astimezone(UTC)
        while hour < end:
            for kind, n in self.hour(customers, hour, min(hour + HOUR, end)).items():
                counts[kind] = counts.get(kind, 0) + n
            hour += HOUR
        return counts

    def hour(self, customers: list[Customer], hour_start: datetime, hour_end: datetime | None = None
             ) -> dict[str, int]:
        h0 = hour_start.astimezone(UTC)
        h1 = hour_end or h0 + HOUR
        rng = random.Random(f"brightcart-salesforce:{self.seed}:{self.scale}:{h0.isoformat()}")
        counts: dict[str, int] = {}

        def bump(kind: str, n: int = 1) -> None:
            counts[kind] = counts.get(kind, 0) + n

        if not self.started:
            counts |= self._open_team(h0)
            self.started = True
        clock = [h0]

        def tick() -> datetime:
            """The moment of the hour's next action: moving forward, never past the hour."""
            clock[0] = min(clock[0] + timedelta(seconds=rng.randint(1, 15)), h1 - timedelta(seconds=1))
            return clock[0]

        if h0.hour == 3:  # nightly territory reassignment: one rep's accounts, one SystemModstamp
            giver, taker = rng.sample(range(len(REPS)), 2)
            moved = [a for a in self._live("Account", OwnerId=self._rep(giver))
                     if a["SystemModstamp"] < h0]
            for account in moved:
                self.org.change("Account", str(account["Id"]), h0, OwnerId=self._rep(taker))
            bump("sf_bulk_updated", len(moved))
        for uid, email, name, country, since in customers:
            if since < h1 and record_id("Contact", uid) not in self.org.records["Contact"]:
                self._add_customer(uid, email, name, country, max(since.replace(microsecond=0), h0) if since >= h0
                                   else tick())
                bump("sf_accounts")
        for _ in range(self._volume(rng, 3.0)):
            self._add_lead(rng, tick())
            bump("sf_leads")
        for lead in self._live("Lead", IsConverted=False):
            bump(self._work_lead(rng, lead, tick(), h1))
        for opp in self._live("Opportunity", IsClosed=False):
            if rng.random() < 0.08:
                bump(self._advance(rng, opp, tick(), h1))
        # Junk is deleted: unconverted leads, open opportunities, campaign responses.
        junk = (("Lead", 0.002, {"IsConverted": False}), ("Opportunity", 0.002, {"IsClosed": False}),
                ("CampaignMember", 0.0005, {}))
        for sobject, share, match in junk:
            for record in self._live(sobject, **match):
                if rng.random() < share and self._delete(sobject, str(record["Id"]), tick(), h1):
                    bump(f"sf_deleted_{sobject.lower()}")
        counts.pop("", None)  # a change the hour had no room for
        return counts

    def _volume(self, rng: random.Random, per_hour: float) -> int:
        return max(1, round(per_hour * self.scale * rng.uniform(0.5, 1.5)))

    def _add_customer(self, uid: int, email: str, name: str | None, country: str, at: datetime) -> None:
        owner = self._rep(uid)
        company = name or email.split("@")[0]
        self.org.put("Account", self.new_record("Account", at, owner) | {
            "Id": salesforce_account_id(uid), "Name": company, "Type": "Customer", "Industry": "Retail",
            "AccountSource": "Marketplace", "BillingCountry": country, "CurrencyIsoCode": CURRENCY.get(country, "USD"),
            "NumberOfEmployees": 1 + uid % 50, "Stripe_Customer_Id__c": stripe_customer_id(uid),
            "App_User_Id__c": uid})
        first, _, last = (name or "Unknown Customer").partition(" ")
        self.org.put("Contact", self.new_record("Contact", at, owner) | {
            "Id": record_id("Contact", uid), "AccountId": salesforce_account_id(uid), "FirstName": first,
            "LastName": last or "Customer", "Name": name or "Unknown Customer", "Email": email,
            "LeadSource": "Marketplace", "MailingCountry": country})

    def _add_lead(self, rng: random.Random, at: datetime) -> None:
        campaign = rng.choice(CAMPAIGNS) if rng.random() < 0.7 else None
        n = self.counters.get("Lead", 0) + 1
        lead = self.new_record("Lead", at, self._rep(n)) | {
            "FirstName": f"Prospect{n}", "LastName": "Lead", "Name": f"Prospect{n} Lead",
            "Company": f"Shop {n} Ltd", "Email": f"prospect{n}@shops.example", "Status": "Open - Not Contacted",
            "Rating": rng.choice(("Hot", "Warm", "Cold")), "LeadSource": campaign.channel if campaign else "Web",
            "Country": rng.choice(tuple(CURRENCY)), "IsConverted": False}
        self.org.put("Lead", lead)
        if campaign:
            self.org.put("CampaignMember", self.new_record("CampaignMember", at) | {
                "CampaignId": campaign.salesforce_id, "LeadId": lead["Id"], "Status": "Responded",
                "HasResponded": True, "FirstRespondedDate": at.date()})

    def _work_lead(self, rng: random.Random, lead: dict, at: datetime, h1: datetime) -> str:
        draw, rid = rng.random(), str(lead["Id"])
        if lead["Status"] == "Open - Not Contacted" and draw < 0.15:
            return "sf_leads_worked" if self._change("Lead", rid, at, h1, Status="Working - Contacted") else ""
        if lead["Status"] != "Working - Contacted" or draw >= 0.08:
            return ""
        if draw < 0.02:
            changed = self._change("Lead", rid, at, h1, Status="Closed - Not Converted")
            return "sf_leads_disqualified" if changed else ""
        accounts = self._live("Account")
        if not accounts:
            return ""
        account = rng.choice(accounts)
        member = next(iter(self._live("CampaignMember", LeadId=rid)), None)
        opp_id = self._id("Opportunity")
        if not self._change("Lead", rid, at, h1, Status="Closed - Converted", IsConverted=True, ConvertedDate=at.date(),
                            ConvertedAccountId=account["Id"], ConvertedContactId=record_id(
                                "Contact", int(account["App_User_Id__c"])), ConvertedOpportunityId=opp_id):
            return ""
        stamp = self.org.get("Lead", rid)["SystemModstamp"]
        opp = self.new_record("Opportunity", stamp, str(lead["OwnerId"])) | {
            "Id": opp_id, "AccountId": account["Id"], "Name": f"{account['Name']} - Wholesale",
            "StageName": STAGES[0][0], "Probability": STAGES[0][1], "ForecastCategoryName": STAGES[0][2],
            "CloseDate": stamp.date() + timedelta(days=30), "IsClosed": False, "IsWon": False,  # type: ignore[union-attr]
            "Type": "New Business", "LeadSource": lead["LeadSource"], "CurrencyIsoCode": account["CurrencyIsoCode"],
            "CampaignId": member["CampaignId"] if member else None, "Amount": Decimal("0.00")}
        total = Decimal("0.00")
        items = []
        for k in range(rng.randint(1, 3)):
            quantity = Decimal(rng.randint(1, 20)).quantize(Decimal("0.01"))
            price = Decimal(rng.randint(2000, 40000)) / 100
            items.append(self.new_record("OpportunityLineItem", stamp) | {  # type: ignore[arg-type]
                "OpportunityId": opp_id, "Product2Id": f"01tBC{k + 1:010d}AAA", "Name": f"Wholesale bundle {k + 1}",
                "Quantity": quantity, "UnitPrice": price, "TotalPrice": quantity * price,
                "ServiceDate": stamp.date(), "CurrencyIsoCode": account["CurrencyIsoCode"]})  # type: ignore[union-attr]
            total += quantity * price
        self.org.put("Opportunity", opp | {"Amount": total.quantize(Decimal("0.01"))})
        for item in items:
            self.org.put("OpportunityLineItem", item)
        return "sf_leads_converted"

    def _advance(self, rng: random.Random, opp: dict, at: datetime, h1: datetime) -> str:
        index = [s[0] for s in STAGES].index(str(opp["StageName"]))
        if index == 4:  # negotiation ends the deal one way or the other
            index = 5 if rng.random() < 0.6 else 6
        else:
            index += 1
        stage, probability, forecast = STAGES[index]
        closed = index >= 5
        values: dict[str, object] = {"StageName": stage, "Probability": probability,
                                     "ForecastCategoryName": forecast, "IsClosed": closed, "IsWon": index == 5}
        if closed:
            values["CloseDate"] = at.date()
        if not self._change("Opportunity", str(opp["Id"]), at, h1, **values):
            return ""
        return {5: "sf_opportunities_won", 6: "sf_opportunities_lost"}.get(index, "sf_opportunities_advanced")

    def _delete(self, sobject: str, rid: str, at: datetime, h1: datetime) -> bool:
        if not self._change(sobject, rid, at, h1, IsDeleted=True):
            return False
        if sobject == "Opportunity":  # line items go to the recycle bin with their opportunity
            stamp = self.org.get(sobject, rid)["SystemModstamp"]
            for item in self._live("OpportunityLineItem", OpportunityId=rid):
                self.org.change("OpportunityLineItem", str(item["Id"]), stamp, IsDeleted=True)  # type: ignore[arg-type]
        return True

    # Ground truth for tests.
    def ids(self, sobject: str, *, deleted: bool) -> set[str]:
        return {str(r["Id"]) for r in self.org.rows(sobject) if bool(r.get("IsDeleted")) == deleted}

    def closed_won_by_campaign(self) -> dict[str | None, Decimal]:
        totals: dict[str | None, Decimal] = {}
        for opp in self._live("Opportunity", IsWon=True):
            campaign = opp["CampaignId"]
            totals[campaign] = totals.get(campaign, Decimal("0")) + opp["Amount"]  # type: ignore[index, operator]
        return totals


def customers(dsn: str, as_of: datetime) -> list[Customer]:
    """Marketplace users who are Stripe customers before `as_of` (the accounts the sales team tracks)."""
    with psycopg.connect(dsn) as conn:
        return [tuple(r) for r in conn.execute(STRIPE_CUSTOMERS_SQL, {"as_of": as_of}).fetchall()]  # type: ignore[misc]


class SalesforceSystem:
    """The org behind a local Salesforce-compatible API; exports its connection secret as JSON."""

    name = "salesforce"

    def __init__(self, page_size: int = 2000):
        self.org = Org()
        self.page_size = page_size
        self.world: SalesforceWorld | None = None
        self.emulator: SalesforceEmulator | None = None

    def start(self, company) -> None:  # type: ignore[no-untyped-def]
        client_id, client_secret = "brightcart-etl", secrets.token_urlsafe(16)
        self.world = SalesforceWorld(self.org, company.seed, company.scale)
        self.emulator = SalesforceEmulator(self.org, client_id=client_id, client_secret=client_secret,
                                           page_size=self.page_size).start()
        os.environ[SECRET_VARIABLE] = json.dumps(
            {"instance_url": self.emulator.url, "client_id": client_id, "client_secret": client_secret})

    def generate_history(self, company, start: datetime, end: datetime) -> dict[str, int]:  # type: ignore[no-untyped-def]
        assert self.world is not None, "start() first"
        return self.world.generate(customers(company.pg_dsn, end), start, end)

    def simulate_hour(self, company, hour_start: datetime) -> dict[str, int]:  # type: ignore[no-untyped-def]
        assert self.world is not None, "start() first"
        return self.world.hour(customers(company.pg_dsn, hour_start + HOUR), hour_start)

    def stop(self) -> None:
        if self.emulator:
            self.emulator.stop()
            self.emulator = None

