"""The pipeline definition: one declarative file drives the local runner, the CDK app and the state machines.

`load_definition` validates `pipeline.yaml` with pydantic, then checks what pydantic cannot see: SQL files
exist and parse, marts read only declared tables, and the mart graph has no cycle. Every problem surfaces
as one `DefinitionError` naming the file, the key and what is wrong.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PositiveInt, model_validator

IDENTIFIER = r"^[a-z_][a-z0-9_]{0,62}$"
Identifier = Annotated[str, Field(pattern=IDENTIFIER)]
QualifiedTable = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,62}\.[a-z_][a-z0-9_]{0,62}$")]

_DURATION = re.compile(r"^(\d+)\s*(s|m|h|d)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _parse_duration(value: object) -> object:
    """Accept '90s', '30m', '2h', '7d' besides what pydantic takes (seconds, ISO 8601)."""
    if isinstance(value, str) and (match := _DURATION.match(value.strip())):
        return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    return value


Duration = Annotated[timedelta, BeforeValidator(_parse_duration)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(Strict):
    """How hard one extraction may press on its source."""

    chunk_rows: PositiveInt = 100_000
    concurrency: PositiveInt = 2


class BusinessHours(Strict):
    """Gentler limits inside a UTC hour window: the source is a read replica that serves the business."""

    hours: tuple[Annotated[int, Field(ge=0, le=23)], Annotated[int, Field(ge=1, le=24)]]
    weekdays: list[Weekday] = ["mon", "tue", "wed", "thu", "fri"]
    limits: Limits

    @model_validator(mode="after")
    def _ordered(self) -> BusinessHours:
        if self.hours[0] >= self.hours[1]:
            raise ValueError(f"hours must be [start, end) with start < end, got {list(self.hours)}")
        return self

    def covers(self, moment: datetime) -> bool:
        utc = moment.astimezone(UTC)
        return WEEKDAYS[utc.weekday()] in self.weekdays and self.hours[0] <= utc.hour < self.hours[1]


class Retention(Strict):
    landing: Duration = timedelta(days=730)
    staging: Duration = timedelta(days=1825)


class Partition(Strict):
    """How a table is partitioned. The column must not change after a row is created (merges rewrite
    only the partitions a batch touches)."""

    column: Identifier
    transform: Literal["identity", "day", "month", "year"] = "day"


class ObjectSpec(Strict):
    """One source object: a table, an API resource, a file prefix."""

    table: QualifiedTable | None = None
    primary_key: Annotated[list[Identifier], Field(min_length=1)]
    cursor: Identifier
    partition: Partition | None = None
    lookback: Duration = timedelta(hours=2)
    retention: Retention = Retention()
    staging_sql: str | None = None


class SourceBase(Strict):
    connection: str = Field(pattern=r"^(env|secret):[A-Za-z0-9_/+=.@-]+$")
    cadence: Duration
    initial_start: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    limits: Limits = Limits()
    business_hours: list[BusinessHours] = []
    objects: Annotated[dict[Identifier, ObjectSpec], Field(min_length=1)]

    def limits_at(self, moment: datetime) -> Limits:
        """The limits in force at a wall-clock moment: the first business-hours window that covers it."""
        return next((bh.limits for bh in self.business_hours if bh.covers(moment)), self.limits)


class PostgresSource(SourceBase):
    kind: Literal["postgres"]
    statement_timeout: Duration = timedelta(minutes=5)


Source = Annotated[PostgresSource, Field(discriminator="kind")]
SOURCE_KINDS = ("postgres",)


class Mart(Strict):
    sql: str
    key: Annotated[list[Identifier], Field(min_length=1)]
    grain: str
    materialization: Literal["table"] = "table"
    partition: Partition | None = None
    description: str = ""


class Definition(Strict):
    version: Literal[1]
    sources: dict[Identifier, Source]
    marts: dict[Identifier, Mart] = {}
    path: Path = Path("pipeline.yaml")

    @property
    def root(self) -> Path:
        return self.path.parent

    def objects(self) -> list[tuple[str, str, ObjectSpec]]:
        return [(s, o, spec) for s, src in self.sources.items() for o, spec in src.objects.items()]


def staging_table(source: str, obj: str) -> str:
    """The staging identifier of a source object: `staging.stripe__charges`."""
    return f"staging.{source}__{obj}"


class DefinitionError(ValueError):
    """A bad definition: names the file, the key and the problem."""

    def __init__(self, file: Path | str, key: str, problem: str, line: int | None = None):
        self.file, self.key, self.problem, self.line = str(file), key, problem, line
        where = f"{self.file}:{line}" if line else self.file
        super().__init__(f"{where}: {key}: {problem}")
