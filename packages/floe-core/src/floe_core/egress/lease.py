"""One run per destination at a time: a lease row per destination in the state store.

A run takes the lease of every destination it is about to deliver before anything is sent,
renews it while it delivers (a background thread, every quarter of the lease time), and
releases it at the end. A second run finds the lease held and is refused, naming the holder.

A holder that died (``kill -9``, a lost pod) stops renewing; once its lease has gone
:data:`DEFAULT_LEASE_SECONDS` (or the configured time) without renewal, the next run takes it
over and the dead run is marked ``failed`` (interrupted) in the history.

Taking a lease is atomic on every database the state store supports: an ``INSERT`` that the
primary key refuses when a row exists, or an ``UPDATE`` whose ``WHERE`` names the holder and
expiry just read (a compare-and-swap); whoever's statement changes the row owns the lease.
Times are seconds since the epoch from one clock (injectable for tests); hosts sharing a
PostgreSQL state store need clocks that agree to well within the lease time.

The lease time comes from ``$FLOE_LEASE_SECONDS``, else the manifest's ``state.lease_seconds``,
else :data:`DEFAULT_LEASE_SECONDS`.

A dry run takes no lease (:class:`Unleased`): it sends and stores nothing, so it must neither
be refused while a scheduled run delivers nor make that run wait or fail while it computes a
preview. When a run holds the lease, the dry run says so in a warning: its preview is of the
destination's state before that run finishes.
"""

from __future__ import annotations

import contextvars
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from floe_core.egress.errors import LeaseHeldError, StateStoreError
from floe_core.egress.receipt import utc_now

if TYPE_CHECKING:
    from floe_core.egress.state import StateStore

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "Lease",
    "LeaseHolder",
    "LeaseKeeper",
    "Leases",
    "Unleased",
    "lease_seconds",
]

#: Seconds without renewal after which a destination's lease is taken to be abandoned.
DEFAULT_LEASE_SECONDS = 120.0

Clock = Callable[[], float]


def lease_seconds(
    configured: float | None = None, environ: Mapping[str, str] | None = None
) -> float:
    """The lease time: ``$FLOE_LEASE_SECONDS``, else ``configured``, else the default."""
    env = os.environ if environ is None else environ
    raw = env.get("FLOE_LEASE_SECONDS")
    if raw:
        try:
            value = float(raw)
        except ValueError:
            value = 0.0
        if value <= 0:
            raise StateStoreError(
                f"FLOE_LEASE_SECONDS must be a positive number of seconds, got {raw!r}",
                hint="set it to e.g. 120, or unset it to use the manifest's state.lease_seconds",
            )
        return value
    return float(configured) if configured else DEFAULT_LEASE_SECONDS


@dataclass(frozen=True)
class LeaseHolder:
    """The run holding (or last holding) a destination's lease."""

    destination: str
    run_id: str
    host: str
    pid: int
    started_at: datetime
    expires_at: float

    def describe(self) -> str:
        """``run <id> on host <host>, pid <pid>, started <time> UTC``."""
        started = self.started_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        return f"run {self.run_id} on host {self.host}, pid {self.pid}, started {started} UTC"


@dataclass(frozen=True)
class Lease:
    """A lease this process holds.

    Attributes:
        destination: The destination it is for.
        run_id: The run holding it.
        taken_over: The expired holder it was taken from (a run that died), if any.
    """

    destination: str
    run_id: str
    taken_over: LeaseHolder | None = None


