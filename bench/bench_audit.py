"""audit.runs: a run's step records journaled and committed in one append, against one commit per record.

Both write the same records (a run's opening record, its step records, its closing record) for the same
number of runs into fresh local warehouses (pyiceberg SqlCatalog + file://), in the same process. The
figures are the total time and the time of the last run, which shows how a run slows as the trail grows.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from lakeward import audit, audit_chain
from lakeward.home import Home
from lakeward.lake.catalog import open_catalog
from lakeward.recovery import trail


def _record(run: int, step: str) -> audit.StepRecord:
    now = datetime.now(UTC)
    return audit.StepRecord(run_id=f"run-{run:04d}", step=step, kind="stage", status="succeeded",
                            code_version="bench", definition_hash="0" * 16, triggered_by="bench",
                            started_at=now, finished_at=now, rows_in=run, rows_out=run)


def write(root: Path, runs: int, steps: int, batched: bool) -> tuple[float, float]:
    """Seconds for all runs and for the last one."""
    home = Home(root).ensure()
    catalog = open_catalog(home)
    start = last = time.perf_counter()
    for run in range(runs):
        last = time.perf_counter()
        audit.record(catalog, _record(run, "run"))  # the opening record is always committed at once
        buffer = trail.Trail(home, catalog, f"run-{run:04d}") if batched else None
        for n in range(steps):
            if buffer is not None:
                buffer.add(_record(run, f"stage:s.o{n}"))
            else:
                audit.record(catalog, _record(run, f"stage:s.o{n}"))
        if buffer is not None:
            buffer.flush()
        audit.record(catalog, _record(run, "run"))
    end = time.perf_counter()
    assert audit_chain.verify(catalog.load_table(audit.RUNS)).records == runs * (steps + 2)
    return end - start, end - last


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        each_total, each_last = write(Path(tmp) / "each", args.runs, args.steps, batched=False)
        batch_total, batch_last = write(Path(tmp) / "batched", args.runs, args.steps, batched=True)
    print(f"audit.runs, {args.runs} runs of {args.steps} steps: one commit per record {each_total:.2f}s "
          f"(last run {each_last:.2f}s), one append per run {batch_total:.2f}s (last run {batch_last:.2f}s), "
          f"ratio {each_total / batch_total:.1f}x (last run {each_last / batch_last:.1f}x)")


if __name__ == "__main__":
    main()
