"""Shared fixtures: a real HTTP API on 127.0.0.1 that records and misbehaves, spans, test rows.

``api_server`` is a ``ThreadingHTTPServer`` (HTTP/1.1 keep-alive) on a free port. Like
Stripe's API it de-duplicates by ``Idempotency-Key``: a repeated key gets the stored answer
and its rows are not recorded twice. It misbehaves on request:

- ``server.fail_next(status, times=1, retry_after=None)``: answer ``status`` (429, 500, ...)
- ``server.drop_next(times=1, after_processing=False)``: close the socket without answering,
  before or after the rows were stored
- ``server.slow_next(seconds, times=1)`` / ``server.delay``: answer late
- ``server.reject_marker``: answer 400 to a body containing that string value
- ``server.required_headers``: answer 401 unless these headers match (e.g. a bearer token)
- ``server.echo_on_error``: put this text in the body of every error answer (as some APIs
  echo what they were sent)
- ``server.chaos(seed, ...)``: random 429/500/drops on a share of requests
- ``server.hold_until_in_flight(n)``: hold data requests until ``n`` are in flight at once
  (or a few seconds passed), then let every request through

``server.peak_in_flight`` is the most data requests the server was handling at the same time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import socket
import ssl
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest


@dataclass
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")


@dataclass
class _Action:
    kind: str  # "fail" | "drop" | "drop_after" | "slow"
    status: int = 0
    retry_after: str | None = None
    seconds: float = 0.0


@dataclass
class _Stored:
    status: int
    body: bytes


@dataclass
class _Chaos:
    rng: random.Random
    p_429: float
    p_500: float
    p_drop: float
    p_drop_after: float


@dataclass
class ApiServer:
    """State and knobs of the test API (see the module docstring)."""

    host: str = "127.0.0.1"
    port: int = 0
    scheme: str = "http"
    requests: list[RecordedRequest] = field(default_factory=list)
    probes: list[RecordedRequest] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    accepted_bodies: list[bytes] = field(default_factory=list)
    replays: int = 0
    delay: float = 0.0
    reject_marker: str | None = None
    required_headers: dict[str, str] = field(default_factory=dict)
    envelope_key: str | None = None
    echo_on_error: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    _actions: deque[_Action] = field(default_factory=deque)
    _stored: dict[str, _Stored] = field(default_factory=dict)
    _chaos: _Chaos | None = None
    _next_id: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    _gate: threading.Condition = field(default_factory=threading.Condition)
    _hold_until: int = 0
    _hold_timeout: float = 0.0

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    # -- knobs -----------------------------------------------------------------------------

    def fail_next(self, status: int, *, times: int = 1, retry_after: str | None = None) -> None:
        with self.lock:
            self._actions.extend(
                _Action("fail", status=status, retry_after=retry_after) for _ in range(times)
            )

    def drop_next(self, *, times: int = 1, after_processing: bool = False) -> None:
        kind = "drop_after" if after_processing else "drop"
        with self.lock:
            self._actions.extend(_Action(kind) for _ in range(times))

    def slow_next(self, seconds: float, *, times: int = 1) -> None:
        with self.lock:
            self._actions.extend(_Action("slow", seconds=seconds) for _ in range(times))

    def hold_until_in_flight(self, requests: int, *, timeout: float = 5.0) -> None:
        """Hold data requests until ``requests`` of them are in flight together; then (or after
        ``timeout`` seconds, when that never happens) let every request through."""
        with self._gate:
            self._hold_until, self._hold_timeout = requests, timeout

    def chaos(
        self,
        seed: int,
        *,
        p_429: float = 0.0,
        p_500: float = 0.0,
        p_drop: float = 0.0,
        p_drop_after: float = 0.0,
    ) -> None:
        self._chaos = _Chaos(random.Random(seed), p_429, p_500, p_drop, p_drop_after)

    # -- views -----------------------------------------------------------------------------

    @property
    def data_requests(self) -> list[RecordedRequest]:
        with self.lock:
            return list(self.requests)

    def batch_sizes(self) -> list[int]:
        """Rows per accepted (first-time) request, in arrival order."""
        with self.lock:
            return [len(self._records(orjson.loads(body))) for body in self.accepted_bodies]

    # -- request handling ------------------------------------------------------------------

    def _records(self, document: Any) -> list[dict[str, Any]]:
        if isinstance(document, list):
            return document
        if self.envelope_key is not None and isinstance(document, dict):
            return list(document[self.envelope_key])
        return [document]

    def _next_action(self) -> _Action | None:
        with self.lock:
            if self._actions:
                return self._actions.popleft()
            chaos = self._chaos
            if chaos is None:
                return None
            roll = chaos.rng.random()
            for kind, share, status in (
                ("fail", chaos.p_429, 429),
                ("fail", chaos.p_500, 500),
                ("drop", chaos.p_drop, 0),
                ("drop_after", chaos.p_drop_after, 0),
            ):
                if roll < share:
                    return _Action(kind, status=status, retry_after="0" if status == 429 else None)
                roll -= share
            return None

    def handle(self, request: RecordedRequest) -> tuple[int, dict[str, str], bytes] | None:
        """The answer to ``request``: (status, headers, body), or None to drop the connection."""
        if request.method in ("HEAD", "GET", "OPTIONS"):
            return self._answer(request, probe=True)
        with self._gate:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            if self._hold_until:
                self._gate.notify_all()
                self._gate.wait_for(
                    lambda: self.in_flight >= self._hold_until, timeout=self._hold_timeout
                )
                self._hold_until = 0  # open for good
                self._gate.notify_all()
        try:
            return self._answer(request, probe=False)
        finally:
            with self._gate:
                self.in_flight -= 1

    def _answer(
        self, request: RecordedRequest, *, probe: bool
    ) -> tuple[int, dict[str, str], bytes] | None:
        with self.lock:
            (self.probes if probe else self.requests).append(request)
        for name, value in self.required_headers.items():
            if request.headers.get(name.lower()) != value:
                return 401, {}, self._error_body("invalid credentials")
        if probe:
            return 200, {}, b"{}"
        action = self._next_action()
        if action is not None and action.kind == "slow":
            time.sleep(action.seconds)
            action = None
        if self.delay:
            time.sleep(self.delay)
        if action is not None and action.kind == "drop":
            return None
        if action is not None and action.kind == "fail":
            headers = {"Retry-After": action.retry_after} if action.retry_after else {}
            return action.status, headers, self._error_body("try again")
        key = request.idempotency_key
        with self.lock:
            stored = self._stored.get(key) if key else None
            if stored is not None:
                self.replays += 1
                answer: tuple[int, dict[str, str], bytes] | None = (
                    stored.status,
                    {"Idempotent-Replayed": "true"},
                    stored.body,
                )
            else:
                answer = self._accept(request)
                if key:
                    self._stored[key] = _Stored(answer[0], answer[2])
        if action is not None and action.kind == "drop_after":
            return None
        return answer

    def _error_body(self, error: str) -> bytes:
        answer = {"error": error}
        if self.echo_on_error:
            answer["detail"] = self.echo_on_error
        return orjson.dumps(answer)

    def _accept(self, request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        try:
            document = orjson.loads(request.body)
            records = self._records(document)
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return 400, {}, b'{"error": "body is not the expected JSON"}'
        if self.reject_marker is not None and self.reject_marker.encode() in request.body:
            bad = [r.get("id") for r in records if self.reject_marker in orjson.dumps(r).decode()]
            return 400, {}, orjson.dumps({"error": "invalid record", "ids": bad})
        ids = []
        for record in records:
            self._next_id += 1
            ids.append(f"rec-{record.get('id', self._next_id)}")
        self.rows.extend(records)
        self.accepted_bodies.append(request.body)
        answer: dict[str, Any] = {"received": len(records), "ids": ids}
        if isinstance(document, dict) and self.envelope_key is None:
            answer["id"] = ids[0]
        return 200, {}, orjson.dumps(answer)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without this, Nagle + delayed ACK add 40 ms each.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            at=time.monotonic(),
        )
        answer = self.server.api.handle(request)
        if answer is None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        status, headers, payload = answer
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            with contextlib.suppress(OSError):  # the client may have timed out and gone
                self.wfile.write(payload)

    do_POST = do_PUT = do_PATCH = do_GET = do_HEAD = do_OPTIONS = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, api: ApiServer) -> None:
        self.api = api
        super().__init__((api.host, 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or close early are part of the tests, not server errors.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


# -- fake SaaS APIs ----------------------------------------------------------------------


@dataclass
class HubSpotStyleApi(ApiServer):
    """A batch upsert endpoint shaped like HubSpot's ``/crm/v3/objects/contacts/batch/upsert``.

    Takes ``{"inputs": [{"idProperty": "email", "id": ..., "properties": {...}}]}`` (at most
    100 inputs). Answers 200 with ``results`` when every input is valid; otherwise 207
    Multi-Status with the valid ones in ``results`` and one entry per invalid input in
    ``errors`` (``message``, ``context.ids``). An input whose id is not an email is invalid;
    so is a request that is not this shape (400). ``fail_next(429, retry_after=...)`` answers
    like HubSpot's rate limit. ``rows`` holds the accepted inputs.

    With ``all_or_nothing`` it behaves like a batch *create*: a request with an invalid input
    creates nothing and is answered 400, its ``errors`` naming the invalid inputs.
    """

    all_or_nothing: bool = False

    def _error_body(self, error: str) -> bytes:
        return orjson.dumps(
            {
                "status": "error",
                "message": "You have reached your secondly limit.",
                "errorType": "RATE_LIMIT",
            }
        )

    def _accept(self, request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        try:
            inputs = orjson.loads(request.body)["inputs"]
            assert isinstance(inputs, list) and 0 < len(inputs) <= 100
            for item in inputs:
                assert set(item) == {"idProperty", "id", "properties"}
                assert item["idProperty"] == "email" and isinstance(item["properties"], dict)
        except (orjson.JSONDecodeError, KeyError, TypeError, AssertionError):
            return (
                400,
                {},
                b'{"status":"error","message":"Invalid input JSON","category":"VALIDATION_ERROR"}',
            )
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        answer: dict[str, Any]
        for item in inputs:
            if "@" not in str(item["id"]):
                errors.append(
                    {
                        "status": "error",
                        "category": "VALIDATION_ERROR",
                        "message": f"Email address {item['id']} is invalid",
                        "context": {"ids": [item["id"]]},
                    }
                )
                continue
            results.append(item)
        if errors and self.all_or_nothing:
            answer = {
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": f"{len(errors)} of {len(inputs)} inputs are invalid",
                "errors": errors,
            }
            return 400, {}, orjson.dumps(answer)
        created = []
        for item in results:
            self._next_id += 1
            self.rows.append(item)
            created.append({"id": str(self._next_id), "properties": item["properties"]})
        self.accepted_bodies.append(request.body)
        answer = {"status": "COMPLETE", "results": created}
        if errors:
            answer |= {"numErrors": len(errors), "errors": errors}
        return (207 if errors else 200), {}, orjson.dumps(answer)


@dataclass
class SalesforceStyleApi(ApiServer):
    """A composite endpoint shaped like Salesforce's ``/composite/sobjects`` (create).

    Takes ``{"allOrNone": false, "records": [{"attributes": {"type": "Contact"}, ...}]}`` (at
    most 200 records) and answers 200 with one result per record, in order:
    ``{"id": ..., "success": true, "errors": []}``, or ``success: false`` with ``errors`` such
    as ``REQUIRED_FIELD_MISSING`` for a Contact without ``LastName``. ``rows`` holds the
    records created.
    """

    def _accept(self, request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        try:
            document = orjson.loads(request.body)
            records = document["records"]
            assert document["allOrNone"] is False and set(document) == {"allOrNone", "records"}
        except (orjson.JSONDecodeError, KeyError, TypeError, AssertionError):
            return 400, {}, b'[{"message":"Malformed request","errorCode":"JSON_PARSER_ERROR"}]'
        if len(records) > 200:
            return 400, {}, b'[{"message":"max 200 records","errorCode":"EXCEEDED_ID_LIMIT"}]'
        results = []
        for record in records:
            if record.get("attributes", {}).get("type") != "Contact":
                error = {
                    "statusCode": "INVALID_TYPE",
                    "message": "Must send a concrete entity type.",
                    "fields": [],
                }
            elif not record.get("LastName"):
                error = {
                    "statusCode": "REQUIRED_FIELD_MISSING",
                    "message": "Required fields are missing: [LastName]",
                    "fields": ["LastName"],
                }
            else:
                self._next_id += 1
                self.rows.append(record)
                results.append({"id": f"003{self._next_id:015d}", "success": True, "errors": []})
                continue
            results.append({"success": False, "errors": [error]})
        self.accepted_bodies.append(request.body)
        return 200, {}, orjson.dumps(results)


@dataclass
class SalesforceCompositeApi(ApiServer):
    """An endpoint shaped like Salesforce's ``/composite`` (independent subrequests).

    Takes ``{"allOrNone": false, "compositeRequest": [{"method": "POST", "url":
    ".../sobjects/Contact", "referenceId": ..., "body": {...}}]}`` (at most 25 subrequests,
    each ``referenceId`` alphanumeric and unique) and answers 200 with ``compositeResponse``:
    per subrequest its ``referenceId`` and ``httpStatusCode``, 201 with the new id in
    ``body``, or 400 with ``body`` a list of errors (``REQUIRED_FIELD_MISSING`` for a Contact
    without ``LastName``). ``rows`` holds the records' bodies created.
    """

    def _accept(self, request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        try:
            document = orjson.loads(request.body)
            subrequests = document["compositeRequest"]
            assert set(document) == {"allOrNone", "compositeRequest"}
            assert document["allOrNone"] is False and 0 < len(subrequests) <= 25
            references = [item["referenceId"] for item in subrequests]
            assert len(set(references)) == len(references)
            for item in subrequests:
                assert set(item) == {"method", "url", "referenceId", "body"}
                assert item["method"] == "POST" and str(item["referenceId"]).isalnum()
                assert item["url"] == "/services/data/v59.0/sobjects/Contact"
        except (orjson.JSONDecodeError, KeyError, TypeError, AssertionError):
            return 400, {}, b'[{"message":"Malformed request","errorCode":"JSON_PARSER_ERROR"}]'
        answers = []
        for item in subrequests:
            answer: dict[str, Any] = {"httpHeaders": {}, "referenceId": item["referenceId"]}
            if not item["body"].get("LastName"):
                answer |= {
                    "httpStatusCode": 400,
                    "body": [
                        {
                            "errorCode": "REQUIRED_FIELD_MISSING",
                            "message": "Required fields are missing: [LastName]",
                            "fields": ["LastName"],
                        }
                    ],
                }
            else:
                self._next_id += 1
                self.rows.append(item["body"])
                new_id = f"003{self._next_id:015d}"
                answer |= {
                    "httpStatusCode": 201,
                    "body": {"id": new_id, "success": True, "errors": []},
                }
            answers.append(answer)
        self.accepted_bodies.append(request.body)
        return 200, {}, orjson.dumps({"compositeResponse": answers})


@pytest.fixture
def hubspot_api() -> Iterator[ApiServer]:
    """A HubSpot-style batch upsert API on 127.0.0.1."""
    yield from _serve(HubSpotStyleApi())


@pytest.fixture
def salesforce_api() -> Iterator[ApiServer]:
    """A Salesforce-style composite API on 127.0.0.1."""
    yield from _serve(SalesforceStyleApi())


@pytest.fixture
def hubspot_create_api() -> Iterator[ApiServer]:
    """A HubSpot-style all-or-nothing batch create API on 127.0.0.1."""
    yield from _serve(HubSpotStyleApi(all_or_nothing=True))


@pytest.fixture
def salesforce_composite_api() -> Iterator[ApiServer]:
    """A Salesforce-style ``/composite`` API (subrequests) on 127.0.0.1."""
    yield from _serve(SalesforceCompositeApi())


#: A self-signed certificate for 127.0.0.1 / localhost (valid until 2125), for TLS tests.
TLS_DIR = Path(__file__).parent / "integration" / "tls"


@pytest.fixture
def api_server() -> Iterator[ApiServer]:
    """A fresh recording API on 127.0.0.1 for one test."""
    yield from _serve(ApiServer())


@pytest.fixture
def tls_api_server() -> Iterator[ApiServer]:
    """The recording API over HTTPS, with a self-signed certificate (``base_url`` is https)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(TLS_DIR / "localhost-cert.pem", TLS_DIR / "localhost-key.pem")
    yield from _serve(ApiServer(scheme="https"), context)


