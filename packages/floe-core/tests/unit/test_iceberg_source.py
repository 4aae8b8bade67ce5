"""IcebergSource and catalog properties against real pyiceberg SQL catalogs (SQLite, PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import http.server
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from floe_core.errors import NoSuchSourceTableError, SourceError
from floe_core.iceberg.catalog import catalog_properties, open_catalog
from floe_core.iceberg.source import IcebergSource

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SECRET = "s3cr3t-client-value"

ROWS = pa.table(
    {
        "customer_id": pa.array([1, 2, 3, 4], pa.int64()),
        "name": pa.array(["Zoë", "José", None, "李雷"], pa.string()),
        "country": pa.array(["DE", "ES", "US", "CN"], pa.string()),
        "lifetime_value": pa.array(
            [Decimal("10.50"), Decimal("99.99"), None, Decimal("1234.00")], pa.decimal128(12, 2)
        ),
        "is_active": pa.array([True, False, True, None], pa.bool_()),
        "last_order_at": pa.array(
            [dt.datetime(2025, 1, d, 12, tzinfo=dt.UTC) for d in (1, 2, 3, 4)],
            pa.timestamp("us", tz="UTC"),
        ),
    }
)


def shift_ids(table: pa.Table, offset: int) -> pa.Table:
    ids = pa.array([value + offset for value in table["customer_id"].to_pylist()], pa.int64())
    return table.set_column(0, "customer_id", ids)


@pytest.fixture
def catalog_config(tmp_path: Path) -> dict[str, Any]:
    return {
        "type": "sql",
        "name": "floe_test",
        "uri": str(tmp_path / "catalog" / "catalog.db"),
        "warehouse": str(tmp_path / "warehouse"),
    }


@pytest.fixture
def gold_customers(catalog_config: dict[str, Any]) -> dict[str, Any]:
    """gold.customers with 12 rows written by three appends (three data files)."""
    catalog = open_catalog(catalog_config, create=True)
    catalog.create_namespace("gold")
    table = catalog.create_table("gold.customers", ROWS.schema)
    for offset in (0, 10, 20):
        table.append(shift_ids(ROWS, offset))
    catalog.create_table("gold.orders", pa.schema([("order_id", pa.int64())]))
    catalog.close()
    return catalog_config


# --- catalog properties ------------------------------------------------------------------------


@pytest.mark.requirement("R9")
def test_sql_catalog_properties_turn_paths_into_urls(tmp_path: Path) -> None:
    props = catalog_properties(
        {"type": "sql", "uri": str(tmp_path / "c.db"), "warehouse": str(tmp_path / "wh")}
    )
    assert props == {
        "type": "sql",
        "uri": f"sqlite:///{tmp_path / 'c.db'}",
        "warehouse": (tmp_path / "wh").as_uri(),
    }


@pytest.mark.requirement("R9")
def test_sql_catalog_properties_keep_database_urls() -> None:
    props = catalog_properties(
        {"type": "sql", "uri": "postgres://floe@db/iceberg", "warehouse": "s3://bucket/wh"}
    )
    assert props == {
        "type": "sql",
        "uri": "postgresql://floe@db/iceberg",
        "warehouse": "s3://bucket/wh",
    }
    assert catalog_properties({"type": "sql", "uri": PG_URL})["uri"] == PG_URL


@pytest.mark.requirement("R9")
def test_rest_catalog_properties_for_polaris() -> None:
    props = catalog_properties(
        {
            "type": "rest",
            "name": "polaris",
            "uri": "https://polaris.example.com/api/catalog",
            "warehouse": "gold_warehouse",
            "client_id": "floe-reader",
            "client_secret": SECRET,
            "oauth2_server_uri": "https://polaris.example.com/api/catalog/v1/oauth/tokens",
            "scope": "PRINCIPAL_ROLE:ALL",
            "properties": {"header.X-Iceberg-Access-Delegation": "vended-credentials", "ssl": True},
        }
    )
    assert props == {
        "type": "rest",
        "uri": "https://polaris.example.com/api/catalog",
        "warehouse": "gold_warehouse",
        "credential": f"floe-reader:{SECRET}",
        "oauth2-server-uri": "https://polaris.example.com/api/catalog/v1/oauth/tokens",
        "scope": "PRINCIPAL_ROLE:ALL",
        "header.X-Iceberg-Access-Delegation": "vended-credentials",
        "ssl": "true",
    }


@pytest.mark.requirement("R9")
def test_rest_token_endpoint_defaults_to_the_spec_path() -> None:
    props = catalog_properties(
        {
            "type": "rest",
            "uri": "http://polaris:8181/api/catalog/",
            "client_id": "a",
            "client_secret": "b",
        }
    )
    assert props["oauth2-server-uri"] == "http://polaris:8181/api/catalog/v1/oauth/tokens"
    assert "oauth2-server-uri" not in catalog_properties(
        {"type": "rest", "uri": "http://polaris:8181"}
    )


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"type": "hive", "uri": "thrift://x"}, "catalog type 'hive' is not supported"),
        ({"type": "sql"}, "has no uri"),
        ({"type": "sql", "uri": "c.db", "endpoint": "x"}, "unknown catalog setting(s): endpoint"),
        ({"type": "rest", "uri": "polaris:8181"}, "is not an http(s) URL"),
        ({"type": "rest", "uri": "http://p", "client_secret": SECRET}, "lack client_id"),
        ({"type": "rest", "uri": "http://p", "client_id": "me"}, "lack client_secret"),
        ({"type": "rest", "uri": "http://p", "properties": {"uri": "x"}}, "already sets"),
        ({"type": "sql", "uri": "c.db", "client_id": "me"}, "only used by a 'rest' catalog"),
        (
            {"type": "rest", "uri": "http://p", "credential_secret_ref": "polaris-creds"},
            "'polaris-creds' was not resolved",
        ),
    ],
)
@pytest.mark.requirement("R9")
def test_bad_catalog_config_is_named(config: dict[str, Any], expected: str) -> None:
    with pytest.raises(SourceError) as caught:
        catalog_properties(config)
    assert expected in str(caught.value)
    assert SECRET not in str(caught.value)


# --- reading -----------------------------------------------------------------------------------


def test_a_table_in_a_nested_namespace_is_read(catalog_config: dict[str, Any]) -> None:
    # Why floe validate accepts source_table: lake.gold.customers (namespace (lake, gold)).
    catalog = open_catalog(catalog_config, create=True)
    catalog.create_namespace(("lake", "gold"))
    catalog.create_table("lake.gold.customers", ROWS.schema).append(ROWS)
    catalog.close()
    with IcebergSource(catalog_config, "lake.gold.customers") as source:
        assert source.batches().read_all().num_rows == ROWS.num_rows


@pytest.mark.requirement("R9")
def test_reads_every_row_and_value(gold_customers: dict[str, Any]) -> None:
    with IcebergSource(gold_customers, "gold.customers") as source:
        assert source.row_count == 12
        assert source.snapshot_id is not None
        assert source.columns == ROWS.column_names
        table = source.batches().read_all()
    assert table.num_rows == 12
    assert table.schema.equals(source.schema)
    rows = sorted(table.to_pylist(), key=lambda row: row["customer_id"])
    assert rows[:4] == ROWS.to_pylist()
    assert [row["customer_id"] for row in rows] == [1, 2, 3, 4, 11, 12, 13, 14, 21, 22, 23, 24]


@pytest.mark.requirement("R9")
def test_streams_one_batch_per_data_file(gold_customers: dict[str, Any]) -> None:
    with IcebergSource(gold_customers, "gold.customers") as source:
        reader = source.batches()
        sizes = [batch.num_rows for batch in reader]
    assert sizes == [4, 4, 4]


@pytest.mark.requirement("R9")
def test_projection_returns_only_requested_columns_in_requested_order(
    gold_customers: dict[str, Any],
) -> None:
    with IcebergSource(gold_customers, "gold.customers") as source:
        reader = source.batches(columns=["country", "customer_id"])
        assert reader.schema.names == ["country", "customer_id"]
        table = reader.read_all()
    assert table.column_names == ["country", "customer_id"]
    assert sorted(table.to_pylist(), key=lambda r: r["customer_id"])[:2] == [
        {"country": "DE", "customer_id": 1},
        {"country": "ES", "customer_id": 2},
    ]


def test_a_source_of_some_columns_reads_and_describes_only_them(
    gold_customers: dict[str, Any],
) -> None:
    with IcebergSource(gold_customers, "gold.customers", columns=["country", "customer_id"]) as s:
        assert s.columns == ["country", "customer_id"]
        assert s.schema.names == ["country", "customer_id"]
        table = s.batches().read_all()
        keys = s.batches(columns=["customer_id"]).read_all()
    assert table.column_names == ["country", "customer_id"] and table.num_rows == 12
    assert keys.column_names == ["customer_id"]


def test_a_source_without_some_columns(gold_customers: dict[str, Any]) -> None:
    left_out = ["name", "lifetime_value"]
    with IcebergSource(gold_customers, "gold.customers", exclude_columns=left_out) as source:
        names = source.batches().read_all().column_names
        with pytest.raises(SourceError, match="has no column\\(s\\) 'name'"):
            source.batches(columns=["name"])
    assert names == ["customer_id", "country", "is_active", "last_order_at"]


def test_selecting_a_column_the_table_lacks_names_it(gold_customers: dict[str, Any]) -> None:
    with pytest.raises(SourceError) as caught:
        IcebergSource(gold_customers, "gold.customers", exclude_columns=["e_mail"])
    assert "exclude_columns names column(s) 'e_mail' that table 'gold.customers'" in str(
        caught.value
    )
    assert "customer_id, name, country" in caught.value.hint


@pytest.mark.requirement("R9")
def test_row_filter_is_applied(gold_customers: dict[str, Any]) -> None:
    with IcebergSource(gold_customers, "gold.customers") as source:
        table = source.batches(
            columns=["customer_id"], row_filter="is_active = true and customer_id > 10"
        ).read_all()
    assert sorted(table["customer_id"].to_pylist()) == [11, 13, 21, 23]


@pytest.mark.requirement("B12")
def test_a_source_opened_with_a_row_filter_is_only_the_matching_rows(
    gold_customers: dict[str, Any],
) -> None:
    with IcebergSource(gold_customers, "gold.customers", row_filter="country = 'DE'") as source:
        everything = source.batches(columns=["customer_id"]).read_all()
        narrowed = source.batches(row_filter="customer_id > 10").read_all()
        files = source.data_files() or []
        from_one_file = source.batches(files=files[:1]).read_all()
        assert source.row_count == 3
    assert sorted(everything["customer_id"].to_pylist()) == [1, 11, 21]
    assert sorted(narrowed["customer_id"].to_pylist()) == [11, 21]
    assert from_one_file.num_rows == 1
    assert set(from_one_file["country"].to_pylist()) == {"DE"}


def test_a_bad_source_row_filter_fails_when_the_source_is_opened(
    gold_customers: dict[str, Any],
) -> None:
    with pytest.raises(SourceError, match=r"does not fit table 'gold\.customers'"):
        IcebergSource(gold_customers, "gold.customers", row_filter="region = 'EU'")


@pytest.mark.requirement("R9")
def test_snapshot_is_pinned_when_opened(gold_customers: dict[str, Any]) -> None:
    with IcebergSource(gold_customers, "gold.customers") as source:
        catalog = open_catalog(gold_customers)
        catalog.load_table("gold.customers").append(shift_ids(ROWS, 100))
        catalog.close()
        assert source.batches().read_all().num_rows == 12
        assert source.row_count == 12
    with IcebergSource(gold_customers, "gold.customers") as reopened:
        assert reopened.row_count == 16


def test_empty_table_streams_nothing(gold_customers: dict[str, Any]) -> None:
    with IcebergSource(gold_customers, "gold.orders") as source:
        assert source.snapshot_id is None
        assert source.row_count == 0
        reader = source.batches()
        assert reader.schema.names == ["order_id"]
        assert reader.read_all().num_rows == 0


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.requirement("R9")
def test_missing_table_names_table_catalog_and_lists_tables(gold_customers: dict[str, Any]) -> None:
    with pytest.raises(NoSuchSourceTableError) as caught:
        IcebergSource(gold_customers, "gold.customer")
    message = str(caught.value)
    assert "table 'gold.customer' does not exist" in message
    assert "catalog 'floe_test'" in message
    assert "gold.customers" in caught.value.hint and "gold.orders" in caught.value.hint


def test_a_misspelt_table_or_column_gets_a_did_you_mean(gold_customers: dict[str, Any]) -> None:
    with pytest.raises(NoSuchSourceTableError) as table:
        IcebergSource(gold_customers, "gold.ordres")
    with pytest.raises(SourceError) as column:
        IcebergSource(gold_customers, "gold.customers", exclude_columns=["countri"])

    assert table.value.hint.startswith("did you mean 'gold.orders'? check source_table")
    assert column.value.hint.startswith("did you mean 'country'? columns of 'gold.customers'")


@pytest.mark.requirement("R9")
def test_missing_namespace_is_named(gold_customers: dict[str, Any]) -> None:
    with pytest.raises(NoSuchSourceTableError) as caught:
        IcebergSource(gold_customers, "silver.customers")
    assert "namespace 'silver'" in str(caught.value)
    assert "catalog 'floe_test'" in str(caught.value)
    assert "gold" in caught.value.hint


def test_a_catalog_name_the_database_does_not_hold_names_the_ones_it_does(
    gold_customers: dict[str, Any],
) -> None:
    renamed = {**gold_customers, "name": "quickstart"}  # the tables were made as floe_test

    with pytest.raises(NoSuchSourceTableError) as caught:
        IcebergSource(renamed, "gold.customers")

    assert "its database holds tables of catalog(s) 'floe_test'" in str(caught.value)
    assert "set catalog.name in manifest.yaml" in caught.value.hint
    assert "name: floe_test" in caught.value.hint


def test_a_catalog_holding_only_a_namespace_is_not_said_to_hold_tables(
    gold_customers: dict[str, Any],
) -> None:
    other = open_catalog({**gold_customers, "name": "other"})
    other.create_namespace("empty")
    other.close()

    with pytest.raises(NoSuchSourceTableError) as caught:
        IcebergSource({**gold_customers, "name": "third"}, "gold.customers")

    assert (
        "its database holds tables of catalog(s) 'floe_test', and only namespaces (no tables) "
        "of catalog(s) 'other'" in str(caught.value)
    )
    assert "name: floe_test" in caught.value.hint


def test_table_without_namespace_is_rejected(gold_customers: dict[str, Any]) -> None:
    with pytest.raises(SourceError, match=r"'namespace\.table'"):
        IcebergSource(gold_customers, "customers")


@pytest.mark.requirement("R9")
def test_missing_column_names_the_column_and_the_tables_columns(
    gold_customers: dict[str, Any],
) -> None:
    with (
        IcebergSource(gold_customers, "gold.customers") as source,
        pytest.raises(SourceError) as caught,
    ):
        source.batches(columns=["customer_id", "e_mail"])
    assert "has no column(s) 'e_mail'" in str(caught.value)
    assert "customer_id, name, country, lifetime_value" in caught.value.hint


def test_bad_row_filters_are_explained(gold_customers: dict[str, Any]) -> None:
    with IcebergSource(gold_customers, "gold.customers") as source:
        with pytest.raises(SourceError, match=r"does not fit table 'gold\.customers'") as caught:
            source.batches(row_filter="segment = 'champions'")
        assert "customer_id" in caught.value.hint
        with pytest.raises(SourceError, match="not a valid Iceberg expression"):
            source.batches(row_filter="customer_id >>> 3")


def test_missing_sqlite_catalog_is_not_created(tmp_path: Path) -> None:
    config = {"type": "sql", "name": "demo", "uri": str(tmp_path / "nope" / "catalog.db")}
    with pytest.raises(SourceError, match="does not exist: no file at") as caught:
        IcebergSource(config, "gold.customers")
    assert "catalog 'demo'" in str(caught.value)
    assert not (tmp_path / "nope").exists()
    assert "floe demo" not in caught.value.hint  # not the quickstart's catalog
    assert caught.value.hint.startswith("point catalog.uri in manifest.yaml at the SQLite file")


def test_only_the_quickstarts_missing_catalog_is_made_by_floe_demo(tmp_path: Path) -> None:
    config = {"type": "sql", "name": "quickstart", "uri": str(tmp_path / "catalog.db")}
    with pytest.raises(SourceError) as caught:
        IcebergSource(config, "gold.customers")
    assert caught.value.hint.startswith("run `floe demo` to create the quickstart catalog")


@pytest.mark.requirement("R9")
def test_unreachable_rest_catalog_is_a_source_error_without_the_secret() -> None:
    config = {
        "type": "rest",
        "name": "polaris",
        "uri": "http://127.0.0.1:9/api/catalog",
        "client_id": "floe",
        "client_secret": SECRET,
    }
    with pytest.raises(SourceError) as caught:
        IcebergSource(config, "gold.customers")
    assert "cannot reach the rest catalog 'polaris'" in str(caught.value)
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)


class _RefusingCatalog(http.server.BaseHTTPRequestHandler):
    """An OAuth2 token endpoint that refuses every client, as Polaris does for bad credentials."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b'{"error": "unauthorized_client", "error_description": "bad client credentials"}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def refusing_catalog() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RefusingCatalog)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/catalog"
    server.shutdown()
    server.server_close()


