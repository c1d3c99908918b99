"""The fault scenarios: one entry each, data not code paths. `scenario_run` drives every entry the same way.

An entry names the fault, the sources it needs, how it changes the source before the faulted run
(`change`), what it arms during that run (`fault`, or `kill_at` for a real SIGKILL), how Lakeward must
notice it (the alert kind, the text of the error), and, where the pipeline cannot see it by itself, the
check that finds it (`detect`). A scenario for a new source is one more entry in SCENARIOS.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import timedelta

import psycopg

from lakeward.recovery import faults


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    alert: str  # the alert kind that must fire
    error: str | None = None  # text the failed step's error must contain; None when the pipeline copes
    sources: tuple[str, ...] = ("postgres",)
    change: Callable[[object], None] = lambda box: None
    fault: Callable[[object], AbstractContextManager] = lambda box: nullcontext()
    kill_at: str | None = None
    detect: Callable[[object], None] | None = None
    repair: Callable[[object], None] = lambda box: None  # what the owner of the source does before recovering
    tags: tuple[str, ...] = field(default=())


def _sql(box, *statements: str, params: tuple = ()) -> None:
    with psycopg.connect(box.dsn) as conn:
        for statement in statements:
            conn.execute(statement, params if "%s" in statement else None)


def _touch(column_sql: str = "") -> str:
    """Some payments changed during the faulted hour, so the faulted window carries many rows."""
    return ("UPDATE payments SET updated_at = %s" + column_sql +
            " WHERE id IN (SELECT id FROM payments ORDER BY id LIMIT 60)")


@contextmanager
def _once(point: str, action: Callable[[], None], where: str = "") -> Iterator[None]:
    """`action` the first time `point` is reached at a place whose name contains `where`."""
    fired = []

    def hook(place: str) -> None:
        if not fired and where in place:
            fired.append(True)
            action()
    with faults.armed(point, hook):
        yield


def _restart_postgres(box) -> AbstractContextManager:
    # In the middle of payments, whose faulted window spans several chunks: a later chunk meets the restart.
    return _once("landing.mid_write", box.restart_postgres, where="/payments/")


def _disk_full(box) -> AbstractContextManager:
    def full() -> None:
        raise OSError(errno.ENOSPC, "No space left on device")
    return _once("landing.mid_write", full)


@contextmanager
def _stripe_outage(box) -> Iterator[None]:
    box.stripe.faults.outage = True  # every request answers 503 until the outage ends
    try:
        yield
    finally:
        box.stripe.faults.outage = False


@contextmanager
def _salesforce_storm(box) -> Iterator[None]:
    box.salesforce.faults.storm = 0.3  # three requests in ten are throttled, whatever the real rate
    try:
        yield
    finally:
        box.salesforce.faults.storm = 0.0


def _skew(box) -> None:
    late = box.t0 - timedelta(hours=6)  # the writer's clock was six hours behind: older than the lookback
    _sql(box, """INSERT INTO payments (id, order_id, amount, currency, status, provider, created_at, updated_at)
                 SELECT (SELECT max(id) + 1 FROM payments), id, 42.00, currency, 'succeeded', 'skewed-host', %s, %s
                 FROM orders ORDER BY id DESC LIMIT 1""", params=(late, late))


def _duplicate(box) -> None:
    first = box.t0 + timedelta(minutes=10)  # both copies change within the faulted window
    _sql(box, "ALTER TABLE payments DROP CONSTRAINT payments_pkey CASCADE",
         "UPDATE payments SET updated_at = %s WHERE id = (SELECT min(id) FROM payments)", params=(first,))
    _sql(box, """INSERT INTO payments SELECT id, order_id, amount + 5, currency, status, provider, card_fingerprint,
                   metadata, created_at, %s FROM payments WHERE id = (SELECT min(id) FROM payments)""",
         params=(box.t0 + timedelta(minutes=20),))


BAD_EVENT_LINES = 5  # malformed lines written into the faulted hour, besides one cut gzip stream


def _malformed_events(box) -> None:
    """The firehose delivers a file with broken lines and a gzip stream cut halfway in the faulted hour."""
    import gzip

    folder = box.events_root / "events" / f"dt={box.t0:%Y-%m-%d}" / f"hour={box.t0:%H}"
    folder.mkdir(parents=True, exist_ok=True)

    def line(n: int, kind: str = "page_view") -> bytes:
        at = (box.t0 + timedelta(minutes=n % 60)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return b'{"event_id":"fault-%s-%03d","event_type":"%s","occurred_at":"%s"}\n' % (
            kind.encode(), n, kind.encode(), at.encode())
    bad = [b'{"event_id":"fault-cut-json","event_ty\n', b'{"event_type":"login","occurred_at":"2026"}\n',
           b'{"event_id":"fault-bad-time","event_type":"login","occurred_at":"yesterday"}\n',
           b'{"event_id":"fault-bad-utf8-\xc3\x28","event_type":"login"}\n', b"not json at all\n"]
    assert len(bad) == BAD_EVENT_LINES
    (folder / "part-fault-mixed.json.gz").write_bytes(gzip.compress(line(1, "login") + b"".join(bad) + line(2)))
    packed = gzip.compress(b"".join(line(n) for n in range(300)), 9)
    (folder / "part-fault-cut.json.gz").write_bytes(packed[: len(packed) // 2])


def _late_ga4(box) -> None:
    """Three days pass at GA4: the late events of every open day reach their daily tables, re-exported in place."""
    from lakeward.demo.ga4_world import DAY, LATE_HORIZON

    box.ga4_on_time = {day: box.ga4_world.counts(day, as_of=box.t1) for day in box.ga4_world.truth}
    box.ga4_loaded = {day: box.ga4_world.counts(day, as_of=box.t0) for day in box.ga4_world.truth}
    box.ga4_world.export(box.t1 + LATE_HORIZON + DAY)


SCENARIOS: dict[str, Scenario] = {s.name: s for s in [
    Scenario("postgres_restart_mid_extract", "PostgreSQL restarts while a batch is being read",
             alert="source_unavailable", error="ExtractError",
             change=lambda box: _sql(box, _touch(), params=(box.t0 + timedelta(minutes=5),)),
             fault=_restart_postgres),
    Scenario("stripe_outage", "the Stripe API answers 503 to every request for the whole run",
             alert="source_unavailable", error="HTTP 503", sources=("stripe",), fault=_stripe_outage),
    Scenario("salesforce_429_storm", "Salesforce throttles three requests in ten during the run",
             alert="source_throttled", sources=("salesforce",), fault=_salesforce_storm),
    Scenario("disk_full_landing_write", "the landing volume fills up in the middle of a batch",
             alert="disk_full", error="No space left on device",
             change=lambda box: _sql(box, _touch(), params=(box.t0 + timedelta(minutes=5),)), fault=_disk_full),
    Scenario("schema_drift_added_column", "the source gains a column", alert="schema_drift",
             change=lambda box: _sql(box, "ALTER TABLE payments ADD COLUMN risk_score integer",
                                     _touch(", risk_score = id %% 100"), params=(box.t0 + timedelta(minutes=5),))),
    Scenario("schema_drift_dropped_column", "the source drops a column", alert="schema_drift",
             error="is missing from the batch",
             change=lambda box: _sql(box, "ALTER TABLE payments DROP COLUMN card_fingerprint", _touch(),
                                     params=(box.t0 + timedelta(minutes=5),))),
    Scenario("schema_drift_type_change", "a source column changes type (numeric(12,2) to numeric(14,4))",
             alert="schema_drift", error="SchemaDriftError",
             change=lambda box: _sql(box, "ALTER TABLE payments ALTER COLUMN amount TYPE numeric(14,4)", _touch(),
                                     params=(box.t0 + timedelta(minutes=5),))),
    Scenario("duplicate_primary_keys", "the source sends two rows with one primary key", alert="duplicate_keys",
             error="duplicate key", change=_duplicate,
             repair=lambda box: _sql(box, """DELETE FROM payments p USING payments q
                                              WHERE p.id = q.id AND p.updated_at < q.updated_at""")),
    Scenario("clock_skew_cursor", "a row is written with a cursor six hours in the past, behind the lookback",
             alert="reconcile_mismatch", change=_skew, detect=lambda box: box.reconcile()),
    Scenario("malformed_event_files", "app event files arrive with malformed lines and a truncated gzip stream",
             alert="lines_quarantined", sources=("events",), change=_malformed_events),
    Scenario("ga4_late_data", "GA4 events of day D reach its daily table on D+1 to D+3, rewritten in place",
             alert="late_data", sources=("ga4",), change=_late_ga4),
    *[Scenario(f"kill_at_{point.replace('.', '_')}", f"kill -9 where {text}", alert="run_crashed", kill_at=point,
               tags=("kill",))
      for point, text in faults.POINTS.items() if not point.startswith("backfill.")],
]}
