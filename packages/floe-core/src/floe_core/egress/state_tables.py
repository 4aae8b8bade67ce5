"""The state store's tables: run history, and what incremental syncs need between runs.

Tables (all prefixed ``floe_`` so they can share a database):

- ``floe_runs``: one row per destination run, the receipt (counts, bytes, checksum, idempotency
  key, source snapshot, errors, the host the destination connects to, and an incremental
  sync's counts per operation, snapshot range and read path as JSON). Written as ``running``
  when a run starts and completed when it ends, so a crashed run is visible as one that never
  finished. (``destination_host`` was added later: a store without it gets it, empty.)
- ``floe_sync_files``: per destination, the incremental sync's fingerprint files (Parquet,
  and a JSON meta file) when the state store is a shared server (``floe_core.sync.files``).
- ``floe_checkpoints``: per destination, the source snapshot last delivered completely.
- ``floe_row_fingerprints``: per destination and primary key value, a fingerprint of the row as
  last delivered and the run that delivered it (the basis of a primary-key diff).
- ``floe_rejects``: rows a destination refused, one per destination and row identity (primary
  key values, or a content hash), as JSON, with the latest reason and run, the number of
  attempts, first and last seen; ``resolved_run_id`` is set once a later run delivers it.
  (It replaces ``floe_rejected_rows``, which kept a copy per refusal.)
- ``floe_run_batches``: the run journal: each batch a destination confirmed, as it was confirmed
  (run, source snapshot, the batch's idempotency key, its rows), kept until a run of that
  destination goes through, so that a run after one that did not finish skips those batches.
- ``floe_leases``: per destination, the run allowed to deliver to it now (its host, pid, start
  time) and when that lease expires unless renewed (seconds since the epoch).
- ``floe_state_meta``: the schema version of these tables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["SCHEMA_VERSION", "state_tables"]

#: Version of the table layout; stored in ``floe_state_meta``.
SCHEMA_VERSION = 1


def state_tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    """Define the state tables on ``metadata``.

    Returns:
        The tables by role: ``runs``, ``fingerprints``, ``sync_files``, ``checkpoints``,
        ``rejected``, ``journal``, ``leases``, ``meta``.
    """
    import sqlalchemy as sa

    runs = sa.Table(
        "floe_runs",
        metadata,
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("destination", sa.String(255), nullable=False, index=True),
        sa.Column("sink_type", sa.String(255), nullable=False),
        sa.Column("plugin", sa.String(255), nullable=False, default=""),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("source_table", sa.String(512), nullable=False, default=""),
        sa.Column("snapshot_id", sa.BigInteger),
        sa.Column("rows_read", sa.BigInteger, nullable=False, default=0),
        sa.Column("rows_delivered", sa.BigInteger, nullable=False, default=0),
        sa.Column("rows_rejected", sa.BigInteger, nullable=False, default=0),
        sa.Column("rows_skipped", sa.BigInteger, nullable=False, default=0, server_default="0"),
        sa.Column("bytes_transmitted", sa.BigInteger, nullable=False, default=0),
        sa.Column("duration_seconds", sa.Float, nullable=False, default=0.0),
        sa.Column("checksum", sa.String(128), nullable=False, default=""),
        sa.Column("idempotency_key", sa.String(255), nullable=False, default=""),
        sa.Column("errors", sa.Text, nullable=False, default="[]"),
        sa.Column(
            "destination_host", sa.String(1024), nullable=False, server_default=sa.text("''")
        ),
        sa.Column("sync_summary", sa.Text),
    )
    fingerprints = sa.Table(
        "floe_row_fingerprints",
        metadata,
        sa.Column("destination", sa.String(255), primary_key=True),
        sa.Column("primary_key", sa.String(1024), primary_key=True),
        sa.Column("fingerprint", sa.String(128), nullable=False),
        sa.Column("last_run_id", sa.String(64), nullable=False),
    )
    sync_files = sa.Table(
        "floe_sync_files",
        metadata,
        sa.Column("destination", sa.String(255), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("written_ns", sa.BigInteger, nullable=False),
        # A fingerprint file is megabytes: SQLite's BLOB and PostgreSQL's BYTEA hold it (the
        # state store refuses MySQL and MariaDB, whose plain BLOB holds 64 KB).
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    checkpoints = sa.Table(
        "floe_checkpoints",
        metadata,
        sa.Column("destination", sa.String(255), primary_key=True),
        sa.Column("source_table", sa.String(512), nullable=False),
        sa.Column("snapshot_id", sa.BigInteger),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    rejected = sa.Table(
        "floe_rejects",
        metadata,
        sa.Column("destination", sa.String(255), primary_key=True),
        sa.Column("row_key", sa.String(512), primary_key=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("row_json", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_run_id", sa.String(64)),
    )
    journal = sa.Table(
        "floe_run_batches",
        metadata,
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("batch_key", sa.String(64), primary_key=True),
        sa.Column("destination", sa.String(255), nullable=False, index=True),
        sa.Column("snapshot_id", sa.BigInteger),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
    )
    leases = sa.Table(
        "floe_leases",
        metadata,
        sa.Column("destination", sa.String(255), primary_key=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    meta = sa.Table(
        "floe_state_meta",
        metadata,
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(255), nullable=False),
    )
    return {
        "runs": runs,
        "fingerprints": fingerprints,
        "sync_files": sync_files,
        "checkpoints": checkpoints,
        "rejected": rejected,
        "journal": journal,
        "leases": leases,
        "meta": meta,
    }
