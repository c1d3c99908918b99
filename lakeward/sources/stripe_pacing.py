"""Client-side pacing inside Stripe's read limits, so a run spends its budget on data rather than on 429s.

One pacer per source and process: every object extracted at once shares the overall budget, and each
object (one Stripe endpoint) is held to the per-endpoint budget. Time is cut into slots of 1/overall
seconds; a request takes the first free slot at or after its endpoint's next turn. Slots are handed out
out of order, so an endpoint waiting for its turn never holds back the others (a single "next free time"
would leave every slot before that turn empty). Requests are spaced rather than burst, so a server-side
token bucket of the same rates never refuses them.
"""

from __future__ import annotations

import math
import threading
import time

from lakeward.definition import StripeRateLimit


class Pacer:
    def __init__(self, limits: StripeRateLimit):
        self.limits = limits
        self._slot = 1.0 / limits.overall
        self._gap = 1.0 / limits.per_object
        self._taken: set[int] = set()  # overall slots handed out, by number (time / slot length)
        self._turn: dict[str, float] = {}  # per endpoint: the earliest time of its next request
        self._lock = threading.Lock()

    def reserve(self, obj: str) -> float:
        """The monotonic time at which one more request to `obj`'s endpoint fits both budgets."""
        with self._lock:
            now = time.monotonic()
            slot = math.ceil(max(now, self._turn.get(obj, 0.0)) / self._slot)
            while slot in self._taken:
                slot += 1
            if len(self._taken) > 1000:
                past = math.floor(now / self._slot)
                self._taken = {s for s in self._taken if s >= past}
            self._taken.add(slot)
            self._turn[obj] = slot * self._slot + self._gap
            return slot * self._slot

    def wait(self, obj: str) -> None:
        """Block until one more request to `obj`'s endpoint fits both budgets."""
        delay = self.reserve(obj) - time.monotonic()
        if delay > 0:
            time.sleep(delay)


_PACERS: dict[tuple[str, StripeRateLimit], Pacer] = {}
_LOCK = threading.Lock()


def pacer(source: str, limits: StripeRateLimit) -> Pacer:
    with _LOCK:
        return _PACERS.setdefault((source, limits), Pacer(limits))
