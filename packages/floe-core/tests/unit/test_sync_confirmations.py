"""Fingerprints advance only for rows the destination confirmed, batch by batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pytest
from floe_core.plugins.sink import SinkConfig
from floe_core.sinks import engine
from floe_core.sinks.base import BatchAck, Operation, Payload, RowRejection, Sink, SinkCapabilities
from floe_core.sinks.errors import SinkConnectionError
from floe_core.sinks.testing import conformance_rows
from floe_core.sync.confirmations import Confirmations, Fed
from floe_core.sync.fingerprint import row_fingerprints, row_keys
from floe_core.sync.store import FingerprintStore


class DictSink(Sink):
    """Keeps upserted rows by id; refuses the rows of ``refused`` ids; goes down after
    ``up_for`` batches."""

    sink_type: ClassVar[str] = "dict"
    capabilities: ClassVar[SinkCapabilities] = SinkCapabilities(
        default_batch_size=10, operations=frozenset({Operation.UPSERT, Operation.DELETE})
    )

    def __init__(self, refused: frozenset[int] = frozenset(), up_for: int | None = None) -> None:
        super().__init__(
            SinkConfig(
                sink_type="dict",
                connection_config={},
                retry_config={"max_attempts": 1},
                batch_size=10,
                destination_name="d",
            )
        )
        self.rows: dict[int, dict[str, Any]] = {}
        self.refused = refused
        self.up_for = up_for
        self.batches = 0

    @property
    def identity(self) -> str:
        return "dict"

    def encode(self, batch: pa.RecordBatch, operation: Operation | None = None) -> Payload:
        return Payload(
            batch.num_rows,
            b"",
            data=batch.to_pylist(),
            operation=operation or self.default_operation,
        )

    def send(self, payload: Payload, idempotency_key: str) -> BatchAck:
        if self.up_for is not None and self.batches >= self.up_for:
            raise SinkConnectionError("destination down", destination="d", sink_type="dict")
        self.batches += 1
        rejections = [
            RowRejection(i, "refused")
            for i, r in enumerate(payload.data)
            if r["id"] in self.refused
        ]
        for row in payload.data:
            if row["id"] not in self.refused:
                self.rows[row["id"]] = row
        return BatchAck(rows_confirmed=payload.rows - len(rejections), rejections=rejections)


def _write(sink: DictSink, store: FingerprintStore, rows: pa.Table) -> Confirmations:
    confirmations = Confirmations(store, "abc123", 10, ["id"], None, None)

    def fed() -> Any:
        for batch in rows.to_batches(max_chunksize=7):
            keys, fps = row_keys(batch, ["id"]), row_fingerprints(batch)
            yield batch, Fed(keys, fps, pa.array([True] * batch.num_rows))

    engine.write(
        sink,
        pa.RecordBatchReader.from_batches(rows.schema, confirmations.feed(fed())),
        operation=Operation.UPSERT,
        on_progress=confirmations.on_progress,
        on_rejected=confirmations.on_rejected,
    )
    confirmations.flush()
    return confirmations


def _stored(store: FingerprintStore) -> list[int]:
    return sorted(int(key) for key in store.load()["key"].to_list())


def test_every_confirmed_row_is_recorded(tmp_path: Path) -> None:
    store = FingerprintStore(tmp_path, "d")
    done = _write(DictSink(), store, conformance_rows(45))
    assert done.complete and done.inserted == 45
    assert _stored(store) == list(range(45))


def test_rows_the_destination_refused_do_not_advance(tmp_path: Path) -> None:
    store = FingerprintStore(tmp_path, "d")
    sink = DictSink(refused=frozenset({3, 17}))
    done = _write(sink, store, conformance_rows(30))
    assert done.inserted == 28
    assert _stored(store) == sorted(sink.rows) == [i for i in range(30) if i not in (3, 17)]


@pytest.mark.parametrize("up_for", [0, 1, 3])
def test_a_write_stopped_part_way_keeps_exactly_the_batches_confirmed_before(
    tmp_path: Path, up_for: int
) -> None:
    store = FingerprintStore(tmp_path, "d")
    sink = DictSink(up_for=up_for)
    done = _write(sink, store, conformance_rows(45))
    assert not done.complete
    assert _stored(store) == sorted(sink.rows) == list(range(10 * up_for))


def test_deltas_survive_without_compaction_and_fold_into_the_base(tmp_path: Path) -> None:
    store = FingerprintStore(tmp_path, "d")
    _write(DictSink(), store, conformance_rows(12))
    # A killed run never compacts: a new store object (a new process) still sees the rows.
    again = FingerprintStore(tmp_path, "d")
    assert _stored(again) == list(range(12))
    again.record(pa.array(["3", "4"]), None, "def456")
    assert _stored(FingerprintStore(tmp_path, "d")) == [i for i in range(12) if i not in (3, 4)]
    again.compact(again.meta())
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["base.parquet", "meta.json"]
    assert _stored(FingerprintStore(tmp_path, "d")) == [i for i in range(12) if i not in (3, 4)]
