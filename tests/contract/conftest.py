"""Fixtures for the contract tests.

- ``acme_lines``: the third-party sink of ``docs/writing-a-sink.md`` (``acme_lines.py`` here),
  importable as ``acme_lines`` as if installed;
- ``lines_server``: the JSON-lines API that sink talks to (a real HTTP server on 127.0.0.1);
- ``api_server``, ``sql_pg_schema``, ``sql_maria_db``: the dlt plugin's own test fixtures (a
  recording REST API that misbehaves on request, fresh PostgreSQL / MariaDB databases).
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

HERE = Path(__file__).parent
PLUGIN_TESTS = HERE.parents[1] / "plugins" / "floe-ingestion-dlt" / "tests"


def _load(name: str, path: Path) -> ModuleType:
    """Import ``path`` as module ``name`` (test folders are not packages)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


acme_lines = _load("acme_lines", HERE / "acme_lines.py")
_dlt_tests = _load("floe_dlt_test_fixtures", PLUGIN_TESTS / "conftest.py")
_dlt_sql = _load("floe_dlt_test_sql_fixtures", PLUGIN_TESTS / "integration" / "conftest.py")

ApiServer = _dlt_tests.ApiServer
api_server = _dlt_tests.api_server
sql_pg_schema = _dlt_sql.sql_pg_schema
sql_maria_db = _dlt_sql.sql_maria_db
PG_URL: str = _dlt_sql.PG_URL


@dataclass
class LinesServer:
    """A JSON-lines API keyed by ``id``: upserts, deletes, refuses lines, fails on request.

    Like Stripe's API it de-duplicates by ``Idempotency-Key``: a repeated key gets the stored
    answer. ``refuse_ids`` are answered as refused lines in a 200 (a partial success);
    ``fail_next(status, times, retry_after)`` answers ``status`` instead.
    """

    token: str = "acme-tok-7f3a91"
    url: str = ""
    rows: dict[Any, dict[str, Any]] = field(default_factory=dict)
    batch_sizes: list[int] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    refuse_ids: set[Any] = field(default_factory=set)
    failures: list[tuple[int, str | None]] = field(default_factory=list)
    answers: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, status: int, *, times: int = 1, retry_after: str | None = None) -> None:
        with self.lock:
            self.failures.extend([(status, retry_after)] * times)

    def handle(self, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {}, b'{"error": "unknown token"}'
        key = headers.get("Idempotency-Key")
        if key is None:  # the HEAD probe
            return 200, {}, b""
        with self.lock:
            self.keys.append(key)
            if self.failures:
                status, wait = self.failures.pop(0)
                return status, ({"Retry-After": wait} if wait else {}), b'{"error": "busy"}'
            if key in self.answers:
                return 200, {}, self.answers[key]
            records = [json.loads(line) for line in body.decode().splitlines()]
            rejected = []
            for line, record in enumerate(records):
                if record["id"] in self.refuse_ids:
                    rejected.append({"line": line, "reason": f"id {record['id']} is on hold"})
                elif headers.get("X-Operation") == "delete":
                    self.rows.pop(record["id"], None)
                else:
                    self.rows[record["id"]] = record
            self.batch_sizes.append(len(records))
            answer = json.dumps({"rejected": rejected}).encode()
            self.answers[key] = answer
            return 200, {}, answer


@pytest.fixture
def lines_server() -> Iterator[LinesServer]:
    """A fresh :class:`LinesServer` on 127.0.0.1 (``url`` is set)."""
    api = LinesServer()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            status, headers, body = api.handle(self.headers, self.rfile.read(length))
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_POST = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    api.url = f"http://127.0.0.1:{server.server_address[1]}/v1/lines"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
