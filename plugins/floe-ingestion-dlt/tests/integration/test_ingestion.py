"""Ingestion for real: dlt sources (a local HTTP API, SQLite/PostgreSQL tables, local files) into
Iceberg tables of a pyiceberg SQL catalog on SQLite, read back with floe's IcebergSource."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from floe_core.iceberg.catalog import open_catalog
from floe_core.iceberg.source import IcebergSource
from floe_core.plugins.ingestion import IngestionConfig, IngestionResult
from floe_ingestion_dlt.ingestion.errors import IngestionError
from floe_ingestion_dlt.ingestion.pipeline import create_pipeline, get_destination_config, run

TOKEN = "tok-7f3a9c1e-secret"
PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"


@pytest.fixture(autouse=True)
def _no_dlt_telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    # dlt reports anonymous usage over the network by default; tests stay on loopback.
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")


@pytest.fixture
def catalog_config(tmp_path: Path) -> dict[str, Any]:
    return {
        "type": "sql",
        "name": "lake",
        "uri": str(tmp_path / "catalog.db"),
        "warehouse": str(tmp_path / "warehouse"),
    }


def read_table(catalog_config: dict[str, Any], table: str) -> list[dict[str, Any]]:
    with IcebergSource(catalog_config, table) as source:
        rows = source.batches().read_all().to_pylist()
    return sorted(rows, key=lambda row: row["id"])


def data_file_bytes(catalog_config: dict[str, Any], table: str) -> int:
    catalog = open_catalog(catalog_config)
    files = catalog.load_table(table).inspect.files()
    catalog.close()
    return sum(files["file_size_in_bytes"].to_pylist())


def ingest(
    config: IngestionConfig, catalog_config: dict[str, Any], **kwargs: Any
) -> IngestionResult:
    pipeline = create_pipeline(config, catalog_config, **kwargs)
    try:
        return run(pipeline)
    finally:
        pipeline.close()


# --- a paginated JSON API on 127.0.0.1 ---------------------------------------------------------


def customer(i: int, version: int = 0) -> dict[str, Any]:
    return {
        "id": i,
        "fullName": ["Zoë Müller", "José García", "李雷", "Siobhán O'Brien"][i % 4] + f" {i}",
        "plan": {"tier": "gold" if i % 3 == 0 else "free", "seats": i},
        "balance": round(i * 10.5 + version, 2),
        "updatedAt": f"2025-03-{1 + i % 28:02d}T12:00:00Z",
    }


@dataclass
class FakeApi:
    """Serves ``/customers?page=N`` (10 per page, ``next`` link) and records the requests."""

    records: list[dict[str, Any]]
    page_size: int = 10
    fail_page: int | None = None
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    base_url: str = ""


@pytest.fixture
def api() -> Iterator[FakeApi]:
    state = FakeApi(records=[customer(i) for i in range(1, 26)])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            state.requests.append((self.path, dict(self.headers)))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._send(401, {"error": "unauthorized"})
            if url.path != "/customers":
                return self._send(404, {"error": "not found"})
            page = int(parse_qs(url.query).get("page", ["1"])[0])
            if page == state.fail_page:
                return self._send(400, {"error": "bad page"})
            start = (page - 1) * state.page_size
            rows = state.records[start : start + state.page_size]
            more = start + state.page_size < len(state.records)
            next_url = f"{state.base_url}/customers?page={page + 1}" if more else None
            return self._send(200, {"data": rows, "next": next_url})

        def _send(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def rest_config(api: FakeApi, table: str = "raw.customers", **overrides: Any) -> IngestionConfig:
    source = {
        "base_url": api.base_url,
        "path": "/customers",
        "data_selector": "data",
        "paginator": {"type": "json_link", "next_url_path": "next"},
        "token": TOKEN,
    }
    source.update(overrides.pop("source", {}))
    return IngestionConfig(
        source_type="rest_api", source_config=source, destination_table=table, **overrides
    )


@pytest.mark.requirement("R5")
def test_rest_api_pages_land_in_iceberg(api: FakeApi, catalog_config: dict[str, Any]) -> None:
    result = ingest(rest_config(api), catalog_config)

    assert result.success and result.errors == []
    assert result.rows_loaded == 25
    assert result.bytes_written == data_file_bytes(catalog_config, "raw.customers") > 0
    assert result.duration_seconds > 0
    assert [path for path, _ in api.requests] == [
        "/customers",
        "/customers?page=2",
        "/customers?page=3",
    ]
    rows = read_table(catalog_config, "raw.customers")
    assert [row["id"] for row in rows] == list(range(1, 26))
    first = rows[0]
    assert first["full_name"] == "José García 1"  # dlt's snake_case naming
    assert json.loads(first["plan"]) == {"tier": "free", "seats": 1}  # nested data kept as JSON
    assert first["balance"] == 10.5
    assert first["updated_at"] == dt.datetime(2025, 3, 2, 12, tzinfo=dt.UTC)
    assert {row["full_name"] for row in rows} >= {"Zoë Müller 4", "李雷 2"}


@pytest.mark.requirement("R5")
def test_rest_api_merge_updates_in_place(api: FakeApi, catalog_config: dict[str, Any]) -> None:
    config = rest_config(api, write_mode="merge", primary_key="id")
    assert ingest(config, catalog_config).rows_loaded == 25

    api.records = [customer(i, version=1) if i <= 5 else customer(i) for i in range(1, 31)]
    api.records.append(customer(7, version=3))  # the same key twice in one run: the last wins
    second = ingest(config, catalog_config)

    assert second.rows_loaded == 11  # 6 changed + 5 new; the 19 unchanged rows are not rewritten
    rows = read_table(catalog_config, "raw.customers")
    assert [row["id"] for row in rows] == list(range(1, 31))
    assert rows[0]["balance"] == 11.5 and rows[9]["balance"] == 105.0
    assert rows[6]["balance"] == 76.5


@pytest.mark.requirement("R5")
def test_rest_api_refused_credentials(api: FakeApi, catalog_config: dict[str, Any]) -> None:
    config = rest_config(api, source={"token": "wrong-token-value"})
    with pytest.raises(IngestionError) as caught:
        ingest(config, catalog_config)
    assert "401" in str(caught.value)
    assert "credentials" in caught.value.hint
    assert "wrong-token-value" not in str(caught.value)
    catalog = open_catalog(catalog_config)
    assert not catalog.table_exists("raw.customers")


@pytest.mark.requirement("R5")
def test_a_failing_run_commits_nothing(api: FakeApi, catalog_config: dict[str, Any]) -> None:
    assert ingest(rest_config(api), catalog_config).rows_loaded == 25
    api.fail_page = 3
    with pytest.raises(IngestionError, match="400"):
        ingest(rest_config(api), catalog_config)
    assert len(read_table(catalog_config, "raw.customers")) == 25


# --- SQL databases -----------------------------------------------------------------------------


@pytest.fixture
def sqlite_source(tmp_path: Path) -> str:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, balance NUMERIC(12, 2), "
            "updated_at DATETIME, active BOOLEAN)"
        )
        conn.executemany(
            "INSERT INTO customers VALUES (?, ?, ?, ?, ?)",
            [
                (
                    i,
                    f"Ærøskøbing {i}" if i % 2 else None,
                    f"{i}.05",
                    f"2025-01-{i:02d} 08:30:00",
                    i % 2,
                )
                for i in range(1, 11)
            ],
        )
    return f"sqlite:///{path}"


def sql_config(url: str, table: str = "raw.customers", **overrides: Any) -> IngestionConfig:
    return IngestionConfig(
        source_type="sql_database",
        source_config={"url": url, "table": "customers", **overrides.pop("source", {})},
        destination_table=table,
        **overrides,
    )


@pytest.mark.requirement("R5")
def test_sqlite_table_lands_with_types(sqlite_source: str, catalog_config: dict[str, Any]) -> None:
    result = ingest(sql_config(sqlite_source), catalog_config)
    assert result.rows_loaded == 10
    with IcebergSource(catalog_config, "raw.customers") as source:
        assert source.schema.field("balance").type == pa.decimal128(12, 2)
        assert pa.types.is_timestamp(source.schema.field("updated_at").type)
    rows = read_table(catalog_config, "raw.customers")
    assert rows[0] == {
        "id": 1,
        "name": "Ærøskøbing 1",
        "balance": Decimal("1.05"),
        "updated_at": dt.datetime(2025, 1, 1, 8, 30),
        "active": True,
    }
    assert rows[1]["name"] is None and rows[1]["active"] is False


@pytest.mark.requirement("R5")
def test_replace_leaves_exactly_the_source(
    sqlite_source: str, catalog_config: dict[str, Any]
) -> None:
    config = sql_config(sqlite_source, write_mode="replace")
    ingest(config, catalog_config)
    with sqlite3.connect(sqlite_source.removeprefix("sqlite:///")) as conn:
        conn.execute("DELETE FROM customers WHERE id > 7")
    result = ingest(config, catalog_config)
    assert result.rows_loaded == 7
    assert [row["id"] for row in read_table(catalog_config, "raw.customers")] == list(range(1, 8))
    with sqlite3.connect(sqlite_source.removeprefix("sqlite:///")) as conn:
        conn.execute("DELETE FROM customers")
    assert ingest(config, catalog_config).rows_loaded == 0
    assert read_table(catalog_config, "raw.customers") == []


@pytest.mark.requirement("R5")
def test_incremental_cursor_loads_only_new_rows(
    sqlite_source: str, catalog_config: dict[str, Any]
) -> None:
    config = sql_config(sqlite_source, cursor_field="updated_at")
    assert ingest(config, catalog_config).rows_loaded == 10
    assert ingest(config, catalog_config).rows_loaded == 0
    with sqlite3.connect(sqlite_source.removeprefix("sqlite:///")) as conn:
        conn.execute("INSERT INTO customers VALUES (11, 'late', 1.00, '2025-02-01 00:00:00', 1)")
    assert ingest(config, catalog_config).rows_loaded == 1
    assert [row["id"] for row in read_table(catalog_config, "raw.customers")] == list(range(1, 12))


@pytest.fixture
def pg_source() -> Iterator[tuple[str, str]]:
    import psycopg

    schema = f"floe_src_{uuid.uuid4().hex[:10]}"
    try:
        conn = psycopg.connect(PG_DSN, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable on 127.0.0.1:5432 ({exc}); start it with "
            "`bash scripts/services.sh`"
        )
    with conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(
            f'CREATE TABLE "{schema}".customers (id bigint PRIMARY KEY, name text, '
            "balance numeric(12, 2), updated_at timestamptz, active boolean)"
        )
        conn.execute(
            f"INSERT INTO \"{schema}\".customers SELECT g, 'Ωmega ' || g, g * 1.25, "
            "timestamptz '2025-01-01 00:00:00+00' + g * interval '1 hour', g % 2 = 0 "
            "FROM generate_series(1, 500) AS g"
        )
        try:
            yield "postgresql+psycopg://postgres@127.0.0.1:5432/test", schema
        finally:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.mark.requirement("R5")
def test_postgresql_table_lands(pg_source: tuple[str, str], catalog_config: dict[str, Any]) -> None:
    url, schema = pg_source
    config = sql_config(url, source={"schema": schema, "chunk_size": 100})
    assert ingest(config, catalog_config).rows_loaded == 500
    rows = read_table(catalog_config, "raw.customers")
    assert rows[499] == {
        "id": 500,
        "name": "Ωmega 500",
        "balance": Decimal("625.00"),
        "updated_at": dt.datetime(2025, 1, 21, 20, tzinfo=dt.UTC),
        "active": True,
    }


def test_unreachable_database_error_hides_the_password(catalog_config: dict[str, Any]) -> None:
    url = "postgresql+psycopg://floe:pw-9d8e7f6a@127.0.0.1:9/test"
    with pytest.raises(IngestionError) as caught:
        ingest(sql_config(url), catalog_config)
    assert "sql_database source could not be opened" in str(caught.value)
    assert "Connection refused" in str(caught.value)
    assert "pw-9d8e7f6a" not in str(caught.value)
    assert "database" in caught.value.hint


# --- local files -------------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    rows = [
        {"id": i, "city": ["Kraków", "Zürich", "東京"][i % 3], "score": i / 4} for i in range(1, 7)
    ]
    (folder / "part1.csv").write_text(
        "id,city,score\n" + "".join(f"{r['id']},{r['city']},{r['score']}\n" for r in rows[:3]),
        encoding="utf-8",
    )
    (folder / "part2.csv").write_text(
        "id,city,score\n" + "".join(f"{r['id']},{r['city']},{r['score']}\n" for r in rows[3:]),
        encoding="utf-8",
    )
    pq.write_table(pa.Table.from_pylist(rows[:3]), folder / "part1.parquet")
    pq.write_table(pa.Table.from_pylist(rows[3:]), folder / "part2.parquet")
    (folder / "all.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return folder


@pytest.mark.parametrize("glob", ["*.csv", "*.parquet", "*.jsonl"])
@pytest.mark.requirement("R5")
def test_local_files_land(files: Path, catalog_config: dict[str, Any], glob: str) -> None:
    config = IngestionConfig(
        source_type="filesystem",
        source_config={"path": str(files), "file_glob": glob},
        destination_table="raw.cities",
    )
    assert ingest(config, catalog_config).rows_loaded == 6
    rows = read_table(catalog_config, "raw.cities")
    assert [(r["id"], r["city"], r["score"]) for r in rows] == [
        (i, ["Kraków", "Zürich", "東京"][i % 3], i / 4) for i in range(1, 7)
    ]


def test_working_files_are_removed(
    files: Path, catalog_config: dict[str, Any], tmp_path: Path
) -> None:
    config = IngestionConfig(
        source_type="filesystem",
        source_config={"path": str(files), "file_glob": "*.parquet"},
        destination_table="raw.cities",
    )
    work = tmp_path / "dlt-work"
    ingest(config, catalog_config, pipelines_dir=work)
    ingest(config, catalog_config, pipelines_dir=work)
    assert list(work.rglob("*.parquet")) == []
    assert len(read_table(catalog_config, "raw.cities")) == 12


# --- schema contracts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("contract", "columns", "rows_added"),
    [
        ("evolve", {"id", "name", "balance", "updated_at", "active"}, 10),
        ("discard_value", {"id", "name"}, 10),
        ("discard_row", {"id", "name"}, 0),  # every source row carries the new columns
    ],
)
def test_new_source_columns_follow_the_schema_contract(
    sqlite_source: str,
    catalog_config: dict[str, Any],
    contract: str,
    columns: set[str],
    rows_added: int,
) -> None:
    narrow = sql_config(sqlite_source, source={"included_columns": ["id", "name"]})
    ingest(narrow, catalog_config)
    result = ingest(sql_config(sqlite_source, schema_contract=contract), catalog_config)
    assert result.rows_loaded == rows_added
    rows = read_table(catalog_config, "raw.customers")
    assert len(rows) == 10 + rows_added
    assert set(rows[0]) == columns


def test_frozen_schema_refuses_new_columns(
    sqlite_source: str, catalog_config: dict[str, Any]
) -> None:
    ingest(sql_config(sqlite_source, source={"included_columns": ["id", "name"]}), catalog_config)
    with pytest.raises(IngestionError, match=r"balance, updated_at, active.*'freeze'"):
        ingest(sql_config(sqlite_source, schema_contract="freeze"), catalog_config)
    assert len(read_table(catalog_config, "raw.customers")) == 10


# --- configuration errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            IngestionConfig("ftp", {}, "raw.t"),
            "unknown source type 'ftp'",
        ),
        (
            IngestionConfig(
                "rest_api", {"base_url": "http://x", "path": "/a", "verb": "GET"}, "raw.t"
            ),
            "verb: Extra inputs are not permitted",
        ),
        (
            IngestionConfig("rest_api", {"base_url": "ftp://x", "path": "/a"}, "raw.t"),
            "base_url",
        ),
        (
            IngestionConfig("sql_database", {"url": "sqlite:///x.db"}, "raw.t"),
            "table: Field required",
        ),
        (
            IngestionConfig("filesystem", {"path": "/no/such/folder", "format": "csv"}, "raw.t"),
            "does not exist",
        ),
        (
            IngestionConfig("filesystem", {"path": ".", "file_glob": "*"}, "raw.t"),
            "cannot tell the file format",
        ),
        (
            IngestionConfig(
                "sql_database", {"url": "sqlite:///x.db", "table": "t"}, "raw.t", "merge"
            ),
            "'merge' needs a primary key",
        ),
        (
            IngestionConfig(
                "sql_database",
                {"url": "sqlite:///x.db", "table": "t"},
                "raw.t",
                schema_contract="loose",
            ),
            "schema contract 'loose' is not supported",
        ),
    ],
)
def test_bad_configs_fail_before_anything_runs(
    config: IngestionConfig, expected: str, catalog_config: dict[str, Any]
) -> None:
    with pytest.raises(IngestionError) as caught:
        create_pipeline(config, catalog_config)
    assert expected in str(caught.value)


def test_secrets_never_appear_in_config_errors(catalog_config: dict[str, Any]) -> None:
    config = IngestionConfig(
        "rest_api",
        {"base_url": "http://x", "path": "/a", "token": TOKEN, "api_key": TOKEN},
        "raw.t",
    )
    with pytest.raises(IngestionError, match="one kind of credentials") as caught:
        create_pipeline(config, catalog_config)
    assert TOKEN not in str(caught.value)


def test_run_refuses_unknown_options(sqlite_source: str, catalog_config: dict[str, Any]) -> None:
    pipeline = create_pipeline(sql_config(sqlite_source), catalog_config)
    with pytest.raises(IngestionError, match="takes no options, got table_name"):
        run(pipeline, table_name="other")
    pipeline.close()


def test_destination_config_for_dlt(catalog_config: dict[str, Any], tmp_path: Path) -> None:
    settings = get_destination_config(catalog_config)
    assert settings == {
        "iceberg_catalog_name": "lake",
        "iceberg_catalog_type": "sql",
        "iceberg_catalog_config": {
            "type": "sql",
            "uri": f"sqlite:///{tmp_path / 'catalog.db'}",
            "warehouse": (tmp_path / "warehouse").as_uri(),
        },
        "bucket_url": (tmp_path / "warehouse").as_uri(),
    }


# --- pyiceberg's own catalog configuration -----------------------------------------------------

DEFAULT_CATALOG_SCRIPT = """
from floe_core.plugins.ingestion import IngestionConfig
from floe_ingestion_dlt.ingestion.pipeline import create_pipeline, run
import sys
config = IngestionConfig(
    "filesystem", {"path": sys.argv[1], "file_glob": "*.parquet"}, "raw.cities"
)
print(run(create_pipeline(config)).rows_loaded)
"""


@pytest.mark.requirement("R5")
def test_without_catalog_config_pyicebergs_default_catalog_is_used(
    files: Path, catalog_config: dict[str, Any], tmp_path: Path
) -> None:
    # pyiceberg reads its environment once, when imported: hence a fresh process.
    env = {
        **os.environ,
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "PYICEBERG_CATALOG__DEFAULT__TYPE": "sql",
        "PYICEBERG_CATALOG__DEFAULT__URI": f"sqlite:///{tmp_path / 'catalog.db'}",
        "PYICEBERG_CATALOG__DEFAULT__WAREHOUSE": (tmp_path / "warehouse").as_uri(),
    }
    done = subprocess.run(
        [sys.executable, "-c", DEFAULT_CATALOG_SCRIPT, str(files)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "6"
    default_catalog = {**catalog_config, "name": "default"}
    assert len(read_table(default_catalog, "raw.cities")) == 6


def test_without_any_catalog_the_error_says_how_to_configure_one(files: Path) -> None:
    config = IngestionConfig("filesystem", {"path": str(files), "format": "csv"}, "raw.cities")
    with pytest.raises(IngestionError) as caught:
        create_pipeline(config)
    assert "no Iceberg catalog given" in str(caught.value)
    assert "PYICEBERG_CATALOG__DEFAULT__" in caught.value.hint
