"""The receipt of one egress run: what was read, what the destination confirmed, and proof.

A receipt is printed after a run (a table for people, JSON for machines) and stored in the state
store as run history. It never holds a secret: only names, counts, hashes and sanitized errors.

Exit codes of ``floe egress run`` follow from the receipts (see :func:`exit_code`):

- ``0``: every destination succeeded, every row delivered;
- ``3``: partial: at least one destination went through, some of its source's rows are at the
  destination (delivered by this run, or by an earlier one and unchanged since) and the
  destination refused the others (kept in the state store);
- ``1``: failure: a destination stopped (unreachable, retries exhausted, interrupted), refused
  every row (none is at the destination, whether the rows were new or refused before), or the
  run could not start (configuration errors, another run holding the destination).

A Ctrl-C ends ``floe egress run`` with 130 (see :mod:`floe_core.cli.egress`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import RenderableType

    from floe_core.sync.summary import SyncSummary

__all__ = [
    "EXIT_FAILURE",
    "EXIT_PARTIAL",
    "EXIT_SUCCESS",
    "SHOWN_ERRORS",
    "Receipt",
    "RunStatus",
    "exit_code",
    "new_run_id",
    "receipt_table",
    "sync_line",
    "utc_now",
]

EXIT_SUCCESS = 0
EXIT_FAILURE = 1
EXIT_PARTIAL = 3


class RunStatus(StrEnum):
    """Outcome of one destination run."""

    RUNNING = "running"
    SUCCESS = "success"
    PARTIAL = "partial"
    FAILED = "failed"


def new_run_id() -> str:
    """A fresh, unique run id (32 hex characters)."""
    return uuid.uuid4().hex


def utc_now() -> datetime:
    """The current time in UTC, timezone-aware."""
    return datetime.now(UTC)


@dataclass
class Receipt:
    """Measured outcome of running one destination.

    Attributes:
        run_id: Unique id of this run; logs and spans carry it too.
        destination: Destination name from floe.yaml.
        sink_type: The sink type used.
        status: success, partial, failed (or running while in progress).
        started_at: When the run started (UTC).
        finished_at: When it ended (UTC); None while running.
        source_table: The Iceberg table read (``namespace.table``).
        snapshot_id: The Iceberg snapshot that was read, None for an empty table.
        rows_read: Rows read from the source table.
        rows_delivered: Rows the destination confirmed.
        rows_rejected: Rows the destination refused permanently (kept in the state store).
        bytes_transmitted: Payload bytes sent.
        duration_seconds: Wall time of the run, reading and writing.
        checksum: SHA-256 over the delivered payloads, from the sink plugin.
        idempotency_key: Deterministic key of the delivered rows, from the sink plugin.
        plugin: Name of the plugin that wrote.
        errors: Sanitized error messages.
        sync: What an incremental sync did (counts per operation, snapshot range, read
            path, files read); ``None`` for ``sync_mode: full``.
        rows_skipped: Rows not sent because the destination already had them: delivered by
            an earlier run that did not finish (same snapshot), or recognised by the
            destination's own delivery log. Not counted in ``rows_delivered``.
        destination_host: Where the destination's sink connects, as it declares it
            (``host:port``, or a local file; several comma-separated): the host checked
            against the manifest's ``egress_policy``. Never a credential.
    """

    run_id: str
    destination: str
    sink_type: str
    status: RunStatus = RunStatus.RUNNING
    started_at: datetime = field(default_factory=utc_now)
    finished_at: datetime | None = None
    source_table: str = ""
    snapshot_id: int | None = None
    rows_read: int = 0
    rows_delivered: int = 0
    rows_rejected: int = 0
    bytes_transmitted: int = 0
    duration_seconds: float = 0.0
    checksum: str = ""
    idempotency_key: str = ""
    plugin: str = ""
    errors: list[str] = field(default_factory=list)
    sync: SyncSummary | None = None
    rows_skipped: int = 0
    destination_host: str = ""

    @property
    def rows_per_second(self) -> float:
        """Delivered rows per second of run time (0 when nothing was timed)."""
        if self.duration_seconds <= 0:
            return 0.0
        return self.rows_delivered / self.duration_seconds

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (timestamps as ISO-8601 strings, rates rounded)."""
        data = asdict(self)
        data["status"] = self.status.value
        data["started_at"] = self.started_at.isoformat()
        data["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        data["duration_seconds"] = round(self.duration_seconds, 6)
        data["rows_per_second"] = round(self.rows_per_second, 1)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Receipt:
        """Rebuild a receipt from :meth:`to_dict` output."""
        values = {k: v for k, v in data.items() if k != "rows_per_second"}
        values["status"] = RunStatus(values["status"])
        values["started_at"] = datetime.fromisoformat(values["started_at"])
        if values.get("finished_at"):
            values["finished_at"] = datetime.fromisoformat(values["finished_at"])
        values["errors"] = list(values.get("errors") or [])
        if values.get("sync") is not None:
            from floe_core.sync.summary import SyncSummary

            values["sync"] = SyncSummary.from_dict(values["sync"])
        return cls(**values)


def exit_code(receipts: Iterable[Receipt]) -> int:
    """The process exit code for a set of receipts: 1 failed, 3 partial, else 0."""
    statuses = {receipt.status for receipt in receipts}
    if RunStatus.FAILED in statuses or RunStatus.RUNNING in statuses:
        return EXIT_FAILURE
    if RunStatus.PARTIAL in statuses:
        return EXIT_PARTIAL
    return EXIT_SUCCESS


_STATUS_STYLE = {
    RunStatus.SUCCESS: "bold green",
    RunStatus.PARTIAL: "bold yellow",
    RunStatus.FAILED: "bold red",
    RunStatus.RUNNING: "bold blue",
}


#: Errors a run's receipt lists after the run (``floe egress show`` lists every one).
SHOWN_ERRORS = 5


def receipt_table(receipt: Receipt, *, errors: int | None = SHOWN_ERRORS) -> RenderableType:
    """A two-column rich table showing one receipt, for people.

    Names and errors are shown as plain text: an error quoting a destination's answer may hold
    square brackets, which must not be read as rich markup.

    Args:
        receipt: The run's receipt.
        errors: How many of its errors to list (``None``: all); a line says how many more
            there are and where to see them (a run refusing rows in many batches has one
            error per refused piece).
    """
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title=f"floe egress receipt: {receipt.destination}",
        show_header=False,
        title_justify="left",
        min_width=60,
    )
    table.add_column("field", style="dim")
    table.add_column("value", overflow="fold")
    status_style = _STATUS_STYLE[receipt.status]
    table.add_row("status", f"[{status_style}]{receipt.status.value}[/]")
    table.add_row("destination", Text(f"{receipt.destination} ({receipt.sink_type})"))
    table.add_row("host", Text(receipt.destination_host or "-"))
    table.add_row("source", Text(_source(receipt)))
    if receipt.sync is not None:
        _sync_rows(table, receipt.sync)
    table.add_row("rows read", f"{receipt.rows_read:,}")
    table.add_row("rows delivered", f"{receipt.rows_delivered:,}")
    table.add_row("rows rejected", f"{receipt.rows_rejected:,}")
    if receipt.rows_skipped:
        table.add_row("rows skipped", f"{receipt.rows_skipped:,} (already at the destination)")
    table.add_row("bytes sent", _bytes(receipt.bytes_transmitted))
    table.add_row("duration", f"{receipt.duration_seconds:.3f} s")
    table.add_row("rows/s", f"{receipt.rows_per_second:,.0f}")
    table.add_row("checksum", receipt.checksum or "-")
    table.add_row("idempotency key", receipt.idempotency_key or "-")
    table.add_row("run id", receipt.run_id)
    shown = receipt.errors if errors is None else receipt.errors[:errors]
    for error in shown:
        table.add_row("[red]error[/]", Text(error))
    if len(shown) < len(receipt.errors):
        more = len(receipt.errors) - len(shown)
        table.add_row(
            "[red]error[/]",
            Text(
                f"... and {more:,} more: floe egress show {receipt.run_id[:8]} lists every one, "
                f"floe egress rejected {receipt.destination} the rows refused"
            ),
        )
    return table


