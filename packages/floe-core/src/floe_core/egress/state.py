"""The state store: run history, and what incremental syncs need to remember between runs.

Embedded SQLite under ``<project>/.floe/state.db`` by default; any SQLAlchemy URL (PostgreSQL
for shared deployments) from ``$FLOE_STATE_URL`` or the manifest's ``state.url``, in that order.
``postgresql://`` URLs use psycopg 3.

The tables are described in :mod:`floe_core.egress.state_tables`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe_core.egress.errors import StateStoreError
from floe_core.egress.receipt import Receipt, RunStatus, utc_now
from floe_core.egress.rejects import RejectedRow, RejectedRows, RejectReason
from floe_core.egress.state_tables import SCHEMA_VERSION, state_tables

if TYPE_CHECKING:
    import sqlalchemy as sa

    from floe_core.sync.summary import SyncSummary

__all__ = [
    "SCHEMA_VERSION",
    "Checkpoint",
    "RejectedRow",
    "StateStore",
    "state_store_exists",
    "state_url_for",
]


def state_url_for(
    project_dir: Path, configured: str | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """The state store URL: ``$FLOE_STATE_URL``, else ``configured``, else project SQLite."""
    env = os.environ if environ is None else environ
    url = env.get("FLOE_STATE_URL") or configured
    if url:
        return url
    return f"sqlite:///{(project_dir / '.floe' / 'state.db').absolute()}"


def state_store_exists(url: str) -> bool:
    """Whether a state store may hold anything: false only for a SQLite file not yet created.

    Read-only commands check this first, so that looking at history never creates a store.
    Other databases cannot be told apart without connecting; they count as existing.
    """
    import sqlalchemy as sa

    try:
        parsed = sa.engine.make_url(_engine_url(url))
    except sa.exc.ArgumentError:
        return True  # opening it reports the bad URL
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return True
    return Path(parsed.database).is_file()


@dataclass(frozen=True)
class Checkpoint:
    """The last source snapshot delivered completely to a destination."""

    destination: str
    source_table: str
    snapshot_id: int | None
    run_id: str
    updated_at: datetime


def _engine_url(url: str) -> str:
    # Plain postgresql:// would pick psycopg2, which floe does not depend on.
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _aware(value: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes; everything floe stores is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


_BACKENDS = ("sqlite", "postgresql")


class StateStore:
    """Run history and sync state in a SQL database. Create tables on first use.

    Args:
        url: SQLAlchemy URL (``sqlite:///path``, ``postgresql://user@host/db``, ...).

    Raises:
        StateStoreError: The database cannot be reached or its tables created, or it is
            neither SQLite nor PostgreSQL.
    """

    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        self._sa = sa
        self.url = _engine_url(url)
        try:
            parsed = sa.engine.make_url(self.url)
        except sa.exc.ArgumentError as exc:
            raise StateStoreError(
                "the state store URL is not a valid SQLAlchemy URL",
                hint="set FLOE_STATE_URL or the manifest's state.url to e.g. "
                "postgresql://user@host:5432/floe or sqlite:///path/state.db",
            ) from exc
        self.display_url = parsed.render_as_string(hide_password=True)
        if parsed.get_backend_name() not in _BACKENDS:
            # Leases and the run journal rely on SQLite's and PostgreSQL's locking.
            raise StateStoreError(
                f"the state store at {self.display_url} is a {parsed.get_backend_name()} "
                "database; floe keeps its state in SQLite or PostgreSQL only",
                hint="set FLOE_STATE_URL or the manifest's state.url to a PostgreSQL database "
                "(postgresql://user@host:5432/floe), or leave it unset for the project's "
                "SQLite file; a MySQL or MariaDB server can still be a destination",
            )
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        self._metadata = sa.MetaData()
        self._t = state_tables(self._metadata)
        try:
            self._engine = sa.create_engine(self.url, pool_pre_ping=True)
            self._create_tables()
        except (sa.exc.SQLAlchemyError, ImportError) as exc:
            raise self._error("open", exc) from exc

    def _create_tables(self) -> None:
        """Create what is missing. Runs opening a new store at the same time (parallel
        partitions, say) race to create its tables: whoever loses looks again. Each lost race
        means one more table exists, so one attempt per table (and one to finish) is enough."""
        attempts = len(self._metadata.sorted_tables) + 2
        for attempt in range(attempts):
            try:
                with self._engine.begin() as conn:
                    self._metadata.create_all(conn, checkfirst=True)
                    self._add_missing_columns(conn)
                    self._check_version(conn)
                return
            except (
                self._sa.exc.OperationalError,
                self._sa.exc.IntegrityError,
                self._sa.exc.ProgrammingError,
            ):
                if attempt == attempts - 1:
                    raise

    def _add_missing_columns(self, conn: sa.Connection) -> None:
        """Add columns a newer floe defined to tables an older one created (each has a server
        default, so existing rows stay valid)."""
        sa = self._sa
        inspector = sa.inspect(conn)
        for table in self._metadata.sorted_tables:
            present = {column["name"] for column in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in present:
                    continue
                kind = column.type.compile(dialect=conn.dialect)
                default = getattr(column.server_default, "arg", None)
                clause = f" NOT NULL DEFAULT {default}" if default is not None else ""
                conn.execute(
                    sa.text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}{clause}')
                )

    def _check_version(self, conn: sa.Connection) -> None:
        meta = self._t["meta"]
        row = conn.execute(
            self._sa.select(meta.c.value).where(meta.c.key == "schema_version")
        ).first()
        if row is None:
            conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
        elif int(row[0]) > SCHEMA_VERSION:
            raise StateStoreError(
                f"the state store at {self.display_url} has schema version {row[0]}, newer "
                f"than this floe understands ({SCHEMA_VERSION})",
                hint="upgrade floe, or point FLOE_STATE_URL at another database",
            )

    def _error(self, action: str, exc: BaseException) -> StateStoreError:
        return StateStoreError(
            f"cannot {action} the state store at {self.display_url} ({type(exc).__name__})",
            hint="check the database is reachable and writable (FLOE_STATE_URL / manifest "
            "state.url), or unset them to use <project>/.floe/state.db",
        )

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def table(self, role: str) -> sa.Table:
        """One of the tables of :func:`~floe_core.egress.state_tables.state_tables`, by role."""
        return self._t[role]

    def transaction(self, action: str) -> AbstractContextManager[sa.Connection]:
        """A connection in a transaction; a database error becomes a ``StateStoreError``
        saying the store could not ``action`` (e.g. "take a lease in")."""
        return self._transaction(action)

    # --- runs ---------------------------------------------------------------------------

    def start_run(self, receipt: Receipt) -> None:
        """Record a run as started (status ``running``)."""
        self._write("record a run in", self._t["runs"].insert().values(**_run_row(receipt)))

    def finish_run(self, receipt: Receipt) -> None:
        """Store the final receipt of a run started with :meth:`start_run`."""
        runs = self._t["runs"]
        values = _run_row(receipt)
        values.pop("run_id")
        self._write(
            "update a run in", runs.update().where(runs.c.run_id == receipt.run_id).values(values)
        )

    def mark_interrupted(self, run_id: str, reason: str, rows_delivered: int = 0) -> None:
        """Record that run ``run_id``, still ``running`` in the history, died: ``failed``,
        with ``reason``, and ``rows_delivered`` (what its journal shows confirmed) unless the
        count it stored is higher."""
        runs = self._t["runs"]
        with self._transaction("update a run in") as conn:
            row = conn.execute(
                self._sa.select(runs.c.errors, runs.c.rows_delivered).where(
                    runs.c.run_id == run_id, runs.c.status == RunStatus.RUNNING.value
                )
            ).first()
            if row is None:
                return
            errors = [*json.loads(row.errors or "[]"), reason]
            conn.execute(
                runs.update()
                .where(runs.c.run_id == run_id, runs.c.status == RunStatus.RUNNING.value)
                .values(
                    status=RunStatus.FAILED.value,
                    finished_at=utc_now(),
                    errors=json.dumps(errors, ensure_ascii=False),
                    rows_delivered=max(int(row.rows_delivered or 0), rows_delivered),
                )
            )

    def runs(self, destination: str | None = None, limit: int | None = 20) -> list[Receipt]:
        """Stored receipts, newest first (the ``limit`` newest; every one when ``None``),
        optionally for one destination."""
        runs = self._t["runs"]
        query = runs.select().order_by(runs.c.started_at.desc())
        if limit is not None:
            query = query.limit(limit)
        if destination is not None:
            query = query.where(runs.c.destination == destination)
        return [_receipt(row) for row in self._read(query)]

    def count_runs(self, destination: str | None = None) -> int:
        """How many receipts are stored, optionally for one destination."""
        runs = self._t["runs"]
        query = self._sa.select(self._sa.func.count()).select_from(runs)
        if destination is not None:
            query = query.where(runs.c.destination == destination)
        return int(self._read(query)[0][0])

    def runs_by_id(self, prefix: str, limit: int = 10) -> list[Receipt]:
        """Stored receipts whose run id starts with ``prefix`` (a whole id finds one)."""
        runs = self._t["runs"]
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = (
            runs.select()
            .where(runs.c.run_id.like(f"{escaped}%", escape="\\"))
            .order_by(runs.c.started_at.desc())
            .limit(limit)
        )
        return [_receipt(row) for row in self._read(query)]

    def destinations(self) -> list[str]:
        """The names of the destinations with at least one stored run, sorted."""
        runs = self._t["runs"]
        query = self._sa.select(runs.c.destination).distinct().order_by(runs.c.destination)
        return [row.destination for row in self._read(query)]

    # --- checkpoints --------------------------------------------------------------------

    def save_checkpoint(
        self, destination: str, source_table: str, snapshot_id: int | None, run_id: str
    ) -> None:
        """Remember that ``snapshot_id`` of ``source_table`` reached ``destination``."""
        table = self._t["checkpoints"]
        values = {
            "source_table": source_table,
            "snapshot_id": snapshot_id,
            "run_id": run_id,
            "updated_at": utc_now(),
        }
        with self._transaction("save a checkpoint in") as conn:
            done = conn.execute(
                table.update().where(table.c.destination == destination).values(values)
            )
            if done.rowcount == 0:
                conn.execute(table.insert().values(destination=destination, **values))

    def checkpoint(self, destination: str) -> Checkpoint | None:
        """The last complete delivery to ``destination``, if any."""
        table = self._t["checkpoints"]
        rows = self._read(table.select().where(table.c.destination == destination))
        if not rows:
            return None
        row = rows[0]
        return Checkpoint(
            destination=row.destination,
            source_table=row.source_table,
            snapshot_id=row.snapshot_id,
            run_id=row.run_id,
            updated_at=_aware(row.updated_at) or utc_now(),
        )

    # --- row fingerprints ---------------------------------------------------------------

    def save_fingerprints(
        self, destination: str, fingerprints: Mapping[str, str], run_id: str
    ) -> None:
        """Store primary key -> fingerprint for rows delivered to ``destination`` by ``run_id``."""
        if not fingerprints:
            return
        table = self._t["fingerprints"]
        keys = list(fingerprints)
        with self._transaction("save row fingerprints in") as conn:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                conn.execute(
                    table.delete().where(
                        table.c.destination == destination, table.c.primary_key.in_(chunk)
                    )
                )
                conn.execute(
                    table.insert(),
                    [
                        {
                            "destination": destination,
                            "primary_key": key,
                            "fingerprint": fingerprints[key],
                            "last_run_id": run_id,
                        }
                        for key in chunk
                    ],
                )

    def fingerprints(self, destination: str) -> dict[str, str]:
        """Primary key -> fingerprint of every row last delivered to ``destination``."""
        table = self._t["fingerprints"]
        query = self._sa.select(table.c.primary_key, table.c.fingerprint).where(
            table.c.destination == destination
        )
        return {row.primary_key: row.fingerprint for row in self._read(query)}

    # --- rejected rows ---------------------------------------------------------------

    def save_rejected_rows(
        self,
        destination: str,
        run_id: str,
        rows: Sequence[Mapping[str, Any]],
        reason: str,
        key_columns: Sequence[str] | None = None,
    ) -> list[str]:
        """Keep rows the destination refused (one record per row identity); see
        :mod:`floe_core.egress.rejects`. Returns the rows' identities."""
        return RejectedRows(self).keep(destination, run_id, rows, reason, key_columns)

    def rejected_rows(
        self, destination: str, *, unresolved_only: bool = True, limit: int | None = None
    ) -> list[RejectedRow]:
        """Rejected rows of ``destination``, first refused first (the first ``limit``)."""
        return RejectedRows(self).records(destination, unresolved_only=unresolved_only, limit=limit)

    def rejected_reasons(
        self, destination: str, *, unresolved_only: bool = True
    ) -> list[RejectReason]:
        """Each reason of ``destination``'s rejected rows and how many have it, most first."""
        return RejectedRows(self).reasons(destination, unresolved_only=unresolved_only)

    # --- plumbing -----------------------------------------------------------------------

    @contextmanager
    def _transaction(self, action: str) -> Iterator[sa.Connection]:
        try:
            with self._engine.begin() as conn:
                yield conn
        except self._sa.exc.SQLAlchemyError as exc:
            raise self._error(action, exc) from exc

    def _write(self, action: str, statement: Any, params: Any = None) -> None:
        with self._transaction(action) as conn:
            if params is None:
                conn.execute(statement)
            else:
                conn.execute(statement, params)

    def _read(self, query: Any) -> list[Any]:
        try:
            with self._engine.connect() as conn:
                return list(conn.execute(query))
        except self._sa.exc.SQLAlchemyError as exc:
            raise self._error("read", exc) from exc


def _run_row(receipt: Receipt) -> dict[str, Any]:
    return {
        "run_id": receipt.run_id,
        "destination": receipt.destination,
        "sink_type": receipt.sink_type,
        "plugin": receipt.plugin,
        "status": receipt.status.value,
        "started_at": receipt.started_at,
        "finished_at": receipt.finished_at,
        "source_table": receipt.source_table,
        "snapshot_id": receipt.snapshot_id,
        "rows_read": receipt.rows_read,
        "rows_delivered": receipt.rows_delivered,
        "rows_rejected": receipt.rows_rejected,
        "rows_skipped": receipt.rows_skipped,
        "bytes_transmitted": receipt.bytes_transmitted,
        "duration_seconds": receipt.duration_seconds,
        "checksum": receipt.checksum,
        "idempotency_key": receipt.idempotency_key,
        "errors": json.dumps(receipt.errors, ensure_ascii=False),
        "destination_host": receipt.destination_host,
        "sync_summary": _sync_json(receipt),
    }


def _sync_json(receipt: Receipt) -> str | None:
    """The sync summary as stored: counts, snapshots and read path (no dry-run samples)."""
    if receipt.sync is None:
        return None
    from dataclasses import asdict

    data = asdict(receipt.sync)
    data.pop("samples", None)
    return json.dumps(data, ensure_ascii=False)


def _receipt(row: Any) -> Receipt:
    return Receipt(
        run_id=row.run_id,
        destination=row.destination,
        sink_type=row.sink_type,
        plugin=row.plugin,
        status=RunStatus(row.status),
        started_at=_aware(row.started_at) or utc_now(),
        finished_at=_aware(row.finished_at),
        source_table=row.source_table,
        snapshot_id=row.snapshot_id,
        rows_read=row.rows_read,
        rows_delivered=row.rows_delivered,
        rows_rejected=row.rows_rejected,
        rows_skipped=row.rows_skipped or 0,
        bytes_transmitted=row.bytes_transmitted,
        duration_seconds=row.duration_seconds,
        checksum=row.checksum,
        idempotency_key=row.idempotency_key,
        errors=list(json.loads(row.errors or "[]")),
        destination_host=row.destination_host or "",
        sync=_sync_summary(row.sync_summary),
    )


def _sync_summary(text: str | None) -> SyncSummary | None:
    if not text:
        return None
    from floe_core.sync.summary import SyncSummary

    return SyncSummary.from_dict(json.loads(text))
