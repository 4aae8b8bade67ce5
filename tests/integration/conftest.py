"""Fixtures for end-to-end egress tests: a project on disk with a real Iceberg SQL catalog,
a recording HTTP server on 127.0.0.1, a Polaris-like Iceberg REST catalog on 127.0.0.1, a fresh
PostgreSQL schema, and the ``floe`` CLI.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import psycopg
import pytest
from floe_core.cli.app import app
from floe_core.demo.data import create_customers_table
from floe_core.iceberg.source import IcebergSource
from typer.testing import CliRunner, Result

REPO = Path(__file__).resolve().parents[2]


def _load_rest_catalog_fixture() -> Any:
    """Import ``rest_catalog/`` as ``floe_test_rest_catalog`` (test folders are not packages,
    and the file IO the catalog vends must be importable by name)."""
    name, folder = "floe_test_rest_catalog", Path(__file__).with_name("rest_catalog")
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


rest_catalog_fixture = _load_rest_catalog_fixture()
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"


# --- HTTP destination -------------------------------------------------------------------


@dataclass
class Recorder:
    """A JSON endpoint that keeps every request; ``token`` is the bearer token it accepts."""

    url: str = ""
    token: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_with: int | None = None
    reject_ids: set[int] = field(default_factory=set)
    echo_headers_on_error: bool = False
    echo_on_error: str = ""  # put as is in the "detail" of every error body
    delay: float = 0.0  # seconds to wait before answering each data request
    gate: threading.Event = field(default_factory=threading.Event)  # data requests wait for it
    waiting: int = 0  # data requests received and not yet answered
    accept_limit: int | None = None  # data requests beyond this many are answered 503...
    hang_over_limit: bool = False  # ...or, when set, not answered until ``release_hung`` is set
    release_hung: threading.Event = field(default_factory=threading.Event)
    _accepted: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every record received in a data request (array bodies), in arrival order."""
        rows: list[dict[str, Any]] = []
        for request in self.requests:
            if request["method"] in {"POST", "PUT", "PATCH"}:
                rows.extend(request["body"])
        return rows


@pytest.fixture
def http_server() -> Iterator[Recorder]:
    recorder = Recorder()
    recorder.gate.set()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, payload: Any) -> None:
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(raw)

        def _refuse(self, status: int, error: str) -> None:
            answer: dict[str, Any] = {"error": error}
            if recorder.echo_on_error:
                answer["detail"] = recorder.echo_on_error
            if recorder.echo_headers_on_error:
                answer["headers"] = dict(self.headers)
            self._answer(status, answer)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if recorder.token and self.headers.get("Authorization") != f"Bearer {recorder.token}":
                self._refuse(401, "unauthorized")
                return
            if self.command in {"POST", "PUT", "PATCH"}:
                with recorder.lock:
                    over = recorder.accept_limit is not None and (
                        recorder._accepted >= recorder.accept_limit
                    )
                    recorder._accepted += 0 if over else 1
                if over:
                    if recorder.hang_over_limit:
                        with recorder.lock:
                            recorder.waiting += 1
                        recorder.release_hung.wait()
                    self._refuse(503, "unavailable")
                    return
                with recorder.lock:
                    recorder.waiting += 1
                recorder.gate.wait()
                with recorder.lock:
                    recorder.waiting -= 1
                if recorder.delay:
                    time.sleep(recorder.delay)
                if recorder.fail_with is not None:
                    self._refuse(recorder.fail_with, "refused")
                    return
                body = json.loads(raw)
                if any(r.get("customer_id") in recorder.reject_ids for r in body):
                    self._refuse(400, "customer refused")
                    return
                with recorder.lock:
                    recorder.requests.append(
                        {
                            "method": self.command,
                            "path": self.path,
                            "headers": dict(self.headers),
                            "body": body,
                            "bytes": len(raw),
                        }
                    )
            self._answer(200, {"ok": True})

        do_POST = do_PUT = do_PATCH = do_GET = do_HEAD = _handle

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        recorder.release_hung.set()
        server.shutdown()
        server.server_close()


# --- Iceberg REST catalog ------------------------------------------------------------------


@pytest.fixture
def rest_catalog(tmp_path: Path) -> Iterator[Any]:
    """A running ``RestCatalogServer``; every answer it gave must conform to the REST spec."""
    server = rest_catalog_fixture.RestCatalogServer(tmp_path / "polaris")
    with server.running():
        yield server
    assert server.violations == [], "answers outside the Iceberg REST OpenAPI spec"


# --- PostgreSQL ---------------------------------------------------------------------------


