"""Client-side pacing inside Stripe's read limits, so a run spends its budget on data rather than on 429s.

One pacer per source and process: every object extracted at once shares the overall budget, and each
object (one Stripe endpoint) is held to the per-endpoint budget. Requests are spaced evenly rather than
burst, so a server-side token bucket of the same rate never refuses them.
"""

from __future__ import annotations

import threading
import time

from lakeward.definition import StripeRateLimit


class _Spacing:
    """Hands out send times at most `rate` per second apart; callers sleep until their slot."""

    def __init__(self, rate: float):
        self.interval = 1.0 / rate
        self._next = 0.0
        self._lock = threading.Lock()

    def slot(self, earliest: float) -> float:
        with self._lock:
            at = max(earliest, self._next)
            self._next = at + self.interval
            return at


class Pacer:
    def __init__(self, limits: StripeRateLimit):
        self.limits = limits
        self.overall = _Spacing(limits.overall)
        self._per_object: dict[str, _Spacing] = {}
        self._lock = threading.Lock()

    def wait(self, obj: str) -> None:
        """Block until one more request to `obj`'s endpoint fits both budgets."""
        with self._lock:
            endpoint = self._per_object.setdefault(obj, _Spacing(self.limits.per_object))
        at = self.overall.slot(endpoint.slot(time.monotonic()))
        delay = at - time.monotonic()
        if delay > 0:
            time.sleep(delay)


_PACERS: dict[tuple[str, StripeRateLimit], Pacer] = {}
_LOCK = threading.Lock()


def pacer(source: str, limits: StripeRateLimit) -> Pacer:
    with _LOCK:
        return _PACERS.setdefault((source, limits), Pacer(limits))
