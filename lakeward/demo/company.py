"""BrightCart, one synthetic company seen through every source system it uses.

Each system (the PostgreSQL marketplace, Stripe, Salesforce, GA4, the app event logs) is a `System`:
it starts its local server, writes history, then simulates hours of live activity. Systems run in
`SYSTEMS` order, and a later one reads what an earlier one made (a Stripe customer mirrors a marketplace
user; a Salesforce account carries the Stripe customer id), so the same customers exist everywhere.
Everything comes from the seed: the same seed, scale and clock give the same company.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

import psycopg

from lakeward.demo import embedded_postgres, marketplace
from lakeward.demo.events_world import EventsSystem
from lakeward.demo.ga4_world import Ga4System
from lakeward.demo.salesforce_world import SalesforceSystem
from lakeward.demo.stripe_world import StripeSystem
from lakeward.home import Home


@dataclass
class Company:
    seed: int
    scale: float
    home: Home
    systems: dict[str, System] = field(default_factory=dict)  # started systems, by name

    @property
    def pg_dsn(self) -> str:
        return os.environ[embedded_postgres.DSN_VARIABLE]


class System(Protocol):
    name: str

    def start(self, company: Company) -> None:
        """Start the local server if needed and export the connection the definition refers to."""

    def generate_history(self, company: Company, start: datetime, end: datetime) -> dict[str, int]:
        """Write activity timestamped in [start, end); returns counts by kind."""

    def simulate_hour(self, company: Company, hour_start: datetime) -> dict[str, int]:
        """One hour of live activity; returns counts by kind."""

    def stop(self) -> None: ...


class PostgresSystem:
    """The marketplace OLTP database, on the embedded server unless LAKEWARD_PG_DSN names one."""

    name = "postgres"

    def __init__(self, data_dir: Path | None = None):
        self.data_dir = data_dir

    def start(self, company: Company) -> None:
        if not os.environ.get(embedded_postgres.DSN_VARIABLE):
            server = embedded_postgres.server_dsn(self.data_dir or company.home.postgres_data)
            os.environ[embedded_postgres.DSN_VARIABLE] = embedded_postgres.database_dsn(server, fresh=True)
        with psycopg.connect(company.pg_dsn) as conn:
            marketplace.create_schema(conn)

    def generate_history(self, company: Company, start: datetime, end: datetime) -> dict[str, int]:
        with psycopg.connect(company.pg_dsn) as conn:
            return marketplace.generate_history(conn, seed=company.seed, scale=company.scale, start=start, end=end)

    def simulate_hour(self, company: Company, hour_start: datetime) -> dict[str, int]:
        with psycopg.connect(company.pg_dsn) as conn:
            return marketplace.simulate_hour(conn, seed=company.seed, scale=company.scale, hour_start=hour_start)

    def stop(self) -> None:
        pass


def systems() -> list[System]:
    """Every system of the company, in the order they must be generated."""
    return [PostgresSystem(), StripeSystem(), SalesforceSystem(), Ga4System(), EventsSystem()]
