"""A cut gzip stream or an undecodable line never stops a batch: readable lines load, the rest is quarantined
and counted, through the real runner into Iceberg."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta

from lakeward import runner
from lakeward.demo import events_world
from lakeward.lake import engine
from lakeward.lake.catalog import open_catalog
from tests.events.conftest import whole_lines

HOUR = datetime(2026, 11, 5, 14, tzinfo=UTC)
BAD_LINE = b'{"event_id":"bad-\xc3\x28","event_type":"login","occurred_at":"2026-11-05T14:02:00Z"}'


def test_cut_and_undecodable_files_load_what_is_readable(events_root, events_defn, home):
    activity = events_world.Activity(users=[1, 2, 3], products=[7, 8], signups=[],
                                     orders=[(31, 2, HOUR + timedelta(minutes=40), 12.5, "EUR", [7])])
    truth = events_world.generate(events_root, activity, seed=9, scale=0.5, start=HOUR,
                                  end=HOUR + timedelta(hours=1), faults=events_world.Faults(0, 0, 0))
    folder = events_root / "events" / "dt=2026-11-05" / "hour=14"
    body = b"".join(b'{"event_id":"cut-%03d","event_type":"page_view","occurred_at":"2026-11-05T14:%02d:00Z"}\n'
                    % (n, n % 60) for n in range(400))
    packed = gzip.compress(body, 9)
    (folder / "part-cut-0000.json.gz").write_bytes(packed[: len(packed) // 2])
    (folder / "part-bytes-0000.json.gz").write_bytes(gzip.compress(
        b'{"event_id":"ok-1","event_type":"login","occurred_at":"2026-11-05T14:01:00Z"}\n'
        + BAD_LINE + b"\n"
        b'{"event_id":"ok-2","event_type":"logout","occurred_at":"2026-11-05T14:03:00Z"}\n'))
    readable = whole_lines(folder / "part-cut-0000.json.gz")
    assert 0 < len(readable) < 400

    result = runner.run(events_defn, home, end=HOUR + timedelta(hours=1), triggered_by="test")
    assert result.ok, result.failed()
    con = engine.connect(open_catalog(home), ["staging.events__app_events", "staging.events__app_events_quarantine",
                                              "audit.event_compaction"])
    loaded = {r[0] for r in con.execute("SELECT event_id FROM staging.events__app_events").fetchall()}
    assert loaded == set(truth.events) | set(readable) | {"ok-1", "ok-2"}
    quarantine = con.execute("SELECT file, error FROM staging.events__app_events_quarantine ORDER BY file").fetchall()
    assert [(f.rsplit("/", 1)[1], e.split(":")[0]) for f, e in quarantine] == [
        ("part-bytes-0000.json.gz", f"undecodable UTF-8 at byte {BAD_LINE.index(0xC3)}"),
        ("part-cut-0000.json.gz", "truncated gzip stream")]
    lines, loaded_rows, duplicates, quarantined, ok = con.execute(
        "SELECT lines_read, rows_loaded, duplicates_collapsed, lines_quarantined, reconciled "
        "FROM audit.event_compaction").fetchall()[0]
    assert lines == truth.lines + len(readable) + 1 + 3
    assert (loaded_rows, duplicates, quarantined, ok) == (len(truth.events) + len(readable) + 2, 0, 2, True)