def _serve(api: ApiServer, tls: ssl.SSLContext | None = None) -> Iterator[ApiServer]:
    server = _Server(api)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    api.port = server.server_address[1]
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="api-server", daemon=True
    )
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def plugin() -> Any:
    """A ``DltIngestionPlugin``."""
    from floe_ingestion_dlt import DltIngestionPlugin

    return DltIngestionPlugin()


@pytest.fixture
def make_sink(plugin: Any, api_server: ApiServer) -> Iterator[Callable[..., Any]]:
    """Create ``rest_api`` sinks (destination ``crm``) on ``api_server``; disposed after the test.

    ``make(batch_size=None, field_mapping=None, retry=None, static_fields=None, **config)``:
    ``config`` goes into
    the connection config (after ``base_url`` and ``path: /v1/contacts``); ``retry`` overrides
    the fast test backoff (10 to 50 ms).
    """
    from floe_core.plugins import SinkConfig

    created: list[Any] = []

    def make(
        batch_size: int | None = None,
        field_mapping: dict[str, str] | None = None,
        retry: dict[str, Any] | None = None,
        static_fields: dict[str, Any] | None = None,
        **config: Any,
    ) -> Any:
        connection = {"base_url": api_server.base_url, "path": "/v1/contacts", **config}
        sink = plugin.create_sink(
            SinkConfig(
                "rest_api",
                connection,
                batch_size=batch_size,
                field_mapping=field_mapping,
                destination_name="crm",
                retry_config={"initial_backoff_seconds": 0.01, "max_backoff_seconds": 0.05}
                | (retry or {}),
                static_fields=static_fields,
            )
        )
        created.append(sink)
        return sink

    yield make
    for sink in created:
        sink.dispose()


