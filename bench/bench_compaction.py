"""App-event compaction (gzip NDJSON -> typed, deduplicated Parquet) against DuckDB's plain JSON-to-Parquet copy.

The baseline is `COPY (SELECT * FROM read_json(...)) TO 'x.parquet'` on the same files: no line numbers,
no typing, no dedupe, no quarantine (it needs ignore_errors to get past the malformed lines at all). The
goal is a ratio of at least 0.8. The 5M-event input is built once from the demo generator and cached.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from lakeward.compaction import compact
from lakeward.compaction.read_lines import read_lines
from lakeward.demo import events_world
from lakeward.sources.file_store import Root

START = datetime(2026, 11, 1, tzinfo=UTC)
PATTERN = "dt=%Y-%m-%d/hour=%H/*.json.gz"
SQL = Path(__file__).resolve().parent.parent / "sql" / "staging" / "events__app_events.sql"


def _template(events: int) -> list[bytes]:
    """One hour of generated lines (duplicates and malformed lines included) to stamp files from."""
    activity = events_world.Activity(
        users=list(range(1, 5000)), products=list(range(1, 400)),
        signups=[(6000 + i, START + timedelta(seconds=7 * i), "social") for i in range(200)],
        orders=[(10_000 + i, 1 + i % 4999, START + timedelta(seconds=3 * i + 1), 10.0 + i % 300, "EUR",
                 [1 + i % 399, 1 + (i * 7) % 399]) for i in range(events // 12)])
    rng = random.Random(7)
    found = events_world.events_for(activity, rng, START, START + timedelta(hours=1),
                                    browsing_per_hour=events // 8)
    hours = events_world.deliver(found, rng, START, events_world.Faults(late=0.0), events_world.Truth())
    return [line for lines in hours.values() for line in lines]


def build(cache: Path, events: int, files: int) -> Path:
    """`files` hourly files stamped from one template, each with its own event ids; reused when present."""
    root = cache / f"events-{events}-{files}"
    if (root / "DONE").exists():
        return root
    template = b"\n".join(_template(events // files)) + b"\n"

    def write(n: int) -> None:
        hour = START + timedelta(hours=n)
        folder = root / "events" / f"dt={hour:%Y-%m-%d}" / f"hour={hour:%H}"
        folder.mkdir(parents=True, exist_ok=True)
        data = template.replace(b'"event_id":"', b'"event_id":"%04x' % n)
        (folder / "part-0000.json.gz").write_bytes(gzip.compress(data, 1))

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(write, range(files)))
    (root / "DONE").write_text("ok")
    return root


def baseline(root: Path, out: Path) -> tuple[float, float, int]:
    con = duckdb.connect()
    started, cpu = time.perf_counter(), time.process_time()
    glob = f"{root}/events/*/*/*.json.gz"
    con.execute(f"COPY (SELECT * FROM read_json('{glob}', format='newline_delimited', ignore_errors=true)) "
                f"TO '{out}' (FORMAT parquet)")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return seconds, cpu, con.execute(f"SELECT count(*) FROM '{out}'").fetchall()[0][0]


def lakeward(root: Path, out: Path) -> tuple[float, float, int, dict[str, int]]:
    started, cpu = time.perf_counter(), time.process_time()
    source = Root(str(root))
    lines = read_lines(source, source.list("events", PATTERN))
    fates = compact.to_parquet(lines, SQL, compact.lines_view("events", "app_events"), out)
    return time.perf_counter() - started, time.process_time() - cpu, lines.num_rows, fates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--cache", type=Path, default=Path(os.environ.get("LAKEWARD_HOME", ".lakeward")) / "bench")
    args = parser.parse_args()
    started = time.perf_counter()
    root = build(args.cache, args.events, args.files)
    print(f"input: {args.files} gzip NDJSON files under {root} ({time.perf_counter() - started:.1f} s to build "
          f"or reuse, {sum(p.stat().st_size for p in root.rglob('*.gz')) / 1e6:.0f} MB compressed)")
    with tempfile.TemporaryDirectory() as scratch:
        base_s, base_cpu, base_rows = baseline(root, Path(scratch) / "copy.parquet")
        ours_s, ours_cpu, lines, fates = lakeward(root, Path(scratch) / "compacted.parquet")
    print(f"duckdb COPY read_json -> parquet : {base_rows:>10,} rows in {base_s:6.2f} s = "
          f"{base_rows / base_s:>10,.0f} rows/s  ({base_cpu:.1f} CPU-s)")
    print(f"lakeward compaction -> parquet   : {lines:>10,} lines in {ours_s:6.2f} s = {lines / ours_s:>10,.0f} rows/s"
          f"  ({ours_cpu:.1f} CPU-s; loaded {fates.get('loaded', 0):,}, duplicates {fates.get('duplicate', 0):,}, "
          f"quarantined {fates.get('quarantined', 0):,})")
    print(f"ratio (lakeward rows/s / COPY rows/s): {(lines / ours_s) / (base_rows / base_s):.2f}  (goal >= 0.8); "
          f"per CPU-second: {(lines / ours_cpu) / (base_rows / base_cpu):.2f}; load average now "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
