"""Errors raised while preparing and running an egress, before or around the sink plugin.

::

    FloeError (floe_core.errors)
    ├── SourceError / NoSuchSourceTableError   the Iceberg catalog or table (floe_core.errors)
    ├── EgressConfigError       the project asks for something that cannot run as written
    │                           (unknown destination, compile problems, field mapping naming a
    │                           column the source table lacks, no plugin for the sink type)
    │   └── MassDeleteError     a mirror run would delete more than max_delete_fraction of
    │                           the synced keys, or found the source empty
    ├── SecretError             a ``connection_secret_ref`` cannot be resolved
    │                           (floe_core.secrets.errors: not found, key missing, backend)
    ├── StateStoreError         the run-history database cannot be opened or written
    ├── LeaseHeldError          another run is delivering to the destination right now
    ├── PreparationError        several destinations could not be prepared (each one's error)
    ├── ExecutorError           the executor cannot run the delivery (Ray not installed, its
    │                           cluster unreachable, a task lost after all its retries)
    └── RunInterruptedError     Ctrl-C: the run stopped after the batches in flight

Errors raised by sink plugins (``floe_core.sinks.errors``) are ``FloeError`` subclasses too;
the CLI prints any ``FloeError`` as a one-screen message with its hint, never a traceback.
No message here ever contains a secret value: only Secret names, key names and paths.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from floe_core.errors import FloeError

if TYPE_CHECKING:
    from floe_core.egress.receipt import Receipt

__all__ = [
    "EgressConfigError",
    "ExecutorError",
    "LeaseHeldError",
    "MassDeleteError",
    "PreparationError",
    "RunInterruptedError",
    "StateStoreError",
]


class EgressConfigError(FloeError):
    """The project configuration cannot be run as written; nothing was sent."""


class StateStoreError(FloeError):
    """The state store (run history) could not be opened, read or written."""


class MassDeleteError(EgressConfigError):
    """A mirror run would delete too much; it stopped before sending anything."""


class LeaseHeldError(FloeError):
    """Another run holds the destination's lease: this run was refused before sending."""


class PreparationError(FloeError):
    """Several of the selected destinations could not be prepared; nothing was sent to any.

    Attributes:
        failures: ``(destination, error)`` for each, in the order they were prepared.
    """

    def __init__(self, failures: list[tuple[str, FloeError]], selected: int) -> None:
        self.failures = failures
        # "[name] ...", not "name: ...": a name like crm_secret before a colon would read as a
        # credential to the redactor.
        lines = "; ".join(f"[{name}] {error.message}" for name, error in failures)
        hints = "; ".join(f"[{name}] {error.hint}" for name, error in failures if error.hint)
        super().__init__(
            f"{len(failures)} of {selected} destinations could not be prepared: {lines}",
            hint=f"{hints}; `floe check` lists every problem, `floe egress run NAME ...` runs "
            "the others"
            if hints
            else "`floe check` lists every problem; `floe egress run NAME ...` runs the others",
        )


class ExecutorError(FloeError):
    """The executor chosen for the run cannot deliver with it (``executor: {type: ray}``)."""


class RunInterruptedError(FloeError):
    """The run was interrupted (Ctrl-C) while delivering; ``receipts`` are the destinations
    delivered or stopped so far, already stored in the run history."""

    def __init__(self, receipts: list[Receipt]) -> None:
        delivered = sum(receipt.rows_delivered for receipt in receipts)
        super().__init__(
            f"interrupted after {delivered} rows delivered; run again to resume",
            hint="a new run on the same snapshot skips the batches already delivered",
        )
        self.receipts = receipts
        self.rows_delivered = delivered
