"""Fixtures: floe projects with a real Iceberg catalog, a REST API on 127.0.0.1, and floe assets.

Dagster reads the annotations of an asset function when it is decorated (the run config's
class, the resource's), so this module does not use ``from __future__ import annotations``.
"""

import json
import shutil
import textwrap
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa
from floe_core.demo.data import create_customers_table
from floe_core.iceberg.source import IcebergSource
from floe_orchestrator_dagster import FloeResource, FloeRunConfig, floe_assets

REPO = Path(__file__).resolve().parents[4]
QUICKSTART = REPO / "examples" / "quickstart"


@dataclass
class Project:
    """A floe project directory with an embedded Iceberg catalog holding ``gold.customers``."""

    root: Path
    catalog: dict[str, Any]

    def resource(self, **settings: Any) -> FloeResource:
        return FloeResource(project_dir=str(self.root), **settings)

    def secret(self, name: str, **keys: str) -> None:
        folder = self.root / "secrets" / name
        folder.mkdir(parents=True, exist_ok=True)
        for key, value in keys.items():
            (folder / key).write_text(value, encoding="utf-8")

    def write(self, destinations: str) -> None:
        """Replace floe.yaml's destinations (the manifest is the quickstart's)."""
        (self.root / "floe.yaml").write_text(
            "apiVersion: floe.dev/v1\nkind: FloeSpec\n"
            "metadata: {name: orchestrated, version: 1.0.0, owner: crm-team}\n"
            "destinations:\n" + textwrap.indent(textwrap.dedent(destinations), "  "),
            encoding="utf-8",
        )

    def source_rows(self, row_filter: str | None = None) -> list[dict[str, Any]]:
        with IcebergSource(self.catalog, "gold.customers", row_filter=row_filter) as source:
            rows: list[dict[str, Any]] = source.batches().read_all().to_pylist()
        return rows

    def snapshot(self) -> int | None:
        with IcebergSource(self.catalog, "gold.customers") as source:
            return source.snapshot_id

    def append(self, rows: list[dict[str, Any]]) -> None:
        """Commit ``rows`` to ``gold.customers``: a new snapshot."""
        import pyarrow as pa
        from floe_core.demo.data import customers_schema
        from floe_core.iceberg.catalog import open_catalog

        catalog = open_catalog(self.catalog)
        try:
            table = catalog.load_table(("gold", "customers"))
            table.append(pa.Table.from_pylist(rows, schema=customers_schema()))
        finally:
            catalog.close()

    def delete(self, row_filter: str) -> None:
        """Delete the rows matching ``row_filter`` from ``gold.customers``: a new snapshot."""
        from floe_core.iceberg.catalog import open_catalog

        catalog = open_catalog(self.catalog)
        try:
            catalog.load_table(("gold", "customers")).delete(row_filter)
        finally:
            catalog.close()

    def destination_rows(self, table: str = "customers") -> list[dict[str, Any]]:
        """Rows of the quickstart's SQLite destination database."""
        engine = sa.create_engine(f"sqlite:///{self.root / '.floe' / 'quickstart.db'}")
        try:
            with engine.connect() as conn:
                if not sa.inspect(conn).has_table(table):
                    return []
                result = conn.execute(sa.text(f'SELECT * FROM "{table}"'))
                return [dict(row._mapping) for row in result]
        finally:
            engine.dispose()


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Project]:
    """``make_project(rows)``: the quickstart project (floe.yaml, manifest, Secret) in a
    fresh directory, its Iceberg table filled with ``rows`` generated customers."""

    def build(rows: int = 200) -> Project:
        root = tmp_path / f"project-{uuid.uuid4().hex[:8]}"
        shutil.copytree(QUICKSTART, root, ignore=shutil.ignore_patterns(".floe"))
        catalog = {
            "type": "sql",
            "name": "quickstart",
            "uri": f"sqlite:///{root / '.floe' / 'catalog.db'}",
            "warehouse": (root / ".floe" / "warehouse").as_uri(),
        }
        create_customers_table(catalog, rows=rows)
        return Project(root, catalog)

    return build


@pytest.fixture
def define_assets() -> Callable[..., dg.AssetsDefinition]:
    """``define_assets(project, **floe_assets_kwargs)``: the project's floe assets, whose body
    runs ``floe.run(context, config)`` (with ``row_filter=`` when given)."""

    def define(project: Project, row_filter: Any = None, **kwargs: Any) -> dg.AssetsDefinition:
        options = {"row_filter": row_filter} if row_filter is not None else {}

        @floe_assets(project_dir=project.root, **kwargs)
        def floe_project(
            context: dg.AssetExecutionContext, floe: FloeResource, config: FloeRunConfig
        ) -> Iterator[dg.MaterializeResult[Any]]:
            yield from floe.run(context, config, **options)

        return floe_project

    return define


def materializations(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    """Asset key -> metadata values of each materialization of a run."""
    found = {}
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        found[materialization.asset_key.to_user_string()] = {
            key: value.value for key, value in materialization.metadata.items()
        }
    return found


@pytest.fixture
def metadata_of() -> Callable[[dg.ExecuteInProcessResult], dict[str, dict[str, Any]]]:
    return materializations


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    """What the failed step says: its failure's description and error message."""
    parts = []
    for event in result.get_step_failure_events():
        data = event.step_failure_data
        if data.user_failure_data is not None and data.user_failure_data.description:
            parts.append(data.user_failure_data.description)
        if data.error is not None:
            parts.append(data.error.to_string())
    return "\n".join(parts)


@pytest.fixture
def failure_of() -> Callable[[dg.ExecuteInProcessResult], str]:
    return failure_text


# --- a REST API on 127.0.0.1 -----------------------------------------------------------------


@dataclass
class Api:
    """A JSON endpoint keeping every record POSTed to it; data requests wait for ``gate``."""

    url: str = ""
    records: list[dict[str, Any]] = field(default_factory=list)
    in_flight: Counter[str] = field(default_factory=Counter)  # countries of held batches
    fail_with: int | None = None
    echo_on_error: str = ""
    gate: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def countries_in_flight(self) -> set[str]:
        """The ``country`` values of the batches received and not answered yet."""
        with self.lock:
            return {country for country, count in self.in_flight.items() if count}


@pytest.fixture
def api() -> Iterator[Api]:
    recorder = Api()
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

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if self.command != "POST":
                self._answer(200, {"ok": True})
                return
            countries = Counter(str(record.get("country")) for record in json.loads(raw))
            with recorder.lock:
                recorder.in_flight.update(countries)
            try:
                recorder.gate.wait(timeout=60)
                if recorder.fail_with is not None:
                    self._answer(recorder.fail_with, {"error": recorder.echo_on_error})
                    return
                with recorder.lock:
                    recorder.records.extend(json.loads(raw))
                self._answer(200, {"ok": True})
            finally:
                with recorder.lock:
                    recorder.in_flight.subtract(countries)

        do_POST = do_GET = do_HEAD = _handle

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        recorder.gate.set()
        server.shutdown()
        server.server_close()
