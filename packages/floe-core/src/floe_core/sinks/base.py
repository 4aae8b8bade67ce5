"""What a sink is: the few hooks the engine calls per batch, and what it declares about itself.

The engine (``engine.py``) owns the loop: field mapping, chunking, rate limiting, concurrency,
retries, checksums, idempotency keys, tracing and the ``EgressResult``. A sink only says how
to encode one batch, how to send it, and what the destination answered (per row where it can).

Lifecycle, driven by the engine for one ``write``::

    sink = SinkClass(config)          # validates config, connects, checks credentials (fail fast)
    sink.open(schema)                 # once per write, before the first batch (create table, ...)
    payload = sink.encode(batch, op)  # CPU work, in the engine's thread, once per batch
                                      # (or encode_many(batches, op) for a few at once)
    ack = sink.send(payload, key)     # I/O; may run concurrently (capabilities.max_concurrency)
                                      # and be retried with the same payload and key
    sink.close(success)               # once per write (commit, swap staging table, ...)
    sink.dispose()                    # release connections when the sink is no longer needed
                                      # (or use the sink as a context manager)

Operations. Every write carries one :class:`Operation` (``write(sink, data, operation=...)``;
by default the sink's ``default_operation``, what its configuration says a write does). The
engine refuses, before anything is sent, an operation missing from the sink's
``effective_capabilities.operations``. The operation reaches the sink in ``encode``, which
puts it in the payload (``Payload.operation``) so ``send`` knows what to do with it, and it is
part of every idempotency key of a write whose operation is not the sink's default. A delete
travels like any other batch: the engine hands the sink the rows to delete (with every column
the data has; a sink uses only its key columns), the sink encodes them as, say,
``DELETE ... WHERE key IN (...)`` or a ``DELETE`` request, and acknowledges the rows it
removed; deleting a row the destination does not have is not an error.

Per-row results. A destination that accepts part of a batch (bulk APIs answering per record)
returns ``BatchAck(rows_confirmed=n, rejections=[RowRejection(position, reason), ...])``; the
engine reports those rows as rejected without splitting the batch. A destination that refuses
a whole request for some of its rows and says which ones (a 400 listing the invalid records)
returns them as ``rejections`` and the others as ``unsent``: the engine sends those again, in
one request. Otherwise a refused batch raises ``SinkWriteError`` and the engine may split it
(``splits_rejected_batches``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import pyarrow as pa
    from pydantic import BaseModel

    from floe_core.plugins.sink import SinkConfig
    from floe_core.sinks.endpoints import Endpoint
    from floe_core.sinks.settings import SettingProblem

__all__ = [
    "BatchAck",
    "Operation",
    "Payload",
    "RowRejection",
    "Sink",
    "SinkCapabilities",
    "SinkExample",
]


class Operation(StrEnum):
    """What a write does with its rows at the destination."""

    INSERT = "insert"
    """Add the rows; the destination is not expected to have them."""
    UPDATE = "update"
    """Change rows the destination has (matched by key); unknown keys are not created."""
    UPSERT = "upsert"
    """Create or update each row by key."""
    DELETE = "delete"
    """Remove the rows with these keys."""


@dataclass(frozen=True)
class SinkCapabilities:
    """What a sink type can do; the engine reads these instead of special-casing sinks.

    Each field changes what the engine does. What a sink does on its own is not declared
    here: its write modes (upsert, replace) are settings its config validates, and every
    sink receives an idempotency key per batch in ``send`` and uses it as its destination
    allows (an ``Idempotency-Key`` header, a delivery log).

    Attributes:
        default_batch_size: Rows per batch when the config sets none.
        max_batch_size: Hard cap on rows per batch (API limits); ``None`` for no cap.
        max_concurrency: Batches that may be in flight at once (1 = sequential).
        default_rate_limit: Requests per second when the config sets none; ``None`` = unlimited.
        splits_rejected_batches: On a permanent rejection of a multi-row batch, the engine may
            split it to deliver the good rows and isolate the bad ones.
        encode_group_rows: The engine hands consecutive batches of about this many rows in
            all to ``encode_many`` at once, for a sink whose encoding costs less that way;
            ``None``: each batch goes to ``encode`` on its own.
        operations: The operations a write may carry; the engine refuses any other before
            sending. A configured sink narrows it (``effective_capabilities``) to what its
            settings allow.
        nested_fields: The sink takes nested records: a dotted ``field_mapping`` target or
            static field reaches ``encode`` as a struct column. Otherwise such a target is a
            configuration error (see ``floe_core.sinks.shaping``).
        row_operations: Operations the sink sends one row per request (a ``DELETE
            /contacts/{id}``): their batches are one row each, so the rate limit, concurrency
            and retries apply per request.
    """

    default_batch_size: int
    max_batch_size: int | None = None
    max_concurrency: int = 1
    default_rate_limit: float | None = None
    splits_rejected_batches: bool = False
    encode_group_rows: int | None = None
    operations: frozenset[Operation] = frozenset({Operation.INSERT})
    nested_fields: bool = False
    row_operations: frozenset[Operation] = frozenset()


@dataclass
class Payload:
    """One encoded batch, exactly as it will be sent.

    Attributes:
        rows: Number of rows in the batch.
        body: The bytes that go to the destination (HTTP body, COPY data, ...); the engine
            hashes them for the checksum and idempotency key and counts them as bytes sent.
        data: Anything else the sink needs to send the batch (e.g. parameter rows).
        operation: What the destination is to do with the rows (from ``encode``).
    """

    rows: int
    body: bytes
    data: Any = None
    operation: Operation = Operation.INSERT


@dataclass(frozen=True)
class RowRejection:
    """One row of a batch the destination refused, while it accepted others.

    Attributes:
        position: The row's index in the batch (0-based, as encoded).
        reason: What the destination said, without secrets.
    """

    position: int
    reason: str


@dataclass
class BatchAck:
    """What the destination confirmed for one batch.

    ``rows_confirmed + rows_skipped + len(rejections) + len(unsent)`` is the batch's row count.

    Attributes:
        rows_confirmed: Rows the destination accepted.
        record_ids: IDs returned by the destination, when it returns any.
        rows_skipped: Rows not written because the destination already had them
            (e.g. an already-applied idempotency key).
        rejections: Rows the destination refused while accepting the rest; the engine
            reports them as rejected (no retry, no splitting).
        unsent: Positions of rows the destination neither took nor refused for themselves
            (an all-or-nothing API that refused the request for the sake of the rejected
            rows); the engine sends them again, on their own, in one request. Only with
            ``rejections``.
    """

    rows_confirmed: int
    record_ids: list[str] = field(default_factory=list)
    rows_skipped: int = 0
    rejections: list[RowRejection] = field(default_factory=list)
    unsent: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class SinkExample:
    """A destination of one sink type as ``floe init`` writes it into a new project.

    Attributes:
        config: The destination's ``config:`` settings as YAML lines (unindented), each with
            a comment saying what it does; settings left at their default commented out.
        secret: The Secret's keys with example values, written to ``secrets/<ref>/<key>``.
        destination: Further destination-level YAML lines (``primary_key: [...]``), with
            comments, when the sink wants them.
    """

    config: str
    secret: Mapping[str, str] = field(default_factory=dict)
    destination: str = ""


class Sink(ABC):
    """One destination connection. Subclasses are small: settings, encode, send.

    Construction validates the configuration and checks that the destination is reachable
    and accepts the credentials, raising ``SinkConfigurationError``/``SinkConnectionError``.

    Class attributes a sink declares:
        sink_type: Its name in floe.yaml's ``sink_type``.
        capabilities: What the engine may do with it (see ``SinkCapabilities``).
        settings_model: The pydantic model of its settings, the destination's ``config:``
            merged with its Secret (frozen, ``extra="forbid"``); ``floe validate`` checks every
            destination's ``config:`` against it (see ``validate_settings``). ``None``: the
            sink checks its settings itself, when it is built.
        secret_fields: Settings that the destination's Secret provides (a URL, a token):
            ``floe validate`` does not ask for them in ``config:``, and refuses them there (a
            URL can carry a password), but for those in ``config_secret_fields``.
        config_secret_fields: Of the ``secret_fields``, those a destination's ``config:`` may
            set instead, being no credential (a REST API's ``base_url``, which may hold no
            password).
        key_setting: The setting that names the destination's key columns, if the sink has
            one (``primary_key``): floe derives it from the destination's ``primary_key``
            through the field mapping, and refuses a value that names other columns.
        example: What ``floe init --sink <sink_type>`` writes for a destination of it.
    """

    sink_type: ClassVar[str]
    capabilities: ClassVar[SinkCapabilities]
    settings_model: ClassVar[type[BaseModel] | None] = None
    secret_fields: ClassVar[frozenset[str]] = frozenset()
    config_secret_fields: ClassVar[frozenset[str]] = frozenset()
    key_setting: ClassVar[str | None] = None
    example: ClassVar[SinkExample | None] = None

    @classmethod
    def operations_for(cls, config: Mapping[str, Any]) -> frozenset[Operation]:
        """The operations a destination with ``config:`` can do, known before it is built.

        ``floe validate`` refuses a ``sync_mode`` that needs others. The default is
        ``capabilities.operations``; a sink whose settings narrow them says how here (and
        its ``effective_capabilities`` agrees).
        """
        return cls.capabilities.operations

    @classmethod
    def settings_from_key(
        cls, config: Mapping[str, Any], key_fields: Sequence[str]
    ) -> dict[str, Any]:
        """Settings the destination's ``primary_key`` gives where ``config:`` sets none.

        floe adds them to ``config:`` before validating it and building the sink (a sink
        whose setting must name exactly the key columns declares ``key_setting`` instead).

        Args:
            config: The destination's ``config:``.
            key_fields: The key columns as destination fields, through ``field_mapping``
                (written as its targets are: dots nest, ``\\.`` is a literal dot).

        Returns:
            The settings to add; the default adds none.

        Raises:
            SinkConfigurationError: The key cannot give a setting that ``config:`` needs
                (e.g. one field is wanted and the key has several).
        """
        return {}

    @classmethod
    def validate_settings(cls, config: Mapping[str, Any]) -> list[SettingProblem]:
        """Problems with a destination's ``config:`` alone, before its Secret is read.

        Runs ``settings_model`` (its cross-field checks included) with the ``secret_fields``
        left to the Secret. The default suits any sink with a settings model; ``[]`` without
        one.
        """
        if cls.settings_model is None:
            return []
        from floe_core.sinks.settings import check_settings

        return check_settings(
            cls.settings_model,
            config,
            secret_fields=cls.secret_fields,
            config_may_set=cls.config_secret_fields,
        )

    @classmethod
    def secret_keys(cls, config: dict[str, Any]) -> list[list[str]]:
        """Groups of Secret keys, one group of which a destination with ``config`` needs.

        Checked before anything is opened, so a missing key is named with its Secret. The
        default, ``[]``, needs none.
        """
        return []

    @classmethod
    def project_paths(cls, values: dict[str, Any], project_dir: str) -> dict[str, Any]:
        """``values`` (config merged with Secret) with relative paths made relative to the project.

        Called by the runner before the sink is built, so a relative file in a destination's
        settings means the same thing wherever floe is started. The default changes nothing.
        """
        return values

    @classmethod
    def endpoints(cls, values: Mapping[str, Any]) -> list[Endpoint]:
        """Where a destination with these settings connects: hosts (and ports), or local files.

        Called before the sink is built, with the destination's ``config:`` merged with its
        Secret (paths made relative to the project, see ``project_paths``); the platform's
        ``egress_policy`` refuses the destination before anything is opened when one of them
        is not allowed. The default reads every URL among the settings and a ``host`` /
        ``port`` pair (:func:`floe_core.sinks.endpoints.endpoints_from_settings`); a sink
        that finds its destination otherwise overrides it. Never put a credential in one.
        """
        from floe_core.sinks.endpoints import endpoints_from_settings

        return endpoints_from_settings(values)

    @classmethod
    def target(cls, values: Mapping[str, Any]) -> str:
        """Where the rows land, from the settings alone (``config:`` merged with the Secret,
        as for ``endpoints``); secret-free and stable.

        An incremental sync keeps it with its fingerprints: when it changes between runs
        (another table, database or host), the fingerprints describe another place, so the
        sync starts over and sends every row. Tuning settings (batch size, connections,
        timeouts) and credentials must not change it. The default is the endpoints; a sink
        whose host holds several targets (tables, paths) overrides it.
        """
        places = (e.path or f"{e.host}:{e.port or ''}" for e in cls.endpoints(values))
        return " ".join(sorted(places))

    def __init__(self, config: SinkConfig) -> None:
        self.config = config
        self.destination = config.destination_name

    @property
    @abstractmethod
    def identity(self) -> str:
        """Stable, secret-free identity of the destination (e.g. ``POST https://host/path``).

        Part of every idempotency key, so the same rows sent to two places get different keys.
        """

    @property
    def description(self) -> str:
        """Where the destination is, for people (``floe check`` shows it), never a secret:
        e.g. ``table customers in postgresql://db.internal:5432/app``. Default: ``identity``.
        """
        return self.identity

    @property
    def default_operation(self) -> Operation:
        """What a write does when no operation is given: the first one this sink supports
        of upsert, insert, update (a sink overrides it when its settings say)."""
        operations = self.effective_capabilities.operations
        for operation in (Operation.UPSERT, Operation.INSERT, Operation.UPDATE):
            if operation in operations:
                return operation
        return next(iter(sorted(operations)))

    @property
    def effective_capabilities(self) -> SinkCapabilities:
        """What this configured instance can do: the class's capabilities, narrowed by config.

        The engine reads this, not ``capabilities``, so a sink can apply settings such as a
        request-rate or concurrency limit (e.g. ``dataclasses.replace(self.capabilities, ...)``).
        """
        return self.capabilities

    @property
    def secret_values(self) -> list[str]:
        """Secret values to scrub from any message this sink produces."""
        return []

    @property
    def replaces_on_close(self) -> bool:
        """True when a write replaces the destination's contents as a whole at ``close``.

        The rows sent are kept only by ``close(True)``; ``close(False)`` discards them, so the
        engine reports nothing delivered for a write that failed. Such a sink needs one
        ``open``/``close`` around all of a load's rows, which a caller delivering batch by
        batch with no end-of-load hook cannot give it.
        """
        return False

    def check(self, schema: pa.Schema) -> Sequence[str] | None:  # noqa: B027 - optional hook
        """Check, changing nothing at the destination, that a write of rows with ``schema``
        (after field mapping) would be accepted: the table, its columns and their types.

        ``floe check`` calls it; raise ``SinkConfigurationError`` naming the problem and the
        fix. Return warnings, one line each, for what a run would send but the destination
        store only in part (a text column sent to a number column: rows whose text is no
        number are refused); ``floe check`` shows them without failing. The default checks
        nothing beyond what construction checked.
        """

    def open(self, schema: pa.Schema) -> None:  # noqa: B027 - optional hook
        """Prepare for a write of rows with ``schema`` (after field mapping)."""

    @abstractmethod
    def encode(self, batch: pa.RecordBatch, operation: Operation | None = None) -> Payload:
        """Turn a batch into what will be sent. Pure: same batch and operation, same payload.

        Args:
            batch: The rows, with destination field names.
            operation: One of ``effective_capabilities.operations``; ``None`` means
                ``default_operation``. Store it in ``Payload.operation``.
        """

    def encode_many(
        self, batches: Sequence[pa.RecordBatch], operation: Operation | None = None
    ) -> list[Payload]:
        """Encode consecutive batches at once: one payload per batch, in order.

        Each payload must be exactly what ``encode`` gives for its batch alone (its
        idempotency key is derived from it); the engine calls this when ``encode_group_rows``
        is set. The default calls ``encode`` per batch.
        """
        return [self.encode(batch, operation) for batch in batches]

    @abstractmethod
    def send(self, payload: Payload, idempotency_key: str) -> BatchAck:
        """Deliver one payload. Raise a ``PluginError`` subclass on failure.

        Must be safe to call again with the same payload and key after a transient error.
        """

    def close(self, success: bool) -> None:  # noqa: B027 - optional hook
        """Finish a write (``success`` is False when it is being abandoned)."""

    def dispose(self) -> None:  # noqa: B027 - optional hook
        """Release connections and clients."""

    def __enter__(self) -> Sink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.dispose()
