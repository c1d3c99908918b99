"""A Salesforce-compatible API over one emulated org, on real HTTP, for simple-salesforce.

It serves the OAuth2 client-credentials token endpoint, REST query/queryAll with nextRecordsUrl paging,
sobjects describe and Bulk API 2.0 query jobs (CSV results paged by Sforce-Locator), and answers
errors in Salesforce's shape: `[{"message": ..., "errorCode": ...}]`. Throttling answers
REQUEST_LIMIT_EXCEEDED (403, as Salesforce does for the API request limit, or 429 if asked).
"""

from __future__ import annotations

import csv
import io
import itertools
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from lakeward.emulators import salesforce_soql as soql
from lakeward.emulators.salesforce_org import Org
from lakeward.emulators.server import Emulator, Faults, RateLimit, Request, Response

DATA = r"/services/data/v(?P<version>\d+\.\d)"
_CODES = {400: "MALFORMED_QUERY", 401: "INVALID_SESSION_ID", 404: "NOT_FOUND", 500: "UNKNOWN_EXCEPTION",
          503: "SERVER_UNAVAILABLE"}


@dataclass
class _Cursor:
    rows: list[dict]
    sobject: str


@dataclass
class _Job:
    id: str
    operation: str
    sobject: str
    rows: list[dict]
    fields: tuple[str, ...]
    polls: int = 0


