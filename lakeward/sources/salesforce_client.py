"""A simple-salesforce session that logs in with OAuth2 client credentials and retries what is transient.

Every call (token, describe, query page, Bulk job step) is retried on its own under the source's retry
policy: throttling (REQUEST_LIMIT_EXCEEDED, 429), 5xx, timeouts and dropped connections; an expired
session logs in again. The secret is read once from its connection reference and never logged.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from decimal import Decimal
from typing import TypeVar
from urllib.parse import urlsplit

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession, SalesforceGeneralError

from lakeward.definition import SalesforceSource
from lakeward.sources import http_retry
from lakeward.sources.connections import resolve

T = TypeVar("T")
log = logging.getLogger(__name__)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
TIMEOUT_SECONDS = 60.0


class SalesforceAuthError(RuntimeError):
    """The credentials were refused or are malformed; names the connection reference, never the secret."""


class _Session(requests.Session):
    """Every request gets a timeout; on a loopback emulator, the https URLs simple-salesforce builds become http."""

    def __init__(self, instance_url: str, timeout: float):
        super().__init__()
        self.trust_env = False
        self.timeout = timeout
        parts = urlsplit(instance_url)
        self._rewrite = (f"https://{parts.netloc}", f"http://{parts.netloc}") if parts.scheme == "http" else None

    def request(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        if self._rewrite and url.startswith(self._rewrite[0]):
            url = self._rewrite[1] + url[len(self._rewrite[0]):]
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


def transient(err: Exception) -> float | None:
    """0 for errors worth another attempt (Salesforce sends no Retry-After), None for the rest."""
    if isinstance(err, requests.ConnectionError | requests.Timeout | SalesforceExpiredSession):
        return 0.0
    if isinstance(err, SalesforceError):
        codes = {e.get("errorCode") for e in err.content if isinstance(e, dict)} if isinstance(
            err.content, list) else set()
        if err.status == 429 or err.status >= 500 or "REQUEST_LIMIT_EXCEEDED" in codes:
            return 0.0
    return None


def load_secret(source: SalesforceSource, where: str) -> dict[str, str]:
    raw = resolve(source.connection, where)
    try:
        secret = json.loads(raw)
    except json.JSONDecodeError:
        raise SalesforceAuthError(f"{where}: connection '{source.connection}' is not a JSON object") from None
    missing = [k for k in ("instance_url", "client_id", "client_secret") if not (isinstance(secret, dict)
                                                                                   and secret.get(k))]
    if missing:
        raise SalesforceAuthError(f"{where}: connection '{source.connection}' lacks {', '.join(missing)}")
    parts = urlsplit(secret["instance_url"])
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK):
        raise SalesforceAuthError(f"{where}: instance_url must be https (plain http only for a local emulator)")
    return secret


class Client:
    """One logged-in session for one extraction; `permits` bounds concurrent calls to the org."""

    def __init__(self, source: SalesforceSource, where: str, permits: threading.Semaphore | None = None):
        self.source, self.where = source, where
        self.secret = load_secret(source, where)
        self.session = _Session(self.secret["instance_url"], TIMEOUT_SECONDS)
        self.permits = permits
        self.requests = self.retries = 0
        self._sf: Salesforce | None = None

    def call(self, what: str, op: Callable[[Salesforce], T]) -> T:
        def attempt() -> T:
            with self.permits or nullcontext():
                self.requests += 1
                if self._sf is None:
                    self._sf = self._login()
                try:
                    return op(self._sf)
                except SalesforceExpiredSession:
                    self._sf = None
                    raise

        def on_retry(err: Exception, delay: float) -> None:
            self.retries += 1
            log.info("salesforce %s: retrying in %.2fs after %s", what, delay, type(err).__name__)

        return http_retry.call(attempt, what=f"Salesforce {what}", policy=self.source.retry,
                               transient=transient, on_retry=on_retry)

    def _login(self) -> Salesforce:
        url = self.secret["instance_url"].rstrip("/") + "/services/oauth2/token"
        reply = self.session.post(url, data={"grant_type": "client_credentials", "client_id": self.secret["client_id"],
                                             "client_secret": self.secret["client_secret"]})
        if reply.status_code != 200:
            content = _body(reply)
            failure = SalesforceGeneralError(url, reply.status_code, "oauth2/token", content)
            if transient(failure) is not None:
                raise failure
            code = content.get("error", "") if isinstance(content, dict) else ""
            raise SalesforceAuthError(f"{self.where}: login with connection '{self.source.connection}' was refused "
                                      f"(HTTP {reply.status_code} {code})")
        token = reply.json()
        return Salesforce(instance_url=token["instance_url"], session_id=token["access_token"],
                          session=self.session, version=self.source.api_version, parse_float=Decimal)

    def describe(self, sobject: str) -> dict:
        return self.call(f"{sobject} describe", lambda sf: getattr(sf, sobject).describe())

    def count(self, soql: str, sobject: str) -> int:
        return int(self.call(f"{sobject} count", lambda sf: sf.query(soql, include_deleted=True))["totalSize"])

    def query_pages(self, soql: str, sobject: str) -> Iterator[list[dict]]:
        """queryAll, one nextRecordsUrl page at a time, each page retried on its own."""
        page = self.call(f"{sobject} query", lambda sf: sf.query(soql, include_deleted=True))
        yield page["records"]
        while not page["done"]:
            following = page["nextRecordsUrl"]
            page = self.call(f"{sobject} query page",
                             lambda sf, at=following: sf.query_more(at, identifier_is_url=True))
            yield page["records"]

    def bulk_csv(self, soql: str, sobject: str, page_rows: int) -> Iterator[str]:
        """A Bulk API 2.0 queryAll job's CSV result pages, each job step retried on its own."""
        # simple-salesforce's job client, so that a failed step is retried alone, not the whole job.
        job = self.call(f"{sobject} bulk job", lambda sf: _bulk(sf, sobject).create_job("queryAll", soql))
        wait = self.source.bulk_poll.total_seconds()
        self.call(f"{sobject} bulk job status", lambda sf: _bulk(sf, sobject).wait_for_job(job["id"], True, wait))
        locator = ""
        while True:
            result = self.call(f"{sobject} bulk results", lambda sf, at=locator: _bulk(sf, sobject).get_query_results(
                job["id"], at, page_rows))
            yield result["records"]
            locator = result["locator"]
            if not locator:
                return


def _bulk(sf: Salesforce, sobject: str):  # type: ignore[no-untyped-def]
    return getattr(sf.bulk2, sobject)._client


def _body(reply: requests.Response) -> object:
    try:
        return reply.json()
    except ValueError:
        return reply.text[:200]

