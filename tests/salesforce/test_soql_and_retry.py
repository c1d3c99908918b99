"""The emulator's SOQL subset and the generic retry helper, on their own."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from lakeward.definition import Retry
from lakeward.emulators import salesforce_soql as soql
from lakeward.sources import http_retry

T = datetime(2026, 10, 1, 12, tzinfo=UTC)
ROWS = [{"Id": f"00Q{n:02d}", "SystemModstamp": T + timedelta(seconds=n // 3), "Rating": None if n % 2 else "Hot"}
        for n in range(9)]


def fields(sobject: str) -> set[str]:
    if sobject != "Lead":
        raise soql.SoqlError(f"sObject type '{sobject}' is not supported.", "INVALID_TYPE")
    return {"Id", "SystemModstamp", "Rating"}


def ids(text: str) -> list[str]:
    return [r["Id"] for r in soql.run(soql.parse(text, fields), ROWS)]


def test_keyset_tiebreak_returns_exactly_the_rows_after_the_last_one_read():
    after = ("SELECT Id FROM Lead WHERE SystemModstamp >= 2026-10-01T12:00:00Z AND (SystemModstamp > "
             "2026-10-01T12:00:01.000Z OR (SystemModstamp = 2026-10-01T12:00:01.000Z AND Id > '00Q03')) "
             "ORDER BY SystemModstamp, Id LIMIT 4")
    assert ids(after) == ["00Q04", "00Q05", "00Q06", "00Q07"]
    assert ids("SELECT Id FROM Lead ORDER BY SystemModstamp DESC, Id LIMIT 2") == ["00Q06", "00Q07"]


def test_null_only_equals_null_and_errors_name_the_problem():
    assert ids("SELECT Id FROM Lead WHERE Rating = null") == ["00Q01", "00Q03", "00Q05", "00Q07"]
    assert ids("SELECT Id FROM Lead WHERE Rating != 'Hot'") == []
    with pytest.raises(soql.SoqlError, match="No such column 'Score' on entity 'Lead'") as err:
        soql.parse("SELECT Id, Score FROM Lead", fields)
    assert err.value.code == "INVALID_FIELD"
    with pytest.raises(soql.SoqlError, match="expected FROM"):
        soql.parse("SELECT Id Lead", fields)
    assert soql.parse("SELECT count() FROM Lead", fields).is_count


def test_retry_gives_up_after_the_policy_and_never_retries_a_permanent_error():
    policy = Retry(attempts=4, base_delay=timedelta(seconds=1), max_delay=timedelta(seconds=3))
    slept: list[float] = []
    calls = []

    def flaky() -> None:
        calls.append(1)
        raise ConnectionError("reset")

    with pytest.raises(http_retry.RetryExhausted, match="fetch: gave up after 4 attempt"):
        http_retry.call(flaky, what="fetch", policy=policy, transient=lambda e: 2.5, sleep=slept.append,
                        rng=random.Random(1))
    assert len(calls) == 4 and len(slept) == 3
    assert all(2.5 <= s <= 3 for s in slept)  # at least what the server asked, at most max_delay

    with pytest.raises(ValueError, match="bad request"):
        http_retry.call(lambda: (_ for _ in ()).throw(ValueError("bad request")), what="x", policy=policy,
                        transient=lambda e: None, sleep=slept.append)
    assert len(slept) == 3
    delays = [http_retry.backoff_delay(policy, n, random.Random(n)) for n in range(6)]
    assert all(0 <= d <= min(3, 2 ** n) for n, d in enumerate(delays))
