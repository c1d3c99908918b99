"""The state machine input contract, for schedules, console reruns and backfills (docs/runbooks/input.md).

    {"mode": "incremental" | "backfill" | "reconcile", "start": ISO-8601 UTC, "end": ISO-8601 UTC,
     "chunk": "1d"}

A scheduled run sends only `mode: incremental` and its scheduled time as `end`: every object reads from
its own watermark. A backfill or reconcile names its window and is cut into `chunk`-long windows that a
Map state loads with bounded concurrency.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError, model_validator

from lakeward.definition import Duration

Mode = Literal["incremental", "backfill", "reconcile"]
MAX_WINDOWS = 1000  # a Map state's items travel in the execution's 256 KB payload


class RunInputError(ValueError):
    """Input a state machine cannot run: names the field and what is wrong."""


class RunInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Mode = "incremental"
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    chunk: Duration = timedelta(days=1)
    align: Duration | None = None  # floor `end` to a multiple of this: marts need loads through that instant

    @model_validator(mode="after")
    def _consistent(self) -> RunInput:
        if self.mode != "incremental" and (self.start is None or self.end is None):
            raise ValueError(f"mode '{self.mode}' needs both 'start' and 'end'")
        if self.start and self.end and self.start >= self.end:
            raise ValueError(f"'start' {self.start.isoformat()} is not before 'end' {self.end.isoformat()}")
        if self.chunk <= timedelta(0):
            raise ValueError("'chunk' must be positive")
        return self


def parse(event: dict) -> RunInput:
    try:
        return RunInput.model_validate(event)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "input"
        raise RunInputError(f"state machine input: {field}: {first['msg']}") from None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def plan(event: dict, now: datetime | None = None) -> dict:
    """The windows one run loads. An incremental run has one window with no start (the watermark decides)."""
    run = parse(event)
    end = (run.end or now or datetime.now(UTC)).astimezone(UTC)
    if run.align:
        step = run.align.total_seconds()
        end = datetime.fromtimestamp(end.timestamp() // step * step, UTC)
    if run.mode == "incremental":
        windows = [{"start": _iso(run.start) if run.start else None, "end": _iso(end)}]
    else:
        assert run.start is not None
        edges, moment = [], run.start.astimezone(UTC)
        while moment < end:
            edges.append(moment)
            moment += run.chunk
        if len(edges) > MAX_WINDOWS:
            raise RunInputError(f"state machine input: {len(edges)} windows of {run.chunk} exceed {MAX_WINDOWS}; "
                                "use a longer 'chunk'")
        windows = [{"start": _iso(lo), "end": _iso(min(lo + run.chunk, end))} for lo in edges]
    # Backfills run on Glue Flex: cheaper capacity for work that has no freshness deadline.
    execution_class = "STANDARD" if run.mode == "incremental" else "FLEX"
    return {"mode": run.mode, "end": _iso(end), "windows": windows, "execution_class": execution_class}