@pytest.fixture
def unused_port() -> Iterator[int]:
    """A local port nobody listens on, for the whole test.

    The port stays bound to a socket that never listens: connecting to it is refused, and no
    other process (a parallel test's server) can take it meanwhile.
    """
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])


# -- data -----------------------------------------------------------------------------------


def _gold_customers(rows: int, *, start: int = 0, seed: int = 7) -> pa.Table:
    rng = random.Random(seed)
    base = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    ids = range(start, start + rows)
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "name": [f"Customer {i} \u2013 Zo\u00eb \u6771\u4eac" for i in ids],
            "email": [f"c{i}@example.com" for i in ids],
            "segment": [rng.choice(["gold", "silver", "churn_risk"]) for _ in ids],
            "lifetime_value": pa.array(
                [None if i % 11 == 0 else Decimal(f"{i}.{i % 100:02d}") for i in ids],
                pa.decimal128(12, 2),
            ),
            "score": [rng.random() for _ in ids],
            "orders": pa.array([rng.randint(0, 500) for _ in ids], pa.int32()),
            "active": [i % 3 != 0 for i in ids],
            "updated_at": pa.array(
                [base + dt.timedelta(seconds=i, microseconds=i % 1000) for i in ids],
                pa.timestamp("us", tz="UTC"),
            ),
            "note": [None if i % 7 == 0 else f"note {i}" for i in ids],
        }
    )


@pytest.fixture
def gold_customers() -> Callable[..., pa.Table]:
    """``gold_customers(rows, start=0)``: a 10-column customers table with awkward values."""
    return _gold_customers
