"""Bounded retries with jittered exponential backoff for calls to rate-limited HTTP APIs.

Any API client can use it: the caller says which failures are transient (and how long the server asked
to wait), the helper sleeps "full jitter" delays so concurrent extractions do not retry in lockstep,
and after the last attempt raises one `RetryExhausted` that names what was attempted and the last error.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from lakeward.definition import Retry

T = TypeVar("T")

# Decides whether a failure is transient: None means give up now, a number is the least delay in seconds
# the server asked for (0 when it asked for none).
Classifier = Callable[[Exception], float | None]


class RetryExhausted(RuntimeError):
    """Every attempt failed with a transient error; names the call, the attempts and the last error."""

    def __init__(self, what: str, attempts: int, last: Exception):
        self.what, self.attempts, self.last = what, attempts, last
        super().__init__(f"{what}: gave up after {attempts} attempt(s); last error: {last}")


def backoff_delay(policy: Retry, attempt: int, rng: random.Random, at_least: float = 0.0) -> float:
    """Full jitter: uniform in [0, min(max, base * 2^attempt)], never below what the server asked for."""
    ceiling = min(policy.max_delay.total_seconds(), policy.base_delay.total_seconds() * 2 ** attempt)
    return max(at_least, rng.uniform(0, ceiling))


def call(fn: Callable[[], T], *, what: str, policy: Retry, transient: Classifier,
         sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None,
         on_retry: Callable[[Exception, float], None] = lambda err, delay: None) -> T:
    """`fn()` with up to `policy.attempts` attempts; a non-transient error is raised at once, unchanged."""
    rng = rng or random.Random()
    for attempt in range(policy.attempts):
        try:
            return fn()
        except Exception as err:  # noqa: BLE001 - the classifier decides what is retried
            wait = transient(err)
            if wait is None:
                raise
            if attempt == policy.attempts - 1:
                raise RetryExhausted(what, policy.attempts, err) from err
            delay = backoff_delay(policy, attempt, rng, wait)
            on_retry(err, delay)
            sleep(delay)
    raise AssertionError("unreachable")  # the loop returns or raises
