"""The conformance suite passes a sink that keeps its contract, and catches ones that do not.

``StoreSink`` keeps rows in an in-memory store that can be told to fail (busy, "retry in N
seconds", a refused row): the smallest sink there is, run through every case. The broken
variants each break one promise, and the case that guards it fails.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson
import pyarrow as pa
import pytest
from floe_core.plugins import SinkConfig
from floe_core.sinks import (
    BatchAck,
    Operation,
    Payload,
    RowRejection,
    Sink,
    SinkCapabilities,
    SinkPlugin,
    SinkTransientWriteError,
)
from floe_core.sinks.testing import Destination, FakeClock, SinkConformance

TOKEN = "store-token-4e21b7"


@dataclass
class Store:
    """The destination: rows by id, and the misbehaviour asked for."""

    rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    applied: set[str] = field(default_factory=set)
    busy: int = 0
    wait: list[int] = field(default_factory=list)
    refused: set[int] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


STORES: dict[str, Store] = {}


class StoreSink(Sink):
    sink_type: ClassVar[str] = "store"
    capabilities: ClassVar[SinkCapabilities] = SinkCapabilities(
        default_batch_size=100,
        max_concurrency=2,
        operations=frozenset({Operation.UPSERT, Operation.DELETE}),
    )

    def __init__(self, config: SinkConfig) -> None:
        super().__init__(config)
        self.store = STORES[config.connection_config["store"]]

    @property
    def identity(self) -> str:
        return f"store://{self.config.connection_config['store']}"

    @property
    def secret_values(self) -> list[str]:
        return [self.config.connection_config["token"]]

    def encode(self, batch: pa.RecordBatch, operation: Operation | None = None) -> Payload:
        op = operation or self.default_operation
        return Payload(rows=batch.num_rows, body=orjson.dumps(batch.to_pylist()), operation=op)

    def send(self, payload: Payload, idempotency_key: str) -> BatchAck:
        store = self.store
        with store.lock:
            if store.busy:
                store.busy -= 1
                raise SinkTransientWriteError("store busy", sink_type=self.sink_type)
            if store.wait:
                seconds = store.wait.pop(0)
                raise SinkTransientWriteError("slow down", http_status=429, retry_after=seconds)
            records = orjson.loads(payload.body)
            rejections = [
                RowRejection(i, f"id {r['id']} refused")
                for i, r in enumerate(records)
                if r["id"] in store.refused
            ]
            if idempotency_key not in store.applied:
                store.applied.add(idempotency_key)
                for record in records:
                    if record["id"] in store.refused:
                        continue
                    if payload.operation is Operation.DELETE:
                        store.rows.pop(record["id"], None)
                    else:
                        store.rows[record["id"]] = record
        return BatchAck(rows_confirmed=payload.rows - len(rejections), rejections=rejections)


class StorePlugin(SinkPlugin):
    sink_classes: ClassVar[dict[str, type[Sink] | str]] = {"store": StoreSink}


class StoreDestination(Destination):
    reports_row_rejections = True

    def __init__(self, name: str) -> None:
        self.name = name
        self.plugin_class: type[SinkPlugin] = StorePlugin
        self.store = STORES.setdefault(name, Store())

    @property
    def plugin(self) -> SinkPlugin:
        return self.plugin_class()

    @property
    def secret(self) -> str:
        return TOKEN

    def sink_config(self, *, batch_size: int | None, retry_config: dict[str, Any]) -> SinkConfig:
        return SinkConfig(
            "store",
            {"store": self.name, "token": TOKEN},
            batch_size=batch_size,
            retry_config=retry_config,
            destination_name="mem",
        )

    def rows(self) -> list[dict[str, Any]]:
        return list(self.store.rows.values())

    def fail_transiently(self, times: int) -> None:
        self.store.busy += times

    def answer_retry_after(self, seconds: int) -> None:
        self.store.wait.append(seconds)

    def refuse_row(self, row_id: int) -> None:
        self.store.refused.add(row_id)


@pytest.fixture
def store_destination(request: pytest.FixtureRequest) -> Iterator[StoreDestination]:
    name = request.node.nodeid
    yield StoreDestination(name)
    STORES.pop(name, None)


class TestStoreSinkConformance(SinkConformance):
    @pytest.fixture
    def destination(self, store_destination: StoreDestination) -> StoreDestination:
        return store_destination


# -- the suite catches a sink that breaks its contract ---------------------------------------


class LeakySink(StoreSink):
    """Forgets to declare its token as a secret, and puts it in an error."""

    @property
    def secret_values(self) -> list[str]:
        return []

    def send(self, payload: Payload, idempotency_key: str) -> BatchAck:
        if self.store.busy:
            self.store.busy -= 1
            raise SinkTransientWriteError(f"busy (client {TOKEN})", sink_type=self.sink_type)
        return super().send(payload, idempotency_key)


class DeafSink(StoreSink):
    """Drops the destination's Retry-After: the engine then waits its own backoff."""

    def send(self, payload: Payload, idempotency_key: str) -> BatchAck:
        if self.store.wait:
            self.store.wait.pop(0)
            raise SinkTransientWriteError("slow down", http_status=429)
        return super().send(payload, idempotency_key)


def _with(sink_class: type[StoreSink], destination: StoreDestination) -> StoreDestination:
    plugin = type("Plugin", (SinkPlugin,), {"sink_classes": {"store": sink_class}})
    destination.plugin_class = plugin
    return destination


def test_a_secret_in_an_error_fails_the_suite(store_destination: StoreDestination) -> None:
    with pytest.raises(AssertionError, match="the secret appears in errors"):
        SinkConformance().test_no_secret_appears_in_errors(_with(LeakySink, store_destination))


def test_an_ignored_retry_after_fails_the_suite(store_destination: StoreDestination) -> None:
    with pytest.raises(AssertionError, match="should carry retry_after=7"):
        SinkConformance().test_retry_after_is_honoured(_with(DeafSink, store_destination))


def test_a_declaration_the_sink_contradicts_fails_the_suite(
    store_destination: StoreDestination,
) -> None:
    class NeverRefuses(StoreDestination):
        refuses_rows = False  # contradicted: a destination that never refuses a row
        reports_row_rejections = True  # has no rejections to report

    destination = NeverRefuses(store_destination.name)
    with pytest.raises(AssertionError):
        SinkConformance().test_a_refused_row_is_isolated(destination)


def test_the_fake_clock_moves_only_when_slept_on() -> None:
    clock = FakeClock()
    clock.sleep(2.5)
    clock.sleep(-1)
    assert (clock(), clock.sleeps) == (2.5, [2.5, -1])
