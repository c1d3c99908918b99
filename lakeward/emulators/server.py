"""The HTTP plumbing every API emulator shares: routing, JSON replies, rate limits and injected faults.

An emulator is a real HTTP server on 127.0.0.1 (an ephemeral port), so clients go through their whole
stack: sockets, headers, retries. Faults are seeded, so a test that injects 20% 5xx is repeatable.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # named groups of the route pattern

    def arg(self, name: str, default: str | None = None) -> str | None:
        return next((v for k, v in self.query if k == name), default)

    def json(self) -> object:
        return json.loads(self.body or b"null")

    def form(self) -> list[tuple[str, str]]:
        return parse_qsl(self.body.decode())


@dataclass
class Response:
    status: int = 200
    body: object = None  # JSON-serialisable, or bytes/str sent as is
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


Handler = Callable[[Request], Response]


@dataclass
class Faults:
    """What goes wrong, as fractions of requests. `outage` fails every request with 503."""

    server_errors: float = 0.0   # 500/502/503 replies
    timeouts: float = 0.0        # the reply is held back for `timeout_seconds`
    storm: float = 0.0           # 429 replies regardless of the real rate limit
    outage: bool = False
    timeout_seconds: float = 5.0
    seed: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    def draw(self) -> float:
        with self._lock:
            return self._rng.random()


class RateLimit:
    """Token buckets: one overall and one per bucket name (an endpoint), in requests per second."""

    def __init__(self, overall: float, per_bucket: float | None = None):
        self.overall, self.per_bucket = overall, per_bucket
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, bucket: str) -> bool:
        with self._lock:
            now = time.monotonic()
            names = [("*", self.overall)] + ([(bucket, self.per_bucket)] if self.per_bucket else [])
            states = {n: self._refill(n, rate, now) for n, rate in names}
            if any(tokens < 1 for tokens in states.values()):
                return False
            for n, tokens in states.items():
                self._buckets[n] = (tokens - 1, now)
            return True

    def _refill(self, name: str, rate: float, now: float) -> float:
        tokens, at = self._buckets.get(name, (rate, now))
        return min(rate, tokens + (now - at) * rate)


class Emulator:
    """Subclasses add routes with `route()` and shape their own errors with `error()`."""

    def __init__(self, *, rate_limit: RateLimit | None = None, faults: Faults | None = None):
        self.rate_limit, self.faults = rate_limit, faults or Faults()
        self.routes: list[tuple[str, re.Pattern[str], Handler, str]] = []
        self.requests = 0  # served requests, for utilisation figures
        self._server: ThreadingHTTPServer | None = None

    def route(self, method: str, pattern: str, handler: Handler, bucket: str | None = None) -> None:
        self.routes.append((method, re.compile(pattern + "$"), handler, bucket or pattern))

    def error(self, status: int, message: str, kind: str) -> Response:
        return Response(status, {"error": {"type": kind, "message": message}})

    def rate_limited(self) -> Response:
        return self.error(429, "Too many requests", "rate_limit_error")

    def authorize(self, request: Request) -> Response | None:
        """None when the request may proceed, else the reply to send."""
        return None

    @property
    def url(self) -> str:
        assert self._server is not None, "the emulator is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Emulator:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True, name=type(self).__name__).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def dispatch(self, request: Request) -> Response:
        for method, pattern, handler, bucket in self.routes:
            match = pattern.match(request.path)
            if method == request.method and match:
                request.params = match.groupdict()
                return self._guarded(request, handler, bucket)
        return self.error(404, f"Unrecognized request URL ({request.method}: {request.path})",
                          "invalid_request_error")

    def _guarded(self, request: Request, handler: Handler, bucket: str) -> Response:
        if (denied := self.authorize(request)) is not None:
            return denied
        faults = self.faults
        if faults.outage:
            return self.error(503, "Service unavailable", "api_error")
        draw = faults.draw()
        if draw < faults.storm:
            return self.rate_limited()
        if draw < faults.storm + faults.server_errors:
            return self.error(500 + 3 * int(draw * 1000 % 2), "An unexpected error occurred", "api_error")
        if draw < faults.storm + faults.server_errors + faults.timeouts:
            time.sleep(faults.timeout_seconds)
        if self.rate_limit and not self.rate_limit.allow(bucket):
            return self.rate_limited()
        self.requests += 1
        return handler(request)


def _handler_class(emulator: Emulator) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(self.command, parts.path, parse_qsl(parts.query, keep_blank_values=True),
                              {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
            response = emulator.dispatch(request)
            body = response.body
            if not isinstance(body, bytes | str):
                body = json.dumps(body)
            data = body.encode() if isinstance(body, str) else body
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: object) -> None:  # quiet: tests read our logs, not these
            pass

    return _Handler