class Leases:
    """Take, renew and release destination leases in a state store.

    Args:
        store: The state store.
        seconds: How long a lease lasts without renewal.
        clock: Seconds since the epoch (``time.time``; a test passes a fake).
    """

    def __init__(
        self, store: StateStore, *, seconds: float = DEFAULT_LEASE_SECONDS, clock: Clock = time.time
    ) -> None:
        self.store = store
        self.seconds = seconds
        self.clock = clock
        self._table = store.table("leases")

    def holder(self, destination: str) -> LeaseHolder | None:
        """Who holds ``destination``'s lease (expired or not), if anyone."""
        table = self._table
        with self.store.transaction("read a lease in") as conn:
            row = conn.execute(table.select().where(table.c.destination == destination)).first()
        return _holder(row) if row is not None else None

    def acquire(
        self, destination: str, run_id: str, *, host: str | None = None, pid: int | None = None
    ) -> Lease:
        """Take ``destination``'s lease for ``run_id``.

        Returns:
            The lease; ``taken_over`` names the expired holder it replaced, if any.

        Raises:
            LeaseHeldError: Another run holds a lease that has not expired.
            StateStoreError: The state store cannot be read or written.
        """
        import sqlalchemy as sa

        table = self._table
        values = {
            "run_id": run_id,
            "host": host or socket.gethostname(),
            "pid": os.getpid() if pid is None else pid,
            "started_at": utc_now(),
        }
        for _ in range(5):  # each pass loses only to another run's successful statement
            now = self.clock()
            current = self.holder(destination)
            if current is None:
                try:
                    with self.store.transaction("take a lease in") as conn:
                        conn.execute(
                            table.insert().values(
                                destination=destination, expires_at=now + self.seconds, **values
                            )
                        )
                except StateStoreError as exc:
                    if isinstance(exc.__cause__, sa.exc.IntegrityError):
                        continue  # another run inserted it first: look again
                    raise
                return Lease(destination, run_id)
            if current.run_id != run_id and current.expires_at > now:
                raise _held(current, self.seconds)
            with self.store.transaction("take a lease in") as conn:
                done = conn.execute(
                    table.update()
                    .where(
                        table.c.destination == destination,
                        table.c.run_id == current.run_id,
                        table.c.expires_at == current.expires_at,
                    )
                    .values(expires_at=now + self.seconds, **values)
                )
            if done.rowcount == 1:
                taken = current if current.run_id != run_id else None
                return Lease(destination, run_id, taken_over=taken)
        raise StateStoreError(
            f"could not take the lease of destination '{destination}': other runs keep changing it",
            hint="another floe run is starting on this destination; run again later",
        )

    def renew(self, lease: Lease) -> bool:
        """Push ``lease``'s expiry forward; False when it is no longer this run's."""
        table = self._table
        with self.store.transaction("renew a lease in") as conn:
            done = conn.execute(
                table.update()
                .where(table.c.destination == lease.destination, table.c.run_id == lease.run_id)
                .values(expires_at=self.clock() + self.seconds)
            )
        return bool(done.rowcount)

    def release(self, lease: Lease) -> None:
        """Give ``lease`` up (nothing happens if another run has taken it over)."""
        table = self._table
        with self.store.transaction("release a lease in") as conn:
            conn.execute(
                table.delete().where(
                    table.c.destination == lease.destination, table.c.run_id == lease.run_id
                )
            )


class LeaseKeeper:
    """Renews a lease from a background thread until :meth:`stop`, then releases it.

    Args:
        leases: Where the lease is kept.
        lease: The lease to keep.
        on_lost: Called (from the background thread) if another run took the lease over.
        log: A logger for renewals that fail.
    """

    def __init__(
        self,
        leases: Leases,
        lease: Lease,
        *,
        on_lost: Callable[[], None] | None = None,
        log: object = None,
    ) -> None:
        self.leases = leases
        self.lease = lease
        self.lost = False
        self._on_lost = on_lost
        self._log = log
        self._stopping = threading.Event()
        # In the creator's context: its log lines carry the run's run_id and destination.
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run,
            args=(self._keep,),
            name=f"floe-lease-{lease.destination}",
            daemon=True,
        )
        self._thread.start()

    def _keep(self) -> None:
        interval = max(0.05, self.leases.seconds / 4)
        while not self._stopping.wait(interval):
            try:
                if self.leases.renew(self.lease):
                    continue
            except StateStoreError as exc:
                # A blip of the state store: the lease has three more intervals to recover.
                warning = getattr(self._log, "warning", None)
                if callable(warning):
                    warning("egress.lease_not_renewed", error=str(exc))
                continue
            self.lost = True
            if self._on_lost is not None:
                self._on_lost()
            return

    def stop(self) -> None:
        """Stop renewing and release the lease."""
        self._stopping.set()
        self._thread.join()
        self.leases.release(self.lease)


class Unleased:
    """What a dry run holds instead of a lease: nothing; it warns when a run holds the lease.

    Args:
        leases: Where the lease is kept.
        destination: The destination previewed.
        log: A logger for the warning.
    """

    lost = False

    def __init__(self, leases: Leases, destination: str, *, log: object = None) -> None:
        warning = getattr(log, "warning", None)
        try:
            holder = leases.holder(destination)
        except StateStoreError as exc:
            holder = None
            if callable(warning):
                warning("egress.lease_not_read", error=str(exc))
        if holder is not None and holder.expires_at > leases.clock() and callable(warning):
            warning(
                "egress.dry_run_during_delivery",
                message=f"{holder.describe()} is delivering to destination '{destination}': "
                "this dry run shows what a run would send before that one finishes",
            )

    def stop(self) -> None:
        """Nothing to release."""


def _holder(row: Any) -> LeaseHolder:
    started = row.started_at
    if started.tzinfo is None:  # SQLite returns naive datetimes; floe stores UTC
        started = started.replace(tzinfo=UTC)
    return LeaseHolder(
        destination=row.destination,
        run_id=row.run_id,
        host=row.host,
        pid=int(row.pid),
        started_at=started,
        expires_at=float(row.expires_at),
    )


def _held(holder: LeaseHolder, seconds: float) -> LeaseHeldError:
    return LeaseHeldError(
        f"destination '{holder.destination}' is being delivered by another run: "
        f"{holder.describe()}",
        hint="wait for that run to finish; if it died, its lease expires "
        f"{seconds:g} s after its last renewal and the next run takes over "
        "(FLOE_LEASE_SECONDS or the manifest's state.lease_seconds)",
    )
