"""Settings of the ``sql_database`` sink, and turning its URL into a SQLAlchemy engine.

The settings come from ``SinkConfig.connection_config``: the destination's ``config:`` in
floe.yaml merged with the keys of its secret. ``url`` (a SQLAlchemy URL) comes from the secret;
``username``/``password`` may be kept in the secret separately and replace the URL's.

Bare backend names pick the drivers floe installs with its extras: ``postgresql://`` uses
psycopg 3 (``postgresql+psycopg``), ``mysql://`` and ``mariadb://`` use PyMySQL. Any other
``dialect+driver`` is used as given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from floe_core.secrets.redact import credential_values
from floe_core.sinks import settings_error
from floe_core.sinks.errors import SinkConfigurationError, config_error_from_validation
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

if TYPE_CHECKING:
    import sqlalchemy as sa
    from floe_core.sinks.endpoints import Endpoint

__all__ = [
    "SECRET_FIELDS",
    "SINK_TYPE",
    "SqlDatabaseSettings",
    "create_engine",
    "display_url",
    "target_identity",
    "url_endpoints",
]

SINK_TYPE = "sql_database"

#: Settings read from the destination's Secret.
SECRET_FIELDS = frozenset({"url", "username", "password"})

# Bare backend name -> the driver floe's extras install.
_DEFAULT_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}
# Backend -> the extra that installs its driver.
_EXTRAS = {"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql"}
CONNECT_TIMEOUT_SECONDS = 10
#: Connections a write uses at once unless ``max_connections`` says otherwise, and the most.
DEFAULT_CONNECTIONS = 2
MAX_CONNECTIONS = 8


class SqlDatabaseSettings(BaseModel):
    """What the ``sql_database`` sink accepts.

    Attributes:
        url: SQLAlchemy URL of the database (from the secret).
        username: Replaces the URL's user name, when the secret keeps it apart.
        password: Replaces the URL's password, when the secret keeps it apart.
        table: Target table name (without schema).
        db_schema: Schema (PostgreSQL) or database (MySQL) of the table; the connection's
            default when unset. Spelled ``schema`` in the config.
        mode: ``append`` inserts rows; ``upsert`` inserts or updates by ``primary_key``;
            ``replace`` makes the table hold exactly the rows written, swapped in at the end.
        primary_key: Key columns; required for ``upsert``, used as the primary key of a
            table floe creates.
        create_table: Create the table from the data's schema when it does not exist.
        max_connections: Database connections the write uses at once: that many batches in
            flight in modes append and replace; in mode upsert on PostgreSQL, 2 or more write
            a large batch in two key-disjoint parts at once (upsert batches go one at a
            time). SQLite always uses one.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    url: SecretStr
    username: str | None = Field(default=None, min_length=1)
    password: SecretStr | None = None
    table: str = Field(min_length=1, max_length=128)
    db_schema: str | None = Field(default=None, alias="schema", min_length=1, max_length=128)
    mode: Literal["append", "upsert", "replace"] = "append"
    primary_key: tuple[str, ...] = ()
    create_table: bool = True
    max_connections: int = Field(default=DEFAULT_CONNECTIONS, ge=1, le=MAX_CONNECTIONS)

    @field_validator("primary_key", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("primary_key")
    @classmethod
    def _distinct_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not name.strip() for name in value):
            raise ValueError("column names must not be blank")
        if len(set(value)) != len(value):
            raise ValueError("a column is listed twice")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SqlDatabaseSettings:
        if self.mode == "upsert" and not self.primary_key:
            raise settings_error(
                "mode 'upsert' needs primary_key: the columns that identify a row",
                key="primary_key",
                hint="add e.g. `primary_key: [id]` to the destination config, or use mode append",
            )
        if "." in self.table and self.db_schema is None:
            schema, _, table = self.table.rpartition(".")
            raise settings_error(
                "the table name looks schema-qualified; floe takes the schema apart",
                key="table",
                hint=f"write `schema: {schema}` and `table: {table}`",
            )
        return self

    @classmethod
    def from_connection_config(
        cls, config: dict[str, Any], *, destination: str = ""
    ) -> SqlDatabaseSettings:
        """Validate the merged destination config and secret.

        Raises:
            SinkConfigurationError: A key is unknown, missing or invalid; ``upsert`` without
                ``primary_key``; a table name that looks schema-qualified.
        """
        try:
            return cls.model_validate(config)
        except ValidationError as exc:
            raise config_error_from_validation(
                exc,
                section="config",
                allowed=[f.alias or name for name, f in cls.model_fields.items()],
                config=config,
                secret_fields=SECRET_FIELDS,
                destination=destination,
                sink_type=SINK_TYPE,
            ) from exc

    def sqlalchemy_url(self, *, destination: str = "") -> sa.URL:
        """The URL to connect with: parsed, default driver filled in, credentials applied.

        Raises:
            SinkConfigurationError: The URL cannot be parsed.
        """
        url = _parse_url(self.url.get_secret_value(), destination)
        if url.drivername in _DEFAULT_DRIVERS:
            url = url.set(drivername=_DEFAULT_DRIVERS[url.drivername])
        if self.username is not None:
            url = url.set(username=self.username)
        if self.password is not None:
            url = url.set(password=self.password.get_secret_value())
        if url.get_backend_name() in ("mysql", "mariadb") and "charset" not in url.query:
            # Four-byte UTF-8, so that emoji survive.
            url = url.update_query_dict({"charset": "utf8mb4"})
        return url

    def secret_values(self) -> list[str]:
        """The passwords these settings hold, for redacting messages.

        The URL's password is registered, never the whole URL: a message keeps saying which
        host and database it is about (``postgresql://app:***@db:5432/crm``).
        """
        password = self.password.get_secret_value() if self.password is not None else ""
        return credential_values({"url": self.url.get_secret_value(), "password": password})