class SalesforceEmulator(Emulator):
    def __init__(self, org: Org, *, client_id: str, client_secret: str, page_size: int = 2000,
                 rate_limit: RateLimit | None = None, faults: Faults | None = None, throttle_status: int = 403):
        super().__init__(rate_limit=rate_limit, faults=faults)
        self.org, self.page_size, self.throttle_status = org, page_size, throttle_status
        self._client = (client_id, client_secret)
        self._tokens: set[str] = set()
        self._cursors: dict[str, _Cursor] = {}
        self._jobs: dict[str, _Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.calls: dict[str, int] = {}  # served requests by kind: query, query_more, describe, bulk_*
        self.route("POST", r"/services/oauth2/token", self._token)
        self.route("GET", DATA + r"/(?P<endpoint>query|queryAll)/?", self._query, "query")
        self.route("GET", DATA + r"/(?P<endpoint>query|queryAll)/(?P<cursor>01g\w+)-(?P<offset>\d+)",
                   self._query_more, "query")
        self.route("GET", DATA + r"/sobjects/(?P<sobject>\w+)/describe/?", self._describe, "describe")
        self.route("POST", DATA + r"/jobs/query/?", self._create_job, "bulk")
        self.route("GET", DATA + r"/jobs/query/(?P<job>750\w+)/?", self._job_info, "bulk")
        self.route("GET", DATA + r"/jobs/query/(?P<job>750\w+)/results/?", self._job_results, "bulk")

    # Salesforce's shapes for the shared plumbing's errors.
    def error(self, status: int, message: str, kind: str) -> Response:
        return Response(status, [{"message": message, "errorCode": _CODES.get(status, kind.upper())}])

    def rate_limited(self) -> Response:
        return Response(self.throttle_status,
                        [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])

    def authorize(self, request: Request) -> Response | None:
        if request.path == "/services/oauth2/token":
            return None
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token not in self._tokens:
            return self.error(401, "Session expired or invalid", "INVALID_SESSION_ID")
        return None

    def expire_sessions(self) -> None:
        """Every issued token stops working, as when a session times out."""
        self._tokens.clear()

    def _count(self, kind: str) -> None:
        with self._lock:
            self.calls[kind] = self.calls.get(kind, 0) + 1

    def _token(self, request: Request) -> Response:
        form = dict(request.form())
        if form.get("grant_type") != "client_credentials":
            return Response(400, {"error": "unsupported_grant_type", "error_description": "grant type not supported"})
        if (form.get("client_id"), form.get("client_secret")) != self._client:
            return Response(400, {"error": "invalid_client", "error_description": "invalid client credentials"})
        token = "00DBC!" + secrets.token_urlsafe(24)
        self._tokens.add(token)
        return Response(200, {"access_token": token, "instance_url": self.url, "token_type": "Bearer",
                              "id": f"{self.url}/id/00DBC0000000001AAA/005BC0000000001AAA",
                              "issued_at": str(int(datetime.now(UTC).timestamp() * 1000))})

    def _parse(self, text: str | None) -> soql.Query | Response:
        if not text:
            return self.error(400, "A query string has to be specified", "MALFORMED_QUERY")
        try:
            return soql.parse(text, self._known_fields)
        except soql.SoqlError as err:
            return Response(400, [{"message": str(err), "errorCode": err.code}])

    def _known_fields(self, sobject: str) -> set[str]:
        if sobject not in self.org.fields:
            raise soql.SoqlError(f"sObject type '{sobject}' is not supported.", "INVALID_TYPE")
        return set(self.org.fields[sobject])

    def _select(self, query: soql.Query, include_deleted: bool) -> list[dict]:
        rows = self.org.rows(query.sobject)
        if not include_deleted:
            rows = [r for r in rows if not r.get("IsDeleted")]
        return soql.run(query, rows)

    def _query(self, request: Request) -> Response:
        self._count("query")
        query = self._parse(request.arg("q"))
        if isinstance(query, Response):
            return query
        rows = self._select(query, request.params["endpoint"] == "queryAll")
        if query.is_count:
            return Response(200, {"totalSize": len(rows), "done": True, "records": []})
        cursor = f"01gBC{next(self._ids):013d}"
        self._cursors[cursor] = _Cursor(rows, query.sobject)
        return self._page(request, cursor, 0)

    def _query_more(self, request: Request) -> Response:
        self._count("query_more")
        cursor = request.params["cursor"]
        if cursor not in self._cursors:
            return self.error(400, "invalid query locator", "INVALID_QUERY_LOCATOR")
        return self._page(request, cursor, int(request.params["offset"]))

    def _page(self, request: Request, cursor: str, offset: int) -> Response:
        state = self._cursors[cursor]
        end = offset + self.page_size
        version, sobject = request.params["version"], state.sobject
        records = [{"attributes": {"type": sobject, "url": f"/services/data/v{version}/sobjects/{sobject}/{r['Id']}"}}
                   | {k: _json_value(v) for k, v in r.items()} for r in state.rows[offset:end]]
        body: dict = {"totalSize": len(state.rows), "done": end >= len(state.rows), "records": records}
        if not body["done"]:
            body["nextRecordsUrl"] = f"/services/data/v{version}/{request.params['endpoint']}/{cursor}-{end}"
        return Response(200, body)

    def _describe(self, request: Request) -> Response:
        self._count("describe")
        sobject = request.params["sobject"]
        if sobject not in self.org.fields:
            return self.error(404, f"The requested resource does not exist: {sobject}", "NOT_FOUND")
        return Response(200, self.org.describe(sobject))

    def _create_job(self, request: Request) -> Response:
        self._count("bulk_create")
        body = request.json()
        if not isinstance(body, dict) or body.get("operation") not in ("query", "queryAll"):
            return self.error(400, "operation must be query or queryAll", "INVALIDJOB")
        query = self._parse(body.get("query"))
        if isinstance(query, Response):
            return query
        if query.is_count:
            return self.error(400, "Aggregate queries are not supported by Bulk API 2.0", "INVALIDJOB")
        job = _Job(f"750BC{next(self._ids):013d}", body["operation"], query.sobject,
                   self._select(query, body["operation"] == "queryAll"), query.fields)
        self._jobs[job.id] = job
        return Response(200, self._job_body(job, "UploadComplete"))

    def _job_body(self, job: _Job, state: str) -> dict:
        return {"id": job.id, "operation": job.operation, "object": job.sobject, "state": state,
                "concurrencyMode": "Parallel", "contentType": "CSV", "apiVersion": 62.0,
                "lineEnding": "LF", "columnDelimiter": "COMMA",
                "numberRecordsProcessed": len(job.rows) if state == "JobComplete" else 0}

    def _job_info(self, request: Request) -> Response:
        self._count("bulk_poll")
        job = self._jobs.get(request.params["job"])
        if job is None:
            return self.error(404, "Job not found", "NOT_FOUND")
        job.polls += 1
        return Response(200, self._job_body(job, "InProgress" if job.polls == 1 else "JobComplete"))

    def _job_results(self, request: Request) -> Response:
        self._count("bulk_results")
        job = self._jobs.get(request.params["job"])
        if job is None or job.polls < 2:
            return self.error(400 if job else 404, "Job is not complete", "INVALIDJOB")
        offset = int(request.arg("locator") or 0)
        size = int(request.arg("maxRecords") or 50_000)
        chunk = job.rows[offset:offset + size]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(job.fields)
        writer.writerows([_csv_value(r[f]) for f in job.fields] for r in chunk)
        following = offset + size
        return Response(200, out.getvalue(), content_type="text/csv; charset=UTF-8", headers={
            "Sforce-Locator": str(following) if following < len(job.rows) else "null",
            "Sforce-NumberOfRecords": str(len(chunk))})


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _csv_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
