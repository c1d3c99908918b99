"""The pipeline definition: one declarative file drives the local runner, the CDK app and the state machines.

`load_definition` validates `pipeline.yaml` with pydantic, then checks what pydantic cannot see: SQL files
exist and parse, marts read only declared tables, and the mart graph has no cycle. Every problem surfaces
as one `DefinitionError` naming the file, the key and what is wrong.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

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
    reconcile: Reconcile | None = None  # finance data: compared in full with the source every day


class Reconcile(Strict):
    """How `lakeward reconcile` compares an object with its source per day: by this date column and amount."""

    date: Identifier
    amount: Identifier | None = None


Access = Literal["all", "finance"]


class SourceBase(Strict):
    connection: str = Field(pattern=r"^(env|secret):[A-Za-z0-9_/+=.@-]+$")
    cadence: Duration
    initial_start: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    limits: Limits = Limits()
    business_hours: list[BusinessHours] = []
    access: Access = "all"  # finance: its tables are readable by the finance role only
    objects: Annotated[dict[Identifier, ObjectSpec], Field(min_length=1)]

    def limits_at(self, moment: datetime) -> Limits:
        """The limits in force at a wall-clock moment: the first business-hours window that covers it."""
        return next((bh.limits for bh in self.business_hours if bh.covers(moment)), self.limits)


class PostgresSource(SourceBase):
    kind: Literal["postgres"]
    statement_timeout: Duration = timedelta(minutes=5)


class Retry(Strict):
    """Bounded, jittered exponential backoff for API calls that are throttled or fail transiently."""

    attempts: Annotated[int, Field(ge=1, le=20)] = 6
    base_delay: Duration = timedelta(seconds=0.5)
    max_delay: Duration = timedelta(seconds=30)


class SalesforceSource(SourceBase):
    kind: Literal["salesforce"]
    api_version: str = Field("62.0", pattern=r"^\d{2}\.0$")
    bulk_threshold: PositiveInt = 10_000  # rows in a window above which Bulk API 2.0 replaces REST
    bulk_poll: Duration = timedelta(seconds=2)
    retry: Retry = Retry()
    # API names of objects whose name is not the PascalCase of their key (custom objects: Invoice__c).
    api_names: dict[Identifier, Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,79}$")]] = {}


FileColumnType = Literal["string", "int64", "double", "boolean", "timestamp", "date", "json"]


def _column_shorthand(value: object) -> object:
    """Accept `name: timestamp` for an optional column besides `name: {type: timestamp, required: true}`."""
    return {"type": value} if isinstance(value, str) else value


def _relative(value: str) -> str:
    """Paths from the definition stay under their connection's root."""
    if value.startswith("/") or ".." in value.split("/"):
        raise ValueError(f"'{value}' must be a relative path without '..'")
    return value


class FileColumn(Strict):
    """One column of a file contract: `json` is any nested value (object or array), kept as read."""

    type: FileColumnType
    required: bool = False


class FilesObject(ObjectSpec):
    """A prefix of files (local disk or S3) read against a declared column contract."""

    prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9_=./-]*$"), AfterValidator(_relative)] = ""
    # Glob under the prefix; strftime fields (%Y %m %d %H) date each file by its path, for the window.
    pattern: Annotated[str, Field(pattern=r"^[A-Za-z0-9_=.*?%/\[\]-]+$"), AfterValidator(_relative)]
    format: Literal["csv", "ndjson", "parquet"]
    columns: Annotated[dict[Identifier, Annotated[FileColumn, BeforeValidator(_column_shorthand)]],
                       Field(min_length=1)]
    select: Identifier = "path_time"  # the file selector (lakeward/sources/file_select.py SELECTORS)
    reprocess: Literal["changed", "all"] = "changed"  # all: partition-replacing loads need every file
    land: Literal["parquet", "reference"] = "parquet"  # reference: landing keeps only the file list
    stage_with: Literal["merge", "compact_events", "replace_partitions"] = "merge"
    # Repeated {key, value{string_value, int_value, ...}} json columns -> typed `<column>__<key>` (flatten.py).
    flatten: dict[Identifier, dict[Identifier, Literal["string", "int64", "double"]]] = {}

    @field_validator("flatten")
    @classmethod
    def _flatten_json(cls, value: dict, info: ValidationInfo) -> dict:
        columns = info.data.get("columns", {})
        for column in value:
            if column not in columns or columns[column].type != "json":
                raise ValueError(f"'{column}' must be a column declared in `columns` with type json")
        return value


class FilesSource(SourceBase):
    kind: Literal["files"]
    objects: Annotated[dict[Identifier, FilesObject], Field(min_length=1)]


StripeObjectName = Literal["customers", "products", "prices", "subscriptions", "invoices", "charges", "refunds",
                           "balance_transactions", "disputes", "payouts"]
STRIPE_OBJECTS: tuple[str, ...] = get_args(StripeObjectName)
StripeColumnType = Literal["string", "int64", "float64", "bool", "timestamp", "json"]
StripePath = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$")]


class FullRefresh(Strict):
    """Re-read mutable objects created before the 30-day events horizon, whose changes events no longer show."""

    every: Duration = timedelta(days=1)
    params: dict[Identifier, str] = {}  # list filters of the Stripe API, e.g. {status: open}


class StripeObject(ObjectSpec):
    cursor: Literal["version_at"] = "version_at"  # Stripe objects carry no update time: see extract_stripe
    # Nested or Unix-time fields as typed columns: `outcome.type: string` becomes column outcome__type.
    columns: dict[StripePath, StripeColumnType] = {}
    full_refresh: FullRefresh | None = None


class StripeRateLimit(Strict):
    """Stripe's documented read limits: requests per second over the account and per endpoint."""

    overall: Annotated[float, Field(gt=0)] = 100
    per_object: Annotated[float, Field(gt=0)] = 25


class StripeSource(SourceBase):
    kind: Literal["stripe"]
    api_version: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$")  # pinned: every object is read at it
    objects: Annotated[dict[StripeObjectName, StripeObject], Field(min_length=1)]
    rate_limit: StripeRateLimit = StripeRateLimit()
    retry: Retry = Retry()
    timeout: Duration = timedelta(seconds=30)


Source = Annotated[PostgresSource | SalesforceSource | FilesSource | StripeSource, Field(discriminator="kind")]
SOURCE_KINDS = ("postgres", "salesforce", "files", "stripe")


class Mart(Strict):
    """A SELECT published as `marts.<name>`: rebuilt whole (`table`) or by the date partitions that
    changed upstream rows touch (`partitions`, see lakeward/materialize.py)."""

    sql: str
    key: Annotated[list[Identifier], Field(min_length=1)]
    grain: str
    materialization: Literal["table", "partitions"] = "table"
    access: Access = "all"
    partition: Partition | None = None
    # Per input table, a SELECT over `changed` (its old and new versions of changed rows) returning the
    # partition values they touch. A changed input without one rebuilds the whole mart.
    changes: dict[QualifiedTable, str] = {}
    description: str = ""
    finance: bool = False  # a finance report: `lakeward close-period` tags it and its inputs

    @model_validator(mode="after")
    def _partitioned(self) -> Mart:
        if self.materialization == "partitions" and (self.partition is None or not self.changes):
            raise ValueError("materialization 'partitions' needs a partition and the changes that touch it")
        return self


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
