"""Settings and URL handling of the ``sql_database`` sink (no database needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from floe_core.plugins.sink import SinkConfig
from floe_core.sinks.errors import SinkConfigurationError
from floe_ingestion_dlt.sinks.sql.config import SqlDatabaseSettings, target_identity
from floe_ingestion_dlt.sinks.sql.sink import SqlDatabaseSink

PASSWORD = "hunter2-very-secret"


def _settings(**config: Any) -> SqlDatabaseSettings:
    base = {"url": f"postgresql://floe:{PASSWORD}@db.example:5432/crm", "table": "customers"}
    return SqlDatabaseSettings.from_connection_config({**base, **config}, destination="crm")


def _sink(**config: Any) -> SqlDatabaseSink:
    connection = {"table": "customers", **config}
    return SqlDatabaseSink(
        SinkConfig(sink_type="sql_database", connection_config=connection, destination_name="crm")
    )


@pytest.mark.requirement("R7")
def test_defaults_and_a_single_primary_key_string() -> None:
    settings = _settings(primary_key="id", mode="upsert", schema="sales")

    assert settings.mode == "upsert"
    assert settings.primary_key == ("id",)
    assert settings.db_schema == "sales"
    assert settings.create_table is True
    assert settings.max_connections == 2


@pytest.mark.requirement("R7")
@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"mode": "upsert"}, "mode 'upsert' needs primary_key"),
        ({"mode": "merge"}, "mode: should be 'append', 'upsert' or 'replace'"),
        ({"tabel": "x"}, "unknown key `tabel` (hint: did you mean `table`?"),
        ({"table": ""}, "table: must not be empty"),
        ({"table": "sales.customers"}, "write `schema: sales` and `table: customers`"),
        ({"primary_key": ["id", "id"]}, "a column is listed twice"),
        ({"create_table": "maybe"}, "create_table: should be true or false"),
        ({"max_connections": 0}, "max_connections: should be at least 1"),
        ({"max_connections": 9}, "max_connections: should be at most 8"),
    ],
)
def test_invalid_settings_are_configuration_errors(config: dict[str, Any], message: str) -> None:
    with pytest.raises(SinkConfigurationError) as caught:
        _settings(**config)

    text = str(caught.value)
    assert message in text
    assert "sql_database/crm" in text
    assert PASSWORD not in text


@pytest.mark.requirement("R7")
def test_missing_url_names_the_key() -> None:
    with pytest.raises(SinkConfigurationError) as caught:
        SqlDatabaseSettings.from_connection_config({"table": "t"})
    assert "required key `url` is missing" in caught.value.message
    assert caught.value.hint == "add the key `url` to the destination's Secret"


@pytest.mark.requirement("R7")
def test_bare_backend_names_get_the_installed_drivers() -> None:
    pg = _settings().sqlalchemy_url()
    maria = _settings(url="mariadb://u:p@h/db").sqlalchemy_url()
    mysql = _settings(url="mysql://u:p@h/db?charset=latin1").sqlalchemy_url()

    assert pg.drivername == "postgresql+psycopg"
    assert maria.drivername == "mariadb+pymysql" and maria.query["charset"] == "utf8mb4"
    assert mysql.drivername == "mysql+pymysql" and mysql.query["charset"] == "latin1"


@pytest.mark.requirement("R7")
def test_username_and_password_from_the_secret_replace_the_urls() -> None:
    url = _settings(username="svc", password="other-secret").sqlalchemy_url()

    assert (url.username, url.password) == ("svc", "other-secret")
    assert "other-secret" in _settings(password="other-secret").secret_values()


@pytest.mark.requirement("R7")
def test_identity_names_the_table_but_no_credentials() -> None:
    settings = _settings(schema="sales")
    identity = target_identity(settings.sqlalchemy_url(), "sales", "customers")

    assert identity == "sql_database postgresql://db.example:5432/crm sales.customers"
    assert PASSWORD not in repr(settings)


@pytest.mark.requirement("R7")
@pytest.mark.parametrize(
    ("url", "message", "hint"),
    [
        (f"not a url {PASSWORD}", "not a valid SQLAlchemy URL", "postgresql+psycopg://"),
        (f"nosuchdb://u:{PASSWORD}@h/d", "SQLAlchemy has no dialect 'nosuchdb'", "sqlite:///"),
        (
            f"mysql+mysqldb://u:{PASSWORD}@h/d",
            "the database driver for 'mysql+mysqldb' is not installed",
            "pip install 'floe-ingestion-dlt[mysql]' and use mysql+pymysql://",
        ),
        (
            f"sqlite://u:{PASSWORD}@/floe.db",
            "the url does not fit sqlite: Invalid SQLite URL",
            "a SQLite url, sqlite:///path/to/file.db, takes none",
        ),
    ],
    ids=["unparsable", "unknown-dialect", "missing-driver", "sqlite-with-password"],
)
def test_unusable_urls_fail_at_creation(url: str, message: str, hint: str) -> None:
    with pytest.raises(SinkConfigurationError) as caught:
        _sink(url=url)

    assert message in caught.value.message
    assert hint in caught.value.hint
    assert PASSWORD not in str(caught.value)


@pytest.mark.requirement("R7")
def test_upsert_on_a_database_without_upsert_support_is_refused() -> None:
    with pytest.raises(SinkConfigurationError, match="mode 'upsert' is not supported on mssql"):
        _sink(url="mssql+pymssql://u:p@h/d", mode="upsert", primary_key=["id"])


@pytest.mark.requirement("R7")
def test_secret_values_are_the_passwords_not_the_whole_url() -> None:
    assert _settings().secret_values() == [PASSWORD]
    assert sorted(_settings(password="other-secret").secret_values()) == [
        PASSWORD,
        "other-secret",
    ]


@pytest.mark.requirement("R7")
def test_a_password_in_the_secret_of_a_sqlite_destination_is_a_configuration_error(
    tmp_path: Path,
) -> None:
    with pytest.raises(SinkConfigurationError) as caught:
        _sink(url=f"sqlite:///{tmp_path / 'floe.db'}", password=PASSWORD)

    assert "Invalid SQLite URL" in caught.value.message
    assert PASSWORD not in str(caught.value)
