"""The shared engine loop, driven with an in-memory sink implementing the real ``Sink`` hook."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any, ClassVar

import orjson
import pyarrow as pa
import pytest
from floe_core.plugins import SinkConfig
from floe_core.sinks import engine
from floe_core.sinks.base import (
    BatchAck,
    Operation,
    Payload,
    RowRejection,
    Sink,
    SinkCapabilities,
)
from floe_core.sinks.engine import write
from floe_core.sinks.errors import (
    SinkAuthenticationError,
    SinkConfigurationError,
    SinkConnectionError,
    SinkTransientWriteError,
    SinkWriteError,
)
from floe_core.sinks.idempotency import DeliveryChecksum, batch_key, payload_digest, write_key
from floe_core.sinks.testing import FakeClock

FAST_RETRIES = {"initial_backoff_seconds": 0.0, "max_backoff_seconds": 0.0, "max_attempts": 3}


class MemorySink(Sink):
    """Keeps what it receives; fails on purpose when told to."""

    sink_type: ClassVar[str] = "memory"
    capabilities: ClassVar[SinkCapabilities] = SinkCapabilities(
        default_batch_size=10, max_batch_size=50, splits_rejected_batches=True
    )

    def __init__(
        self,
        config: SinkConfig,
        *,
        concurrency: int = 1,
        reject_ids: set[int] | None = None,
        transient_failures: int = 0,
        always_fail_from_call: int | None = None,
        auth_fail: bool = False,
        send_delay: float = 0.0,
        splits: bool = True,
        replaces: bool = False,
    ) -> None:
        super().__init__(config)
        self.concurrency = concurrency
        self.reject_ids = reject_ids or set()
        self.transient_failures = transient_failures
        self.always_fail_from_call = always_fail_from_call
        self.auth_fail = auth_fail
        self.send_delay = send_delay
        self.splits = splits
        self.replaces = replaces
        self.lock = threading.Lock()
        self.calls: list[tuple[str, int]] = []
        self.delivered: dict[str, bytes] = {}
        self.rows: list[dict[str, Any]] = []
        self.opened: list[pa.Schema] = []
        self.closed: list[bool] = []
        self.max_in_flight = 0
        self._in_flight = 0

    @property
    def identity(self) -> str:
        return f"memory://{self.destination}"

    @property
    def effective_capabilities(self) -> SinkCapabilities:
        return replace(
            self.capabilities,
            max_concurrency=self.concurrency,
            splits_rejected_batches=self.splits,
        )

    @property
    def replaces_on_close(self) -> bool:
        return self.replaces

    def open(self, schema: pa.Schema) -> None:
        self.opened.append(schema)

    def close(self, success: bool) -> None:
        self.closed.append(success)

    def encode(self, batch: pa.RecordBatch, operation: Operation | None = None) -> Payload:
        return Payload(
            rows=batch.num_rows,
            body=orjson.dumps(batch.to_pylist()),
            operation=operation or self.default_operation,
        )

    def send(self, payload: Payload, idempotency_key: str) -> BatchAck:
        with self.lock:
            self.calls.append((idempotency_key, payload.rows))
            call_number = len(self.calls)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            if self.send_delay:
                time.sleep(self.send_delay)
            if self.auth_fail:
                raise SinkAuthenticationError(
                    "refused", destination=self.destination, http_status=401
                )
            if self.always_fail_from_call is not None and call_number >= self.always_fail_from_call:
                raise SinkConnectionError("down", destination=self.destination)
            with self.lock:
                if self.transient_failures > 0:
                    self.transient_failures -= 1
                    raise SinkConnectionError("connection reset", destination=self.destination)
            records = orjson.loads(payload.body)
            bad = [r["id"] for r in records if r.get("id") in self.reject_ids]
            if bad:
                raise SinkWriteError(f"invalid ids {bad}", http_status=400)
            with self.lock:
                if idempotency_key not in self.delivered:
                    self.delivered[idempotency_key] = payload.body
                    self.rows.extend(records)
            return BatchAck(rows_confirmed=payload.rows, record_ids=[str(r["id"]) for r in records])
        finally:
            with self.lock:
                self._in_flight -= 1


def _config(**kwargs: Any) -> SinkConfig:
    kwargs.setdefault("retry_config", FAST_RETRIES)
    return SinkConfig(sink_type="memory", connection_config={}, destination_name="mem", **kwargs)


def _table(rows: int, start: int = 0) -> pa.Table:
    ids = list(range(start, start + rows))
    return pa.table({"id": ids, "name": [f"n{i}" for i in ids]})


def _small_batches(table: pa.Table, size: int) -> Iterator[pa.RecordBatch]:
    yield from table.to_batches(max_chunksize=size)


@pytest.mark.requirement("R8")
def test_rows_arrive_in_batches_of_batch_size_from_a_stream_of_odd_batches() -> None:
    sink = MemorySink(_config(batch_size=7))
    result = write(sink, _small_batches(_table(40), 3))
    assert result.success
    assert result.rows_delivered == 40
    assert [rows for _, rows in sink.calls] == [7, 7, 7, 7, 7, 5]
    assert [r["id"] for r in sink.rows] == list(range(40))
    assert sink.opened and sink.closed == [True]


@pytest.mark.requirement("R8")
def test_batch_size_defaults_to_the_sink_default_and_is_capped_by_its_maximum() -> None:
    default = MemorySink(_config())
    write(default, _table(25))
    assert [rows for _, rows in default.calls] == [10, 10, 5]
    capped = MemorySink(_config(batch_size=500))
    write(capped, _table(120))
    assert [rows for _, rows in capped.calls] == [50, 50, 20]


@pytest.mark.requirement("R8")
def test_reader_and_table_inputs_are_accepted() -> None:
    table = _table(12)
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=5))
    sink = MemorySink(_config(batch_size=4))
    assert write(sink, reader).rows_delivered == 12
    assert write(MemorySink(_config(batch_size=4)), table).rows_delivered == 12


@pytest.mark.requirement("R8")
@pytest.mark.parametrize(
    "data",
    [
        pytest.param(_table(0), id="empty-table"),
        pytest.param([], id="empty-list"),
        pytest.param(
            pa.RecordBatchReader.from_batches(_table(0).schema, []), id="reader-without-batches"
        ),
        pytest.param([pa.record_batch({"id": pa.array([], pa.int64())})], id="empty-batch"),
    ],
)
def test_empty_input_succeeds_with_zero_rows_and_sends_nothing(data: Any) -> None:
    sink = MemorySink(_config(batch_size=5))
    result = write(sink, data)
    assert result.success
    assert result.rows_delivered == 0
    assert result.bytes_transmitted == 0
    assert sink.calls == []
    assert sink.opened == []
    assert result.delivery_timestamp.endswith("+00:00")


@pytest.mark.requirement("R14")
def test_field_mapping_renames_columns() -> None:
    sink = MemorySink(_config(batch_size=5, field_mapping={"name": "full_name"}))
    write(sink, _table(3))
    assert sink.rows[0] == {"id": 0, "full_name": "n0"}
    assert sink.opened[0].names == ["id", "full_name"]


@pytest.mark.requirement("R14")
def test_field_mapping_of_a_missing_column_names_it_and_the_available_ones() -> None:
    sink = MemorySink(_config(field_mapping={"lifetime_value": "ltv"}))
    with pytest.raises(SinkConfigurationError) as caught:
        write(sink, _table(3))
    message = str(caught.value)
    assert "'lifetime_value'" in message
    assert "id, name" in message
    assert "memory/mem" in message
    assert sink.calls == []


@pytest.mark.requirement("R8")
def test_non_arrow_data_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"pyarrow\.Table"):
        write(MemorySink(_config()), {"id": [1, 2]})


@pytest.mark.requirement("R8")
def test_receipt_numbers_are_measured() -> None:
    sink = MemorySink(_config(batch_size=4))
    result = write(sink, _table(10))
    bodies = [sink.delivered[key] for key, _ in sink.calls]
    checksum = DeliveryChecksum()
    for body in bodies:
        checksum.update(body)
    assert result.bytes_transmitted == sum(len(b) for b in bodies)
    assert result.checksum == "sha256:" + checksum.hexdigest()
    assert result.destination_record_ids == [str(i) for i in range(10)]
    assert result.duration_seconds > 0


@pytest.mark.requirement("B5")
def test_idempotency_keys_are_deterministic_and_depend_on_destination_and_rows() -> None:
    first, second = MemorySink(_config(batch_size=4)), MemorySink(_config(batch_size=4))
    a, b = write(first, _table(10)), write(second, _table(10))
    assert a.idempotency_key == b.idempotency_key
    assert [k for k, _ in first.calls] == [k for k, _ in second.calls]
    assert len({k for k, _ in first.calls}) == 3

    other_rows = write(MemorySink(_config(batch_size=4)), _table(10, start=1))
    other_place = MemorySink(SinkConfig("memory", {}, destination_name="elsewhere", batch_size=4))
    assert other_rows.idempotency_key != a.idempotency_key
    assert write(other_place, _table(10)).idempotency_key != a.idempotency_key


@pytest.mark.requirement("R8")
def test_identical_batches_in_one_write_get_different_keys() -> None:
    same = pa.table({"id": [1] * 6})
    sink = MemorySink(_config(batch_size=2))
    write(sink, same)
    assert len({key for key, _ in sink.calls}) == 3
    assert len(sink.rows) == 6


@pytest.mark.requirement("R8")
def test_transient_failures_are_retried_with_the_same_key() -> None:
    sink = MemorySink(_config(batch_size=5), transient_failures=2)
    result = write(sink, _table(5))
    assert result.success
    assert len(sink.calls) == 3
    assert len({key for key, _ in sink.calls}) == 1


@pytest.mark.requirement("R13")
def test_retries_exhausted_stop_the_write_and_report_what_was_delivered() -> None:
    progress: list[int] = []
    sink = MemorySink(_config(batch_size=5), always_fail_from_call=3)
    result = write(sink, _table(30), on_progress=progress.append)
    assert not result.success
    assert result.rows_delivered == 10
    assert len(result.errors) == 1
    assert "after 3 attempts" in result.errors[0]
    # the failing batch was tried 3 times; later batches were never sent
    assert len(sink.calls) == 2 + 3
    assert sink.closed == [False]
    assert progress == [5, 10, 10]


@pytest.mark.requirement("R8")
def test_bytes_count_only_payloads_the_destination_answered() -> None:
    sink = MemorySink(_config(batch_size=5), always_fail_from_call=3)
    result = write(sink, _table(30))
    assert result.rows_delivered == 10
    # the third batch never reached the destination (3 attempts): its bytes are not counted
    assert result.bytes_transmitted == sum(len(body) for body in sink.delivered.values())
    nothing = write(MemorySink(_config(batch_size=5), always_fail_from_call=1), _table(10))
    assert (nothing.rows_delivered, nothing.bytes_transmitted) == (0, 0)


@pytest.mark.requirement("B6")
def test_a_refused_batch_counts_its_bytes_once_and_stays_out_of_the_checksum() -> None:
    sink = MemorySink(_config(batch_size=4), reject_ids={5}, splits=False)
    result = write(sink, _table(12))
    bodies = [orjson.dumps(b.to_pylist()) for b in _table(12).to_batches(max_chunksize=4)]
    assert result.rows_rejected == 4
    assert result.bytes_transmitted == sum(len(body) for body in bodies)
    confirmed = DeliveryChecksum()
    for body in (bodies[0], bodies[2]):
        confirmed.update(body)
    assert result.checksum == "sha256:" + confirmed.hexdigest()


@pytest.mark.requirement("R13")
def test_refused_credentials_stop_the_write_without_retrying() -> None:
    sink = MemorySink(_config(batch_size=5), auth_fail=True)
    result = write(sink, _table(20))
    assert not result.success
    assert len(sink.calls) == 1
    assert "HTTP 401" in result.errors[0]


@pytest.mark.requirement("B6")
def test_a_refused_row_is_isolated_and_the_others_delivered() -> None:
    rejected: list[tuple[pa.Table, str]] = []
    sink = MemorySink(_config(batch_size=8), reject_ids={5, 13})
    result = write(sink, _table(20), on_rejected=lambda rows, why: rejected.append((rows, why)))
    assert not result.success
    assert result.rows_delivered == 18
    assert result.rows_rejected == 2
    assert sorted(r["id"] for r in sink.rows) == sorted(set(range(20)) - {5, 13})
    assert [rows.column("id").to_pylist() for rows, _ in rejected] == [[5], [13]]
    assert all("HTTP 400" in why for _, why in rejected)
    assert len(result.errors) == 2 and "1 row(s) rejected" in result.errors[0]


@pytest.mark.requirement("B6")
def test_a_batch_refused_whatever_piece_is_sent_is_rejected_whole() -> None:
    rejected: list[list[int]] = []
    sink = MemorySink(_config(batch_size=16), reject_ids=set(range(20)))
    result = write(
        sink, _table(20), on_rejected=lambda rows, _why: rejected.append(rows["id"].to_pylist())
    )
    assert (result.rows_delivered, result.rows_rejected) == (0, 20)
    # the 16-row batch: itself, then halves, quarters, eighths (15 requests), then the first
    # eighth halved down to one row (2 more), every piece refused: no more
    first = [rows for _, rows in sink.calls][:17]
    assert first == [16, 8, 8, 4, 4, 4, 4] + [2] * 8 + [1, 1]
    # the 4-row batch is too small to tell: split down to single rows
    assert [rows for _, rows in sink.calls][17:] == [4, 2, 2, 1, 1, 1, 1]
    assert rejected == [list(range(16)), [16], [17], [18], [19]]


@pytest.mark.requirement("B6")
def test_bad_rows_scattered_through_every_eighth_of_a_batch_are_isolated() -> None:
    """A few bad rows in every eighth of a batch refuse all eight pieces, as a batch-wide
    refusal does; the first piece, halved on, has a half that goes through: the rows are
    refused one by one, and every good row is delivered."""
    bad = {3, 13, 21, 30, 37, 45, 52, 60, 63}  # at least one in each eighth of 64 rows
    rejected: list[list[int]] = []
    sink = MemorySink(_config(batch_size=64), reject_ids=bad)
    result = write(
        sink, _table(64), on_rejected=lambda rows, _why: rejected.append(rows["id"].to_pylist())
    )
    assert (result.rows_delivered, result.rows_rejected) == (64 - len(bad), len(bad))
    assert sorted(r["id"] for r in sink.rows) == sorted(set(range(64)) - bad)
    assert rejected == [[i] for i in sorted(bad)]
    assert len(sink.rows) == len({r["id"] for r in sink.rows})  # each good row once


@pytest.mark.requirement("B6")
def test_bad_rows_in_both_halves_are_isolated() -> None:
    rejected: list[list[int]] = []
    # batch 0-7: 0-3 delivered; 4-7 refused, and so are both of its halves 4-5 and 6-7
    sink = MemorySink(_config(batch_size=8), reject_ids={4, 6})
    result = write(
        sink, _table(8), on_rejected=lambda rows, _why: rejected.append(rows["id"].to_pylist())
    )
    assert (result.rows_delivered, result.rows_rejected) == (6, 2)
    assert sorted(r["id"] for r in sink.rows) == [0, 1, 2, 3, 5, 7]
    assert rejected == [[4], [6]]
    assert [rows for _, rows in sink.calls] == [8, 4, 4, 2, 2, 1, 1, 1, 1]


@pytest.mark.requirement("B6")
def test_scattered_bad_rows_in_a_large_batch_leave_every_good_row_delivered() -> None:
    bad = {3, 17, 40, 41, 90, 127}
    sink = MemorySink(_config(batch_size=128), reject_ids=bad)
    result = write(sink, _table(128))
    assert (result.rows_delivered, result.rows_rejected) == (122, 6)
    assert sorted(r["id"] for r in sink.rows) == sorted(set(range(128)) - bad)


@pytest.mark.requirement("B6")
def test_seven_bad_rows_in_seven_eighths_leave_every_good_row_delivered() -> None:
    # One bad row in each eighth but the last: after three levels of halving 7 of the 8
    # pieces are refused. Only all 8 refused means "the destination refuses every row".
    bad = {eighth * 6 + 2 for eighth in range(7)}  # a 48-row batch: eighths of 6 rows
    rejected: list[list[int]] = []
    sink = MemorySink(_config(batch_size=48), reject_ids=bad)
    result = write(
        sink, _table(48), on_rejected=lambda rows, _why: rejected.append(rows["id"].to_pylist())
    )
    assert [rows for _, rows in sink.calls][:15] == [48, 24, 24] + [12] * 4 + [6] * 8
    assert (result.rows_delivered, result.rows_rejected) == (41, 7)
    assert sorted(r["id"] for r in sink.rows) == sorted(set(range(48)) - bad)
    assert rejected == [[i] for i in sorted(bad)]


@pytest.mark.requirement("B6")
def test_rejected_rows_keep_source_column_names() -> None:
    rejected: list[pa.Table] = []
    sink = MemorySink(_config(batch_size=4, field_mapping={"name": "label"}), reject_ids={2})
    write(sink, _table(4), on_rejected=lambda rows, _why: rejected.append(rows))
    assert rejected[0].column_names == ["id", "name"]


@pytest.mark.requirement("B6")
def test_without_splitting_the_whole_batch_is_rejected_and_the_write_goes_on() -> None:
    sink = MemorySink(_config(batch_size=4), reject_ids={1}, splits=False)
    result = write(sink, _table(12))
    assert result.rows_delivered == 8
    assert result.rows_rejected == 4
    assert len(sink.calls) == 3


@pytest.mark.requirement("R8")
def test_concurrent_sends_keep_order_and_bound_in_flight_batches() -> None:
    sink = MemorySink(_config(batch_size=2), concurrency=4, send_delay=0.01)
    progress: list[int] = []
    result = write(sink, _table(40), on_progress=progress.append)
    assert result.success and result.rows_delivered == 40
    assert 1 < sink.max_in_flight <= 4
    assert progress == list(range(2, 41, 2))
    sequential = write(MemorySink(_config(batch_size=2)), _table(40))
    # same payloads, same order: same checksum and key whatever the concurrency
    assert result.checksum == sequential.checksum
    assert result.idempotency_key == sequential.idempotency_key


@pytest.mark.requirement("R8")
def test_a_schema_change_before_anything_is_sent_is_a_configuration_error() -> None:
    batches = [_table(2).to_batches()[0], pa.record_batch({"id": [1], "other": ["x"]})]
    sink = MemorySink(_config(batch_size=5))
    with pytest.raises(SinkConfigurationError, match="changes schema"):
        write(sink, batches)
    assert sink.calls == []


@pytest.mark.requirement("R8")
def test_a_schema_change_after_batches_were_sent_stops_and_reports_them() -> None:
    batches = [_table(2).to_batches()[0], pa.record_batch({"id": [1], "other": ["x"]})]
    sink = MemorySink(_config(batch_size=1))
    result = write(sink, batches)
    assert not result.success
    assert len(result.errors) == 1 and "changes schema" in result.errors[0]
    assert result.rows_delivered == len(sink.rows) == 2
    assert sink.closed == [False]


@pytest.mark.requirement("R8")
def test_a_read_error_part_way_reports_the_rows_already_delivered() -> None:
    progress: list[int] = []

    def source() -> Iterator[pa.RecordBatch]:
        yield from _table(12).to_batches(max_chunksize=4)
        raise OSError("data file s3://warehouse/x.parquet is gone")

    sink = MemorySink(_config(batch_size=4), concurrency=2)
    result = write(sink, source(), on_progress=progress.append)
    assert not result.success
    assert result.rows_delivered == len(sink.rows) == 12
    assert [r["id"] for r in sink.rows] == list(range(12))
    assert result.errors == ["OSError: data file s3://warehouse/x.parquet is gone"]
    assert result.bytes_transmitted == sum(len(body) for body in sink.delivered.values())
    assert progress == [4, 8, 12]
    assert sink.closed == [False]


@pytest.mark.requirement("R8")
def test_a_replacing_sink_that_failed_reports_nothing_delivered() -> None:
    sink = MemorySink(_config(batch_size=5), always_fail_from_call=3, replaces=True)
    result = write(sink, _table(30))
    assert not result.success
    assert sink.closed == [False]
    assert result.rows_delivered == 0
    assert result.destination_record_ids == []
    assert result.checksum == "sha256:" + DeliveryChecksum().hexdigest()
    assert any("discarded the 10 row(s)" in error for error in result.errors)


@pytest.mark.requirement("R8")
def test_a_replacing_sink_that_succeeded_reports_every_row() -> None:
    sink = MemorySink(_config(batch_size=5), replaces=True)
    result = write(sink, _table(12))
    assert result.success and result.rows_delivered == 12
    assert sink.closed == [True]


@pytest.mark.requirement("R8")
def test_an_unknown_retry_config_key_is_rejected() -> None:
    sink = MemorySink(_config(retry_config={"max_retries": 3}))
    with pytest.raises(SinkConfigurationError, match="max_retries"):
        write(sink, _table(2))


@pytest.mark.requirement("R8")
def test_many_rejections_are_summarised_in_errors() -> None:
    sink = MemorySink(_config(batch_size=1), reject_ids=set(range(150)), splits=False)
    result = write(sink, _table(150))
    assert result.rows_rejected == 150
    assert len(result.errors) == 101
    assert result.errors[-1] == "... and 50 more error(s) not listed"


class GroupEncodingSink(MemorySink):
    """Asks the engine for several batches at a time and records the groups it gets."""

    capabilities: ClassVar[SinkCapabilities] = replace(
        MemorySink.capabilities, encode_group_rows=12
    )

    def __init__(self, config: SinkConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.groups: list[list[int]] = []

    def encode_many(
        self, batches: Sequence[pa.RecordBatch], operation: Operation | None = None
    ) -> list[Payload]:
        self.groups.append([batch.num_rows for batch in batches])
        return super().encode_many(batches, operation)


@pytest.mark.requirement("R8")
def test_a_sink_encoding_groups_of_batches_sends_the_same_batches() -> None:
    grouped = GroupEncodingSink(_config(batch_size=5), concurrency=2)
    result = write(grouped, _small_batches(_table(48), 7))
    # groups close once they hold encode_group_rows (12) rows: 3 batches of 5
    assert grouped.groups == [[5, 5, 5], [5, 5, 5], [5, 5, 5], [3]]
    one_by_one = MemorySink(_config(batch_size=5), concurrency=2)
    expected = write(one_by_one, _small_batches(_table(48), 7))
    assert result.success and result.rows_delivered == 48
    # Two workers: rows arrive in the order requests finish; the checksum holds batch order.
    assert sorted(r["id"] for r in grouped.rows) == list(range(48))
    assert grouped.delivered == one_by_one.delivered
    assert (result.checksum, result.idempotency_key) == (
        expected.checksum,
        expected.idempotency_key,
    )


@pytest.mark.requirement("R8")
def test_a_read_error_while_grouping_still_delivers_the_rows_read_before() -> None:
    def source() -> Iterator[pa.RecordBatch]:
        yield from _table(20).to_batches(max_chunksize=4)
        raise OSError("data file s3://warehouse/x.parquet is gone")

    sink = GroupEncodingSink(_config(batch_size=4))
    result = write(sink, source())
    # the second group was not full when reading failed: it is encoded and sent all the same
    assert sink.groups == [[4, 4, 4], [4, 4]]
    assert not result.success
    assert result.rows_delivered == len(sink.rows) == 20
    assert result.errors == ["OSError: data file s3://warehouse/x.parquet is gone"]


@pytest.mark.requirement("R8")
def test_groups_of_wide_rows_stay_within_the_byte_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    wide = pa.table({"id": range(30), "name": ["x" * 1000 for _ in range(30)]})
    monkeypatch.setattr(engine, "GROUP_BYTES", 8_000)  # about 8 rows of this table
    sink = GroupEncodingSink(_config(batch_size=2))
    result = write(sink, wide)
    assert result.success and result.rows_delivered == 30
    assert all(sum(group) <= 8 for group in sink.groups)
    assert sum(map(sum, sink.groups)) == 30


@pytest.mark.requirement("R8")
def test_keys_are_derived_from_each_payload_as_sent() -> None:
    sink = MemorySink(_config(batch_size=4), concurrency=3)
    result = write(sink, _table(10))
    identity = sink.identity
    bodies = [orjson.dumps(batch.to_pylist()) for batch in _table(10).to_batches(max_chunksize=4)]
    digests = [payload_digest(body) for body in bodies]
    expected = [batch_key(identity, str(i), digest) for i, digest in enumerate(digests)]
    assert sorted(key for key, _rows in sink.calls) == sorted(expected)
    assert result.idempotency_key == write_key(identity, digests)


# -- operations and per-row results ----------------------------------------------------------


class BulkSink(MemorySink):
    """Upserts and deletes; accepts part of a batch, listing the refused rows in its ack.

    ``refuse`` maps an id to the reason the destination gives for refusing that row.
    """

    capabilities: ClassVar[SinkCapabilities] = replace(
        MemorySink.capabilities,
        operations=frozenset({Operation.UPSERT, Operation.DELETE}),
    )

    def __init__(self, config: SinkConfig, *, refuse: dict[int, str] | None = None) -> None:
        super().__init__(config)
        self.refuse = refuse or {}
        self.operations: list[Operation] = []
        self.offset = 0  # added to every rejection position, to send out-of-range ones

    def send(self, payload: Payload, idempotency_key: str) -> BatchAck:
        with self.lock:
            self.calls.append((idempotency_key, payload.rows))
            self.operations.append(payload.operation)
        records = orjson.loads(payload.body)
        rejections = [
            RowRejection(position + self.offset, self.refuse[record["id"]])
            for position, record in enumerate(records)
            if record["id"] in self.refuse
        ]
        refused = {r.position - self.offset for r in rejections}
        with self.lock:
            self.rows.extend(r for i, r in enumerate(records) if i not in refused)
        return BatchAck(rows_confirmed=payload.rows - len(rejections), rejections=rejections)


def test_an_operation_the_sink_lacks_is_refused_before_anything_is_sent() -> None:
    sink = MemorySink(_config(batch_size=5))
    with pytest.raises(SinkConfigurationError) as raised:
        write(sink, _table(10), operation="delete")
    message = str(raised.value)
    assert "this destination cannot delete rows; it supports: insert" in message
    assert "[memory/mem]" in message
    assert sink.calls == [] and sink.opened == []


def test_an_unknown_operation_names_the_known_ones() -> None:
    sink = MemorySink(_config())
    with pytest.raises(SinkConfigurationError, match="unknown operation 'merge'") as raised:
        write(sink, _table(3), operation="merge")
    assert "insert, update, upsert, delete" in str(raised.value)
    assert sink.calls == []


def test_the_write_operation_reaches_every_payload() -> None:
    sink = BulkSink(_config(batch_size=4))
    assert sink.default_operation is Operation.UPSERT
    write(sink, _table(10))
    write(sink, _table(10), operation=Operation.DELETE)
    assert sink.operations == [Operation.UPSERT] * 3 + [Operation.DELETE] * 3


def test_a_non_default_operation_changes_the_idempotency_keys() -> None:
    upserted = BulkSink(_config(batch_size=4))
    deleted = BulkSink(_config(batch_size=4))
    upsert = write(upserted, _table(10), operation="upsert")
    default = write(BulkSink(_config(batch_size=4)), _table(10))
    delete = write(deleted, _table(10), operation="delete")
    # The same bytes (this sink encodes a delete as the rows), yet no key is shared.
    assert {key for key, _ in upserted.calls}.isdisjoint(key for key, _ in deleted.calls)
    assert delete.idempotency_key != upsert.idempotency_key
    assert upsert.idempotency_key == default.idempotency_key  # upsert is this sink's default
    again = BulkSink(_config(batch_size=4))
    assert write(again, _table(10), operation="delete").idempotency_key == delete.idempotency_key
    assert [key for key, _ in again.calls] == [key for key, _ in deleted.calls]


def test_rows_an_ack_rejects_are_reported_without_splitting_the_batch() -> None:
    rejected: list[tuple[pa.Table, str]] = []
    refuse = {3: "email invalid", 6: "on hold", 7: "email invalid", 12: "on hold"}
    table = pa.table({"customer": list(range(15)), "name": [f"n{i}" for i in range(15)]})
    mapped = SinkConfig(
        sink_type="memory",
        connection_config={},
        destination_name="mem",
        batch_size=10,
        field_mapping={"customer": "id"},
        retry_config=FAST_RETRIES,
    )
    sink = BulkSink(mapped, refuse=refuse)

    result = write(sink, table, on_rejected=lambda rows, why: rejected.append((rows, why)))

    assert len(sink.calls) == 2, "one request per batch: a partial answer needs no splitting"
    assert (result.rows_delivered, result.rows_rejected) == (11, 4)
    assert not result.success
    # Grouped by reason within a batch, in order of first row; source column names.
    assert [(t.column("customer").to_pylist(), why) for t, why in rejected] == [
        ([3, 7], "email invalid"),
        ([6], "on hold"),
        ([12], "on hold"),
    ]
    assert all(t.column_names == ["customer", "name"] for t, _ in rejected)
    assert result.errors == [
        "2 row(s) rejected: email invalid",
        "1 row(s) rejected: on hold",
        "1 row(s) rejected: on hold",
    ]
    assert sorted(r["id"] for r in sink.rows) == sorted(set(range(15)) - set(refuse))


class AllOrNothingSink(BulkSink):
    """Refuses a whole request holding a refused row, naming those rows (a 400 listing them)."""

    def send(self, payload: Payload, idempotency_key: str) -> BatchAck:
        records = orjson.loads(payload.body)
        refused = [i for i, record in enumerate(records) if record["id"] in self.refuse]
        if not refused:
            return super().send(payload, idempotency_key)
        with self.lock:
            self.calls.append((idempotency_key, payload.rows))
        return BatchAck(
            rows_confirmed=0,
            rejections=[RowRejection(i, self.refuse[records[i]["id"]]) for i in refused],
            unsent=[i for i in range(len(records)) if i not in refused],
        )


def test_rows_left_unsent_for_the_refused_rows_sake_are_sent_again_in_one_request() -> None:
    rejected: list[tuple[list[int], str]] = []
    sink = AllOrNothingSink(_config(batch_size=10), refuse={2: "bad email", 5: "bad email"})
    result = write(
        sink,
        _table(15),
        on_rejected=lambda rows, why: rejected.append((rows.column("id").to_pylist(), why)),
    )

    assert [rows for _, rows in sink.calls] == [10, 8, 5], "no splitting: the rest, once"
    assert (result.rows_delivered, result.rows_rejected) == (13, 2)
    assert rejected == [([2, 5], "bad email")]
    assert sorted(r["id"] for r in sink.rows) == sorted(set(range(15)) - {2, 5})
    # The checksum covers what was delivered: the refused request is not part of it.
    rows = _table(15).to_pylist()
    expected = DeliveryChecksum()
    expected.update(orjson.dumps([r for r in rows[:10] if r["id"] not in (2, 5)]))
    expected.update(orjson.dumps(rows[10:]))
    assert result.checksum == f"sha256:{expected.hexdigest()}"


def test_rows_unsent_without_a_refused_row_are_a_bug_in_the_sink() -> None:
    class StuckSink(MemorySink):
        def send(self, payload: Payload, idempotency_key: str) -> BatchAck:
            return BatchAck(rows_confirmed=0, unsent=list(range(payload.rows)))

    with pytest.raises(IndexError, match="unsent, without naming a refused row"):
        write(StuckSink(_config(batch_size=5)), _table(5))


def test_a_rejection_reason_is_scrubbed_of_the_sinks_secrets() -> None:
    class SecretSink(BulkSink):
        @property
        def secret_values(self) -> list[str]:
            return ["tok-ack-99812"]

    rejected: list[str] = []
    sink = SecretSink(_config(batch_size=5), refuse={1: "token tok-ack-99812 may not write id 1"})
    result = write(sink, _table(5), on_rejected=lambda rows, why: rejected.append(why))
    assert result.rows_rejected == 1
    assert "tok-ack-99812" not in rejected[0] and "tok-ack-99812" not in result.errors[0]


def test_a_rejection_outside_the_batch_is_a_bug_in_the_sink() -> None:
    sink = BulkSink(_config(batch_size=5), refuse={4: "no"})
    sink.offset = 1  # the sink reports row 5 of a 5-row batch
    with pytest.raises(IndexError, match="rejection of row 5 in a batch of 5 rows"):
        write(sink, _table(5))


def test_retry_after_is_waited_for_with_the_injected_sleep() -> None:
    class BusySink(MemorySink):
        def send(self, payload: Payload, idempotency_key: str) -> BatchAck:
            if not self.calls:
                self.calls.append((idempotency_key, payload.rows))
                raise SinkTransientWriteError("slow down", http_status=429, retry_after=12)
            return super().send(payload, idempotency_key)

    clock = FakeClock()
    sink = BusySink(_config(batch_size=5))
    outcome = engine.run(sink, _table(5), clock=clock, sleep=clock.sleep)
    assert outcome.result.success
    assert clock.sleeps == [12.0], "the wait asked for, once (the rate limiter adds none)"
    assert len({key for key, _ in sink.calls}) == 1


@pytest.mark.requirement("B5")
def test_confirmed_batches_are_reported_in_order_and_skipped_by_a_later_write() -> None:
    journal: list[tuple[str, int]] = []
    first = MemorySink(_config(batch_size=5), always_fail_from_call=4)
    stopped = write(first, _table(30), on_confirmed=lambda key, rows: journal.append((key, rows)))
    assert not stopped.success and stopped.rows_delivered == 15
    assert journal == [(key, rows) for key, rows in first.calls[:3]]  # the failed one is not

    progress: list[int] = []
    again = MemorySink(_config(batch_size=5))
    resumed = write(
        again, _table(30), confirmed={key for key, _ in journal}, on_progress=progress.append
    )

    assert resumed.success
    assert (resumed.rows_delivered, resumed.rows_skipped) == (15, 15)
    assert [r["id"] for r in again.rows] == list(range(15, 30))  # only what was not confirmed
    assert progress[-1] == 30
    assert (
        resumed.idempotency_key
        == write(MemorySink(_config(batch_size=5)), _table(30)).idempotency_key
    )


@pytest.mark.requirement("B5")
def test_a_batch_with_rejected_rows_is_confirmed_once_the_destination_answered_for_all() -> None:
    journal: list[tuple[str, int]] = []
    sink = MemorySink(_config(batch_size=5), reject_ids={7})
    result = write(sink, _table(10), on_confirmed=lambda key, rows: journal.append((key, rows)))
    assert (result.rows_delivered, result.rows_rejected) == (9, 1)
    assert journal[0] == (sink.calls[0][0], 5)  # batch 0, confirmed whole
    assert journal[1] == (f"split:{sink.calls[1][0]}", 0)  # batch 1 refused: being split
    assert sum(rows for _, rows in journal) == 10  # its pieces as confirmed, then the rest


@pytest.mark.requirement("B5")
def test_a_write_stopped_while_splitting_a_batch_is_not_sent_twice_on_resume() -> None:
    journal: list[tuple[str, int]] = []
    first = MemorySink(_config(batch_size=8), reject_ids={3}, always_fail_from_call=5)
    # Batch 0 refused, split: [0-3] refused, [4-7] confirmed; [0-1] confirmed; [2-3] fails.
    stopped = write(first, _table(16), on_confirmed=lambda key, rows: journal.append((key, rows)))
    assert not stopped.success and sorted(r["id"] for r in first.rows) == [0, 1, 4, 5, 6, 7]
    assert sum(rows for _, rows in journal) == 6

    again = MemorySink(_config(batch_size=8), reject_ids={3})
    resumed = write(again, _table(16), confirmed={key for key, _ in journal})

    assert (resumed.rows_delivered, resumed.rows_skipped, resumed.rows_rejected) == (9, 6, 1)
    received = sorted(r["id"] for r in [*first.rows, *again.rows])
    assert received == sorted(set(range(16)) - {3})  # every good row once: none sent twice
    assert all(rows <= 2 for _, rows in again.calls[:3])  # batch 0 was not sent whole again


@pytest.mark.requirement("B5")
def test_a_replacing_sink_neither_journals_nor_skips() -> None:
    journal: list[tuple[str, int]] = []
    plain = MemorySink(_config(batch_size=5))
    write(plain, _table(10))
    keys = {key for key, _ in plain.calls}
    sink = MemorySink(_config(batch_size=5), replaces=True)
    result = write(
        sink, _table(10), confirmed=keys, on_confirmed=lambda k, r: journal.append((k, r))
    )
    assert (result.rows_delivered, result.rows_skipped) == (10, 0)
    assert journal == []


SECRET = "tok7f3k9q"


class PickySink(BulkSink):
    """Refuses a whole batch holding an id of ``refuse_batch`` (naming its token); lists the
    rows of ``refuse`` as refused in the ack of a batch it accepts."""

    def __init__(
        self,
        config: SinkConfig,
        *,
        refuse_batch: set[int],
        refuse: dict[int, str] | None = None,
        splits: bool = True,
    ) -> None:
        super().__init__(config, refuse=refuse)
        self.refuse_batch = refuse_batch
        self.splits = splits
        self.sent: list[tuple[str, bytes]] = []

    @property
    def secret_values(self) -> list[str]:
        return [SECRET]

    def send(self, payload: Payload, idempotency_key: str) -> BatchAck:
        with self.lock:
            self.sent.append((idempotency_key, payload.body))
        bad = [r["id"] for r in orjson.loads(payload.body) if r["id"] in self.refuse_batch]
        if bad:
            with self.lock:
                self.calls.append((idempotency_key, payload.rows))
                self.operations.append(payload.operation)
            raise SinkWriteError(f"token {SECRET} may not write ids {bad}", http_status=400)
        return super().send(payload, idempotency_key)


@pytest.mark.requirement("B6")
def test_the_pieces_of_a_split_batch_are_sent_like_batches_of_the_write() -> None:
    # Batch 0-7 is refused for id 5; its piece 0-3 is accepted but its ack refuses id 0.
    rejected: list[tuple[list[int], str]] = []
    sink = PickySink(_config(batch_size=8), refuse_batch={5}, refuse={0: "email invalid"})
    result = write(
        sink,
        _table(8),
        operation="delete",
        on_rejected=lambda rows, why: rejected.append((rows["id"].to_pylist(), why)),
    )
    assert sorted(r["id"] for r in sink.rows) == [1, 2, 3, 4, 6, 7]
    assert (result.rows_delivered, result.rows_rejected) == (6, 2)
    assert [ids for ids, _ in rejected] == [[0], [5]]
    assert rejected[0][1] == "email invalid"
    assert "may not write ids [5]" in rejected[1][1] and SECRET not in rejected[1][1]
    # Every piece is a delete too, keyed by its position in the write and its own bytes.
    assert set(sink.operations) == {Operation.DELETE}
    pieces = ["", ".0", ".1", ".1.0", ".1.1", ".1.0.0", ".1.0.1"]
    positions = [f"delete.0{piece}" for piece in pieces]
    assert [key for key, _ in sink.sent] == [
        batch_key(sink.identity, where, payload_digest(body))
        for where, (_, body) in zip(positions, sink.sent, strict=True)
    ]
    # Every payload was answered (confirmed or refused): all of their bytes count.
    assert result.bytes_transmitted == sum(len(body) for _, body in sink.sent)


@pytest.mark.requirement("B6")
def test_a_batch_rejected_whole_gives_the_destinations_reason_without_secrets() -> None:
    rejected: list[tuple[int, str]] = []
    sink = PickySink(_config(batch_size=8), refuse_batch=set(range(8)))
    write(sink, _table(8), on_rejected=lambda rows, why: rejected.append((rows.num_rows, why)))
    assert len(sink.sent) == 15, "the batch, its halves, quarters and eighths"
    [(rows, why)] = rejected
    assert rows == 8
    assert "may not write ids [0, 1, 2, 3, 4, 5, 6, 7]" in why and SECRET not in why

    unsplit: list[str] = []
    sink = PickySink(_config(batch_size=4), refuse_batch={2}, splits=False)
    write(sink, _table(4), on_rejected=lambda rows, why: unsplit.append(why))
    assert len(sink.sent) == 1
    assert len(unsplit) == 1
    assert "may not write ids [2]" in unsplit[0] and SECRET not in unsplit[0]


@pytest.mark.requirement("B6")
def test_a_two_row_batch_with_one_bad_row_delivers_the_other() -> None:
    rejected: list[list[int]] = []
    sink = MemorySink(_config(batch_size=2), reject_ids={1})
    result = write(
        sink, _table(2), on_rejected=lambda rows, _why: rejected.append(rows["id"].to_pylist())
    )
    assert [rows for _, rows in sink.calls] == [2, 1, 1]
    assert [r["id"] for r in sink.rows] == [0]
    assert rejected == [[1]]
    assert (result.rows_delivered, result.rows_rejected) == (1, 1)
