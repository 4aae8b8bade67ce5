"""An Iceberg REST catalog for tests, shaped like Apache Polaris, backed by a real catalog.

:class:`RestCatalogServer` listens on 127.0.0.1 (port 0) in a thread and serves the endpoints
pyiceberg's ``RestCatalog`` uses:

* ``GET /v1/config?warehouse=W`` -- Polaris style: the warehouse must be given and known, and
  the answer overrides ``prefix`` so every further path is ``/v1/<prefix>/...``.
* ``POST /v1/oauth/tokens`` -- OAuth2 client credentials; tokens carry ``expires_in`` and stop
  working once it has passed (or when a test expires them).
* namespaces: list, load, exists, create; tables: list, load, exists, create (also staged, as
  ``create_table_transaction`` does) and commit (``POST .../tables/{table}`` with requirements
  and updates), so test data is written through the REST catalog itself.

Tables live in a pyiceberg SQL catalog (SQLite) with Parquet data files under ``root``; loads
and commits are delegated to it (``tables.py``), as Iceberg's own REST test server delegates to
a JDBC catalog. This module is the HTTP side: tokens, config, prefixes, faults, recording.
Every answer is checked against the published OpenAPI document (``spec.py``); violations are
collected in :attr:`RestCatalogServer.violations`, which the fixture asserts is empty.

A load from a client that sends ``X-Iceberg-Access-Delegation: vended-credentials`` is answered
with :attr:`RestCatalogServer.vended_config` as the table ``config`` (storage properties, as
Polaris vends short-lived object-store credentials). For local files those credentials are a
token that :class:`RecordingFileIO` records with every file it opens.

Misbehaviour on purpose: :meth:`RestCatalogServer.fail` (any status, or a dropped connection,
for N requests matching a path), :meth:`RestCatalogServer.expire_tokens_before` and
``delay_seconds`` on a fault (slow answers).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

from pyiceberg.catalog.rest import ConfigResponse
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.io.pyarrow import PyArrowFileIO

from .spec import OpenApiSpec
from .tables import Warehouse, error_body

__all__ = [
    "DROP_CONNECTION",
    "VENDED_TOKEN_KEY",
    "Fault",
    "RecordingFileIO",
    "RestCatalogServer",
    "Seen",
]

#: ``Fault.status`` that closes the connection without answering (a connection reset).
DROP_CONNECTION = 0
#: Table config key the vended "storage credential" travels in.
VENDED_TOKEN_KEY = "floe-test.storage-token"
_ENDPOINTS = [
    "GET /v1/{prefix}/namespaces",
    "POST /v1/{prefix}/namespaces",
    "GET /v1/{prefix}/namespaces/{namespace}",
    "HEAD /v1/{prefix}/namespaces/{namespace}",
    "GET /v1/{prefix}/namespaces/{namespace}/tables",
    "POST /v1/{prefix}/namespaces/{namespace}/tables",
    "GET /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}",
]


class RecordingFileIO(PyArrowFileIO):
    """pyarrow file IO that records each file it opens with the storage token it was given."""

    opened: ClassVar[list[tuple[str, str | None]]] = []

    def new_input(self, location: str) -> Any:
        RecordingFileIO.opened.append((location, self.properties.get(VENDED_TOKEN_KEY)))
        return super().new_input(location)


@dataclass
class Fault:
    """A planned misbehaviour for requests whose ``METHOD path`` matches ``match`` (a regex)."""

    match: str
    status: int = 500
    times: int | None = 1  # None: every matching request
    delay_seconds: float = 0.0

    def applies(self, request_line: str) -> bool:
        return (self.times is None or self.times > 0) and re.search(
            self.match, request_line
        ) is not None


@dataclass(frozen=True)
class Seen:
    """One request as the server saw it, and what it answered."""

    method: str
    path: str
    status: int
    headers: dict[str, str]
    form: dict[str, str]

    @property
    def line(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class _Token:
    value: str
    expires_at: float


@dataclass
class RestCatalogServer:
    """A Polaris-like Iceberg REST catalog over a SQLite-backed pyiceberg catalog.

    Args:
        root: Folder for the backing catalog database and the table files.
        warehouses: Warehouse (Polaris catalog) name -> the ``prefix`` its config announces.
        client_id, client_secret: The only client credentials the token endpoint accepts.
        expires_in: Lifetime of each token, in seconds.
    """

    root: Path
    warehouses: dict[str, str] = field(default_factory=lambda: {"gold_wh": "polaris-gold"})
    client_id: str = "floe-reader"
    client_secret: str = field(default_factory=lambda: "cs-" + secrets.token_hex(12))
    expires_in: int = 3600
    vended_config: dict[str, str] = field(default_factory=dict)
    #: Error answers repeat the request's Authorization header and client_secret, as a
    #: careless server's would: floe must scrub them.
    echo_credentials_on_error: bool = False
    seen: list[Seen] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    tokens_issued: list[str] = field(default_factory=list)
    url: str = ""
    _tokens: dict[str, _Token] = field(default_factory=dict)
    _expire_before: list[tuple[str, set[int], list[int]]] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.spec = OpenApiSpec()
        self.root.mkdir(parents=True, exist_ok=True)
        self._backing = {
            warehouse: SqlCatalog(
                warehouse,
                uri=f"sqlite:///{self.root / 'catalog.db'}",
                warehouse=(self.root / warehouse).as_uri(),
            )
            for warehouse in self.warehouses
        }
        self._by_prefix = {prefix: name for name, prefix in self.warehouses.items()}

    # --- what tests use ---------------------------------------------------------------

    @property
    def warehouse(self) -> str:
        """The first (default) warehouse name."""
        return next(iter(self.warehouses))

    def backing(self, warehouse: str | None = None) -> SqlCatalog:
        """The SQL catalog behind ``warehouse`` (to look at what a commit did)."""
        return self._backing[warehouse or self.warehouse]

    def catalog_config(self, **overrides: Any) -> dict[str, Any]:
        """floe's catalog section for this server, credentials included."""
        return {
            "type": "rest",
            "name": "polaris",
            "uri": self.url + "/api/catalog",
            "warehouse": self.warehouse,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "scope": "PRINCIPAL_ROLE:ALL",
            **overrides,
        }

    def fail(
        self, match: str, status: int = 500, *, times: int | None = 1, delay_seconds: float = 0
    ) -> Fault:
        """Answer ``status`` (``DROP_CONNECTION``: no answer) to the next ``times`` requests
        matching ``match``, after ``delay_seconds``; ``status=200`` only delays."""
        fault = Fault(match, status, times, delay_seconds)
        self.faults.append(fault)
        return fault

    def expire_tokens_before(self, match: str, *, occurrences: Iterable[int] = (1,)) -> None:
        """Let every token issued so far expire just before the n-th request matching
        ``match``, for each n in ``occurrences`` (1 = the first): the ``expires_in`` of a token
        running out in the middle of a run."""
        self._expire_before.append((match, set(occurrences), [0]))

    def requests(self, match: str = "") -> list[Seen]:
        """Requests whose ``METHOD path`` matches ``match``, in arrival order."""
        with self._lock:
            return [s for s in self.seen if re.search(match, s.line)]

    # --- HTTP ---------------------------------------------------------------------------

    @contextmanager
    def running(self) -> Iterator[RestCatalogServer]:
        server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        server.daemon_threads = True
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            for catalog in self._backing.values():
                catalog.close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        catalog = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                catalog._serve(self)

            do_GET = do_POST = do_HEAD = do_DELETE = do_PUT = _serve

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def _serve(self, http: BaseHTTPRequestHandler) -> None:
        split = urlsplit(http.path)
        # The catalog lives under /api/catalog, as Polaris's does.
        path = split.path.removeprefix("/api/catalog")
        length = int(http.headers.get("Content-Length") or 0)
        raw = http.rfile.read(length) if length else b""
        line = f"{http.command} {path}"
        form: dict[str, str] = {}
        if path == "/v1/oauth/tokens":
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        fault = self._take_fault(line)
        if fault is not None and fault.delay_seconds:
            time.sleep(fault.delay_seconds)
        if fault is not None and fault.status == DROP_CONNECTION:
            self._record(http, path, DROP_CONNECTION, form)
            http.close_connection = True
            return
        try:
            status, body = self._route(http, path, split.query, raw, form, fault)
        except Exception as exc:  # a bug in this fixture: fail the test that met it
            with self._lock:
                self.violations.append(f"{line}: the fixture raised {exc!r}")
            status, body = 500, error_body(500, f"fixture error: {exc!r}")
        self._record(http, path, status, form)
        if self.echo_credentials_on_error and status >= 400 and isinstance(body, dict):
            echo = (
                f" (request carried Authorization: {http.headers.get('Authorization')}, "
                f"client_secret={form.get('client_secret', self.client_secret)})"
            )
            if isinstance(body.get("error"), dict):
                body["error"]["message"] += echo
            else:
                body["error_description"] = body.get("error_description", "") + echo
        problems = self.spec.check_response(http.command, path, status, body)
        with self._lock:
            self.violations += problems
        payload = b"" if body is None else json.dumps(body).encode()
        http.send_response(status)
        if payload:
            http.send_header("Content-Type", "application/json")
        http.send_header("Content-Length", str(len(payload)))
        http.end_headers()
        if http.command != "HEAD":
            http.wfile.write(payload)

    def _take_fault(self, line: str) -> Fault | None:
        with self._lock:
            for match, occurrences, seen in self._expire_before:
                if re.search(match, line):
                    seen[0] += 1
                    if seen[0] not in occurrences:
                        continue
                    for token in self._tokens.values():
                        token.expires_at = 0
            for fault in self.faults:
                if fault.applies(line):
                    fault.times = None if fault.times is None else fault.times - 1
                    return fault
        return None

    def _record(
        self, http: BaseHTTPRequestHandler, path: str, status: int, form: dict[str, str]
    ) -> None:
        with self._lock:
            self.seen.append(Seen(http.command, path, status, dict(http.headers), form))

    def _route(
        self,
        http: BaseHTTPRequestHandler,
        path: str,
        query: str,
        raw: bytes,
        form: dict[str, str],
        fault: Fault | None,
    ) -> tuple[int, Any]:
        if path == "/v1/oauth/tokens" and http.command == "POST":
            if fault is not None and fault.status != 200:
                return fault.status, error_body(fault.status, "planned failure")
            return self._token(form)
        if not self._authorized(http.headers.get("Authorization", "")):
            return 401, error_body(401, "Not authorized: the token is missing, invalid or expired")
        if fault is not None and fault.status != 200:
            return fault.status, error_body(fault.status, "planned failure")
        if path == "/v1/config" and http.command == "GET":
            return self._config(parse_qs(query).get("warehouse", [""])[0])
        parts = path.split("/")
        if len(parts) < 4 or parts[1] != "v1" or parts[2] not in self._by_prefix:
            return 404, error_body(404, f"no such resource: {path}", "NotFoundException")
        warehouse = Warehouse(self._backing[self._by_prefix[parts[2]]])
        delegation = http.headers.get("X-Iceberg-Access-Delegation", "")
        vended = self.vended_config if "vended-credentials" in delegation else {}
        with self._lock:
            return warehouse.serve(http.command, [unquote(p) for p in parts[3:]], raw, vended)

    def _token(self, form: dict[str, str]) -> tuple[int, Any]:
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        if (form.get("client_id"), form.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return 401, {
                "error": "invalid_client",
                "error_description": "The client could not be authenticated",
            }
        value = "tok-" + secrets.token_hex(16)
        with self._lock:
            self._tokens[value] = _Token(value, time.monotonic() + self.expires_in)
            self.tokens_issued.append(value)
        return 200, {
            "access_token": value,
            "token_type": "bearer",
            "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "expires_in": self.expires_in,
            "scope": form.get("scope", "PRINCIPAL_ROLE:ALL"),
        }

    def _authorized(self, header: str) -> bool:
        value = header.removeprefix("Bearer ").strip()
        with self._lock:
            token = self._tokens.get(value)
            return token is not None and token.expires_at > time.monotonic()

    def _config(self, warehouse: str) -> tuple[int, Any]:
        if not warehouse:
            return 400, error_body(400, "Please specify a warehouse", "BadRequestException")
        if warehouse not in self.warehouses:
            return 404, error_body(
                404, f"Unable to find warehouse {warehouse}", "NotFoundException"
            )
        answer = ConfigResponse(
            defaults={"default-base-location": self._backing[warehouse].properties["warehouse"]},
            overrides={"prefix": self.warehouses[warehouse]},
        )
        body = json.loads(answer.model_dump_json(by_alias=True))
        body["endpoints"] = _ENDPOINTS
        return 200, body