def pg_rows(schema: str, table: str, order_by: str) -> list[dict[str, Any]]:
    """Every row of ``schema.table`` as dicts."""
    with psycopg.connect(PG_DSN) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(f'SELECT * FROM "{schema}"."{table}" ORDER BY "{order_by}"')
        return list(cur.fetchall())


# --- a CRM-shaped API that keeps its contacts ---------------------------------------------
#
# - ``POST /contacts``: a JSON array of records, each created or replaced by ``id`` (upsert);
# - ``POST /contacts/batch/create``: ``{"inputs": [...]}``; a record whose ``id`` exists
#   already is refused in ``{"errors": [{"id": ..., "message": ...}]}`` (HTTP 207);
# - ``PATCH /contacts/{id}``: one record's fields changed; 404 when there is no such contact;
# - ``DELETE /contacts/{id}``: 204; 404 when there is no such contact;
# - ``POST /contacts/batch/archive``: ``{"inputs": [{"id": ...}, ...]}``, deleted; 204;
# - ``HEAD`` / ``GET``: 200 (the sink's probe).


@dataclass
class ContactsApi:
    """The API's state (see the module docstring)."""

    url: str = ""
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def calls(self, method: str, prefix: str = "") -> list[tuple[str, str, Any]]:
        """The requests with ``method`` whose path starts with ``prefix``."""
        with self.lock:
            return [r for r in self.requests if r[0] == method and r[1].startswith(prefix)]

    def handle(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        """The answer to one request: (status, JSON body or ``None``)."""
        with self.lock:
            if method in ("HEAD", "GET"):
                return 200, {"ok": True}
            self.requests.append((method, path, body))
            if method == "POST" and path == "/contacts":
                for record in body:
                    self.contacts[str(record["id"])] = record
                return 200, {"ok": True}
            if method == "POST" and path == "/contacts/batch/create":
                errors = []
                for record in body["inputs"]:
                    key = str(record["id"])
                    if key in self.contacts:
                        errors.append({"id": record["id"], "message": "contact exists"})
                    else:
                        self.contacts[key] = record
                return (207 if errors else 200), {"errors": errors}
            if method == "POST" and path == "/contacts/batch/archive":
                for record in body["inputs"]:
                    self.contacts.pop(str(record["id"]), None)
                return 204, None
            if path.startswith("/contacts/"):
                key = unquote(path.removeprefix("/contacts/"))
                if key not in self.contacts:
                    return 404, {"error": f"no contact {key}"}
                if method == "PATCH":
                    self.contacts[key].update(body)
                    return 200, self.contacts[key]
                if method == "DELETE":
                    del self.contacts[key]
                    return 204, None
            return 405, {"error": f"{method} {path} is not supported"}


@contextmanager
def serving_contacts(host: str = "127.0.0.1") -> Iterator[ContactsApi]:
    """A fresh :class:`ContactsApi` on a free port of ``host``, while the block runs."""
    api = ContactsApi()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            status, answer = api.handle(self.command, self.path, json.loads(raw) if raw else None)
            data = b"" if answer is None else json.dumps(answer).encode()
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_POST = do_PUT = do_PATCH = do_DELETE = do_GET = do_HEAD = _handle

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    api.url = f"http://{host}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def contacts() -> Iterator[ContactsApi]:
    """A fresh :class:`ContactsApi` on a free port (see ``test_egress_sync_rest``)."""
    with serving_contacts() as api:
        yield api


# --- Ray ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A local Ray with 2 CPUs for the module, shut down after it; its session directory
    (logs, spilled objects)."""
    from floe_core.executors.ray import import_ray

    ray = import_ray()  # as a run imports it: workers in this environment, not through uv
    temp_dir = tmp_path_factory.mktemp("ray")
    ray.init(
        _temp_dir=str(temp_dir),
        address="local",  # a new cluster of its own, whatever else runs on the machine
        num_cpus=2,
        _node_ip_address="127.0.0.1",
        include_dashboard=False,
        log_to_driver=False,
        # Its agents start slowly on a busy 2-core machine: wait for them longer than 30 s.
        _system_config={"agent_register_timeout_ms": 180_000},
    )
    try:
        yield temp_dir
    finally:
        ray.shutdown()


# --- project ------------------------------------------------------------------------------


@dataclass
class FloeProject:
    """A data product directory: floe.yaml, manifest.yaml, secrets/ and an Iceberg catalog."""

    root: Path
    catalog: dict[str, Any]
    catalog_yaml: str = (
        "catalog:\n  type: sql\n  name: it\n  uri: sqlite:///.floe/catalog.db\n"
        "  warehouse: .floe/warehouse\n"
    )

    def write(self, destinations: str, *, manifest_extra: str = "") -> None:
        (self.root / "floe.yaml").write_text(
            "apiVersion: floe.dev/v1\nkind: FloeSpec\nmetadata: {name: it, version: 1.0.0}\n"
            "destinations:\n" + textwrap.indent(textwrap.dedent(destinations), "  "),
            encoding="utf-8",
        )
        (self.root / "manifest.yaml").write_text(
            "apiVersion: floe.dev/v1\nkind: Manifest\nmetadata: {name: it}\n"
            + self.catalog_yaml
            + textwrap.dedent(manifest_extra),
            encoding="utf-8",
        )

    def secret(self, name: str, **keys: str) -> None:
        folder = self.root / "secrets" / name
        folder.mkdir(parents=True, exist_ok=True)
        for key, value in keys.items():
            (folder / key).write_text(value, encoding="utf-8")

    @property
    def spec(self) -> str:
        return str(self.root / "floe.yaml")

    def cli(self, *args: str, env: dict[str, str] | None = None) -> Result:
        """Run ``floe`` in-process (typer's CliRunner)."""
        return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)

    def source_rows(self, table: str = "gold.customers") -> list[dict[str, Any]]:
        with IcebergSource(self.catalog, table) as source:
            rows: list[dict[str, Any]] = (
                source.batches().read_all().sort_by("customer_id").to_pylist()
            )
        return rows


def floe_process(
    *args: str, cwd: Path = REPO, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """Start the installed ``floe`` console script in a fresh process, without waiting."""
    floe = Path(sys.executable).with_name("floe")
    return subprocess.Popen(
        [str(floe), *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def wait_for(condition: Any, what: str, timeout: float = 120.0) -> None:
    """Poll ``condition()`` until it is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def run_floe(
    *args: str, cwd: Path = REPO, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``floe`` console script in a fresh process."""
    floe = Path(sys.executable).with_name("floe")
    return subprocess.run(
        [str(floe), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
        check=False,
    )


@pytest.fixture
def make_project(tmp_path: Path) -> Any:
    """``make_project(rows)``: a project whose catalog holds ``rows`` generated customers."""

    def build(rows: int = 200, name: str = "proj") -> FloeProject:
        root = tmp_path / name
        root.mkdir()
        catalog = {
            "type": "sql",
            "name": "it",
            "uri": f"sqlite:///{root / '.floe' / 'catalog.db'}",
            "warehouse": (root / ".floe" / "warehouse").as_uri(),
        }
        create_customers_table(catalog, rows=rows)
        return FloeProject(root, catalog)

    return build


@pytest.fixture
def make_rest_project(tmp_path: Path, rest_catalog: Any) -> Any:
    """``make_rest_project(rows)``: a project reading ``gold.customers`` through the REST catalog.

    The table is written through the REST catalog itself; the manifest names the catalog's
    uri, warehouse and scope, and the Secret ``polaris-reader`` holds the client credentials.
    """

    def build(rows: int = 200, name: str = "proj") -> FloeProject:
        root = tmp_path / name
        root.mkdir()
        catalog = rest_catalog.catalog_config()
        create_customers_table(catalog, rows=rows)
        project = FloeProject(
            root,
            catalog,
            catalog_yaml=(
                f"catalog:\n  type: rest\n  name: polaris\n  uri: {catalog['uri']}\n"
                f"  warehouse: {catalog['warehouse']}\n  scope: {catalog['scope']}\n"
                "  credential_secret_ref: polaris-reader\n"
            ),
        )
        project.secret(
            "polaris-reader",
            client_id=rest_catalog.client_id,
            client_secret=rest_catalog.client_secret,
        )
        return project

    return build


def as_json_value(value: Any) -> Any:
    """How the rest_api sink encodes a Python value read from Arrow."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def json_receipts(result: Result | subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    """The receipts printed by ``floe egress run --json`` (in the documented envelope)."""
    from floe_core.schemas.cli_output import CliOutput

    output = json.loads(result.stdout)
    CliOutput.model_validate(output)
    return list(output["receipts"])


@pytest.fixture
def spans() -> Iterator[Any]:
    """Every span finished while the test runs (an in-memory exporter on the SDK provider)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    yield exporter
    processor.shutdown()


@dataclass(frozen=True)
class Helpers:
    """Helper functions for the tests (test modules cannot import conftest directly)."""

    pg_url: str = PG_URL
    pg_dsn: str = PG_DSN

    pg_rows = staticmethod(pg_rows)
    run_floe = staticmethod(run_floe)
    floe_process = staticmethod(floe_process)
    wait_for = staticmethod(wait_for)
    as_json_value = staticmethod(as_json_value)
    json_receipts = staticmethod(json_receipts)


@pytest.fixture
def h() -> Helpers:
    """Helper functions: ``h.pg_rows``, ``h.run_floe``, ``h.json_receipts``, ..."""
    return Helpers()
