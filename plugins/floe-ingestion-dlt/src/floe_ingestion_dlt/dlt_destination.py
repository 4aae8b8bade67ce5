"""A sink as a dlt destination: ``dlt_destination(sink)`` for use in any dlt pipeline.

The destination is built with ``@dlt.destination`` (parquet load files, so each call gets an
Arrow record batch of the sink's batch size). Each batch dlt hands over is one run of floe's
engine (``floe_core.sinks.engine.run``), so it takes the same path as ``write``: field mapping,
the sink's ``encode``/``send``, rate limit, retries, splitting of refused batches and a
deterministic idempotency key per batch (from the table name, the batch's position within its
load package and its content, so re-running a load, in this process or a new one, sends the
same keys and a sink that de-duplicates skips what it has).

The position counts the batches of a table that the destination confirmed, and is kept in
dlt's load package state next to dlt's own record offset: when dlt retries a failed job
(in the same run, or resuming the package in a new process) from that offset, the batch it
sends again gets the position, and so the key, it had before. One table's load files are
therefore loaded one after another (``table-sequential``); different tables in parallel.

dlt calls the function once per batch with no hook at the end of a load, so each batch is a
complete write for the sink (``open`` ... ``close``). A sink that replaces the destination's
contents at ``close`` (``sql_database`` in replace mode) is refused: each batch would replace
the one before. Use append or upsert with dlt, or ``write`` to replace.
A batch that still fails after the retries raises ``DestinationTransientException``; refused
rows or a configuration problem raise ``DestinationTerminalException``, which fails the load.
Rows are never silently dropped.

dlt keeps each load package's files under ``<pipelines_dir>/<pipeline>/load/loaded/`` unless
told otherwise; run the pipeline with ``[load] delete_completed_jobs = true`` (environment
variable ``LOAD__DELETE_COMPLETED_JOBS=true``) so the data files go once delivered.

``write`` is the faster path for Arrow data already in hand: it skips dlt's extract and
normalize steps and their files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from floe_core.secrets.redact import redact
from floe_core.sinks import engine
from floe_core.sinks.batching import resolve_batch_size
from floe_core.sinks.errors import PluginError, SinkConfigurationError
from floe_core.sinks.ratelimit import RateLimiter

if TYPE_CHECKING:
    import pyarrow as pa
    from floe_core.sinks import Sink

__all__ = ["dlt_destination"]

# Key in dlt's destination state (beside its "<table>.<file id>" record offsets).
_POSITION_STATE_PREFIX = "floe.position:"


def dlt_destination(sink: Sink, *, name: str | None = None) -> Any:
    """Build a dlt destination that delivers each dlt batch through ``sink``.

    Args:
        sink: The sink (from ``create_sink``); it stays owned by the caller.
        name: dlt destination name; defaults to ``floe_<sink type>``.

    Returns:
        A dlt destination instance, to pass as ``dlt.pipeline(destination=...)``.
    """
    import dlt
    from dlt.common.destination.exceptions import (
        DestinationTerminalException,
        DestinationTransientException,
    )

    if sink.replaces_on_close:
        raise SinkConfigurationError(
            "a sink that replaces the destination's contents cannot be a dlt destination: "
            "dlt delivers batch by batch and each batch would replace the previous one",
            destination=sink.destination,
            sink_type=sink.sink_type,
            hint="use mode append or upsert with dlt, or the plugin's write() to replace",
        )
    capabilities = sink.effective_capabilities
    size = resolve_batch_size(sink.config.batch_size, capabilities)
    # One rate limit over every batch dlt hands over, as over the batches of one write.
    limiter = RateLimiter(capabilities.default_rate_limit)
    secrets = tuple(sink.secret_values)

    def deliver(items: Any, table: Any) -> None:
        batch = _as_record_batch(items)
        table_name = str(table.get("name", "table"))
        # Per load package, persisted by dlt with its record offsets (see the module doc).
        state = dlt.current.destination_state()
        state_key = f"{_POSITION_STATE_PREFIX}{table_name}"
        call = int(state.get(state_key, 0))
        try:
            outcome = engine.run(
                sink, [batch], position_prefix=f"dlt.{table_name}.{call}.", limiter=limiter
            )
        except PluginError as exc:
            raise DestinationTerminalException(redact(str(exc), secrets)) from exc
        result, error = outcome.result, outcome.error
        if error is not None:
            message = redact(str(error), secrets)
            if isinstance(error, PluginError) and error.retryable:
                raise DestinationTransientException(message) from error
            raise DestinationTerminalException(message) from error
        if result.rows_rejected:
            raise DestinationTerminalException(
                f"{result.rows_rejected} row(s) of table {table_name!r} rejected by "
                f"{sink.sink_type}/{sink.destination}: {result.errors[0]}"
            )
        # Confirmed: the next batch of this table takes the next position. dlt commits this
        # together with the record offset it advances when this function returns.
        state[state_key] = call + 1

    factory = dlt.destination(
        deliver,
        name=name or f"floe_{sink.sink_type}",
        batch_size=size,
        loader_file_format="parquet",
        naming_convention="direct",
        skip_dlt_columns_and_tables=True,
        max_parallel_load_jobs=max(1, capabilities.max_concurrency),
        loader_parallelism_strategy="table-sequential",
    )
    return factory()


def _as_record_batch(items: Any) -> pa.RecordBatch:
    import pyarrow as pa

    if isinstance(items, pa.RecordBatch):
        return items
    if isinstance(items, pa.Table):
        return items.combine_chunks().to_batches()[0]
    return pa.RecordBatch.from_pylist(list(items))