def _sync_rows(table: Any, sync: SyncSummary) -> None:
    from rich.text import Text

    if sync.dry_run:
        table.add_row("dry run", "[bold]nothing was sent; counts are what a run would do[/]")
    table.add_row("sync mode", sync.mode)
    path = "up to date" if sync.read_path == "up_to_date" else sync.read_path.replace("_", " ")
    table.add_row("read", Text(f"{path}: {sync.read_reason}"))
    table.add_row("files read", _files_read(sync))
    start = sync.snapshot_from if sync.snapshot_from is not None else "none"
    table.add_row("snapshots", f"{start} -> {sync.snapshot_to}")
    if sync.config_changed:
        table.add_row("changed", "sent columns or mapping: every row counts as changed")
    if sync.mode != "full":
        for label in ("inserted", "updated", "deleted", "unchanged"):
            table.add_row(label, f"{getattr(sync, label):,}")
        if sync.rejected_keys:
            table.add_row("rejected keys", f"{sync.rejected_keys:,} (NULL or duplicate key)")
    elif sync.dry_run:
        table.add_row("to send", f"{sync.sent:,}")
    for label, rows in sync.samples.items():
        for row in rows:
            table.add_row(f"sample {label}", Text(json.dumps(row, default=str)))


def sync_line(sync: SyncSummary) -> str:
    """One line of what an incremental sync did, for ``floe egress history``."""
    path = "up to date" if sync.read_path == "up_to_date" else sync.read_path.replace("_", " ")
    start = sync.snapshot_from if sync.snapshot_from is not None else "none"
    counts = ", ".join(
        f"{getattr(sync, label):,} {label}"
        for label in ("inserted", "updated", "deleted", "unchanged")
    )
    return (
        f"{sync.mode}: {counts}; snapshots {start} -> {sync.snapshot_to}; read {path} "
        f"({_files_read(sync)})"
    )


def _files_read(sync: SyncSummary) -> str:
    """``1 of 3 data files``: the current snapshot's data files read; and the removed ones
    whose keys were read, when there are some."""
    read = f"{sync.files_read:,} of {sync.files_total:,} data files"
    if sync.files_removed:
        read += f", and the keys of {sync.files_removed:,} removed since"
    return read


def _source(receipt: Receipt) -> str:
    snapshot = receipt.snapshot_id if receipt.snapshot_id is not None else "none (empty table)"
    return f"{receipt.source_table or '-'} @ snapshot {snapshot}"


def _bytes(count: int) -> str:
    if count < 1024:
        return f"{count:,} B"
    size, units = count / 1024, ["KiB", "MiB", "GiB"]
    while size >= 1024 and len(units) > 1:
        size, units = size / 1024, units[1:]
    return f"{size:,.1f} {units[0]} ({count:,} B)"