@pytest.mark.requirement("R9")
def test_refused_rest_credentials_are_reported_without_the_secret(refusing_catalog: str) -> None:
    config = {"type": "rest", "uri": refusing_catalog, "client_id": "floe", "client_secret": SECRET}
    with pytest.raises(SourceError) as caught:
        IcebergSource(config, "gold.customers")
    assert "refused the credentials" in str(caught.value)
    assert "client_secret" in caught.value.hint
    assert SECRET not in str(caught.value)


def test_unreachable_postgres_catalog_hides_the_password() -> None:
    config = {"type": "sql", "uri": "postgresql+psycopg://floe:hunter2pw@127.0.0.1:9/iceberg"}
    with pytest.raises(SourceError) as caught:
        IcebergSource(config, "gold.customers")
    assert "cannot use the sql catalog 'default'" in str(caught.value)
    assert "hunter2pw" not in str(caught.value)
    assert "floe:***@127.0.0.1:9" in str(caught.value)


# --- PostgreSQL-backed SQL catalog -------------------------------------------------------------


@pytest.mark.parametrize("driver", ["postgresql+psycopg", "postgresql"])
@pytest.mark.requirement("R9")
def test_postgresql_backed_sql_catalog(pg_schema: str, tmp_path: Path, driver: str) -> None:
    config = {
        "type": "sql",
        "name": "pg_catalog",
        "uri": f"{driver}://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{pg_schema}",
        "warehouse": str(tmp_path / "warehouse"),
    }
    catalog = open_catalog(config, create=True)
    catalog.create_namespace("gold")
    catalog.create_table("gold.customers", ROWS.schema).append(ROWS)
    catalog.close()
    with IcebergSource(config, "gold.customers") as source:
        assert source.row_count == 4
        table = source.batches(
            columns=["customer_id", "name"], row_filter="customer_id < 3"
        ).read_all()
    assert sorted(table.to_pylist(), key=lambda r: r["customer_id"]) == [
        {"customer_id": 1, "name": "Zoë"},
        {"customer_id": 2, "name": "José"},
    ]
