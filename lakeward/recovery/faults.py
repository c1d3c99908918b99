"""Named fault points in the pipeline: where a kill -9 or an injected error can be made to happen.

`LAKEWARD_KILL_AT=<point>` (or `<point>#<n>` for the n-th time it is reached) kills the process with
SIGKILL there, so crash recovery is proven on a real process. In-process scenarios register a hook
instead (a PostgreSQL restart, a full disk). Unset, a point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

KILL_VARIABLE = "LAKEWARD_KILL_AT"

# Every point the code reaches, in pipeline order; the kill matrix covers each of them.
POINTS = {
    "run.start": "a run has recorded that it started, before any step",
    "extract.start": "step boundary: an extraction is about to read its source",
    "landing.mid_write": "rows of a landing batch are on disk, its manifest is not",
    "landing.before_manifest": "all part files are written and checksummed, the manifest is not yet in place",
    "extract.end": "step boundary: the batch is committed in landing, the step is not yet recorded",
    "stage.start": "step boundary: a landed batch is about to be merged into staging",
    "stage.mid_commit": "new data files are written for staging, the Iceberg commit has not happened",
    "stage.end": "step boundary: staging is committed, the step is not yet recorded",
    "mart.start": "step boundary: a mart is about to be rebuilt",
    "mart.end": "step boundary: the mart is committed, the step is not yet recorded",
    "audit.mid_flush": "the run's step records are committed to audit.runs, their journal is not yet removed",
    "run.end": "every step is recorded, the run's own closing record is not",
    "backfill.chunk_done": "a backfill window is complete, its progress not yet saved",
}

_hooks: dict[str, Callable[[str], None]] = {}
_seen: Counter[str] = Counter()
_lock = threading.Lock()


def reached(point: str, where: str = "") -> None:
    """Called by the pipeline at a named point: kills the process or runs a hook if one is armed there.
    `where` (e.g. a landing batch's folder) lets a hook pick the place it acts on."""
    target = os.environ.get(KILL_VARIABLE)
    hook = _hooks.get(point)
    if not target and hook is None:
        return
    with _lock:
        _seen[point] += 1
        count = _seen[point]
    if target:
        name, _, nth = target.partition("#")
        if name == point and count == int(nth or 1):
            os.kill(os.getpid(), signal.SIGKILL)
    if hook is not None:
        hook(where)


@contextmanager
def armed(point: str, hook: Callable[[str], None]) -> Iterator[None]:
    """Run `hook(where)` each time `point` is reached inside this block (in this process)."""
    if point not in POINTS:
        raise KeyError(f"unknown fault point {point!r} (known: {', '.join(POINTS)})")
    _hooks[point] = hook
    try:
        yield
    finally:
        _hooks.pop(point, None)