_URL_HINT = (
    "use e.g. postgresql+psycopg://user:password@host:5432/db, "
    "mysql+pymysql://user:password@host:3306/db or sqlite:///path/to/file.db"
)


def _parse_url(url: str, destination: str) -> sa.URL:
    import sqlalchemy as sa

    try:
        return sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise SinkConfigurationError(
            "the url is not a valid SQLAlchemy URL",
            destination=destination,
            sink_type=SINK_TYPE,
            hint=_URL_HINT,
        ) from exc


def url_endpoints(url: str, *, destination: str = "") -> list[Endpoint]:
    """Where a database URL connects: its host and port, any ``host`` or ``hostaddr`` its
    query names (libpq takes them there), or its SQLite file. No user name or password.

    Raises:
        SinkConfigurationError: The URL cannot be parsed.
    """
    from floe_core.sinks.endpoints import DEFAULT_PORTS, Endpoint

    parsed = _parse_url(url, destination)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database
        return [] if not database or database == ":memory:" else [Endpoint(path=database)]
    port = parsed.port or DEFAULT_PORTS.get(backend)
    found = [Endpoint(host=parsed.host, port=port, setting="url")] if parsed.host else []
    for key in ("host", "hostaddr"):
        given = parsed.query.get(key) or ()
        for value in (given,) if isinstance(given, str) else given:
            for host in value.split(","):
                if host.strip() and not host.strip().startswith("/"):  # not a Unix socket
                    found.append(Endpoint(host=host.strip(), port=port, setting=f"url's {key}"))
    return found


def display_url(url: sa.URL) -> str:
    """The URL without its password, for messages."""
    return url.render_as_string(hide_password=True)


def target_identity(url: sa.URL, schema: str | None, table: str) -> str:
    """Secret-free identity of a table: backend, host, port, database, schema and table."""
    where = f"{url.host or ''}:{url.port or ''}/{url.database or ''}"
    return f"{SINK_TYPE} {url.get_backend_name()}://{where} {schema or ''}.{table}"


def create_engine(url: sa.URL, *, destination: str = "", pool_size: int = 2) -> sa.Engine:
    """A SQLAlchemy engine for ``url``, with floe's session settings.

    PostgreSQL sessions run in UTC (timestamps with zone are sent as UTC wall time), MySQL
    sessions add ``STRICT_TRANS_TABLES`` (a value that does not fit is an error, never
    truncated). Connections are only opened on first use.

    Raises:
        SinkConfigurationError: Unknown dialect, or its driver is not installed.
    """
    import sqlalchemy as sa

    backend = url.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend == "postgresql":
        given = url.query.get("options") or ()
        given = (given,) if isinstance(given, str) else given
        connect_args["options"] = " ".join([*given, "-c TimeZone=UTC"])
        if "connect_timeout" not in url.query:
            connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    elif backend in ("mysql", "mariadb"):
        connect_args["init_command"] = (
            "SET SESSION sql_mode = CONCAT_WS(',', @@sql_mode, 'STRICT_TRANS_TABLES'), "
            "time_zone = '+00:00'"
        )
        if "connect_timeout" not in url.query:
            connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    kwargs: dict[str, Any] = {"connect_args": connect_args}
    if backend != "sqlite":
        kwargs |= {"pool_size": pool_size, "max_overflow": 2}
    try:
        return sa.create_engine(url, **kwargs)
    except sa.exc.NoSuchModuleError as exc:
        raise SinkConfigurationError(
            f"SQLAlchemy has no dialect {url.drivername!r}",
            destination=destination,
            sink_type=SINK_TYPE,
            hint="use a URL such as postgresql+psycopg://..., mysql+pymysql://... or "
            "sqlite:///file.db; other databases need their SQLAlchemy dialect installed",
        ) from exc
    except sa.exc.ArgumentError as exc:
        # The dialect refuses the URL's parts (a SQLite URL with a password or a host).
        # Its message prints the URL with the password masked; only its first line is kept.
        raise SinkConfigurationError(
            f"the url does not fit {backend}: {str(exc).splitlines()[0]}",
            destination=destination,
            sink_type=SINK_TYPE,
            hint="check the url and the secret's username and password (a SQLite url, "
            "sqlite:///path/to/file.db, takes none)",
        ) from exc
    except ImportError as exc:
        extra = _EXTRAS.get(backend)
        hint = (
            f"pip install 'floe-ingestion-dlt[{extra}]' and use "
            f"{_DEFAULT_DRIVERS[backend]}://... (or install the driver {url.get_driver_name()!r})"
            if extra
            else f"install the Python driver {url.get_driver_name()!r} for {backend}"
        )
        raise SinkConfigurationError(
            f"the database driver for {url.drivername!r} is not installed ({exc.name or exc})",
            destination=destination,
            sink_type=SINK_TYPE,
            hint=hint,
        ) from exc
