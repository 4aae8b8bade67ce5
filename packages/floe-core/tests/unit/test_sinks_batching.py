"""Input normalisation, exact re-chunking and field mapping."""

from __future__ import annotations

import pyarrow as pa
import pytest
from floe_core.sinks.base import Operation, SinkCapabilities
from floe_core.sinks.batching import (
    FieldMapping,
    iter_record_batches,
    rechunk,
    resolve_batch_size,
    row_groups,
)
from floe_core.sinks.errors import SinkConfigurationError


def _table(rows: int) -> pa.Table:
    return pa.table({"id": list(range(rows)), "name": [f"n{i}" for i in range(rows)]})


@pytest.mark.requirement("R8")
def test_every_input_shape_yields_the_same_rows() -> None:
    table = _table(10)
    batches = table.to_batches(max_chunksize=3)
    reader = pa.RecordBatchReader.from_batches(table.schema, batches)
    for data in (table, reader, batches, iter(batches), batches[0], [table]):
        rows = pa.Table.from_batches(list(iter_record_batches(data)))
        expected = table if data is not batches[0] else pa.Table.from_batches([batches[0]])
        assert rows.equals(expected)


@pytest.mark.requirement("R8")
def test_items_that_are_not_batches_are_refused() -> None:
    with pytest.raises(TypeError, match=r"item 1 .* dict"):
        list(iter_record_batches([_table(1).to_batches()[0], {"id": 1}]))
    with pytest.raises(TypeError, match="RecordBatchReader"):
        list(iter_record_batches("not data"))


@pytest.mark.requirement("R8")
@pytest.mark.parametrize(("chunk", "size"), [(1, 4), (3, 4), (4, 4), (10, 4), (7, 1), (25, 100)])
def test_rechunk_cuts_exact_sizes_and_keeps_order(chunk: int, size: int) -> None:
    table = _table(25)
    out = list(rechunk(table.to_batches(max_chunksize=chunk), size))
    sizes = [b.num_rows for b in out]
    assert all(s == size for s in sizes[:-1])
    assert 0 < sizes[-1] <= size
    assert pa.Table.from_batches(out).equals(table)


@pytest.mark.requirement("R8")
def test_rechunk_drops_empty_batches() -> None:
    empty = pa.record_batch({"id": pa.array([], pa.int64()), "name": pa.array([], pa.string())})
    full = _table(3).to_batches()[0]
    assert [b.num_rows for b in rechunk([empty, full, empty, full], 4)] == [4, 2]


def test_row_groups_hold_exact_row_counts_as_slices_of_the_input() -> None:
    table = _table(10)
    groups = list(row_groups(table.to_batches(max_chunksize=3), 4))
    assert [sum(part.num_rows for part in group) for group in groups] == [4, 4, 2]
    # a group spanning two input batches holds one slice of each, not a copy
    assert [part.num_rows for part in groups[0]] == [3, 1]
    assert pa.Table.from_batches([part for group in groups for part in group]).equals(table)


@pytest.mark.requirement("R8")
def test_batch_size_resolution() -> None:
    capped = SinkCapabilities(default_batch_size=100, max_batch_size=50)
    assert resolve_batch_size(None, capped) == 50
    assert resolve_batch_size(10, capped) == 10
    assert resolve_batch_size(1000, capped) == 50
    assert resolve_batch_size(None, SinkCapabilities(default_batch_size=100)) == 100


@pytest.mark.requirement("R8")
def test_an_operation_sent_one_row_per_request_has_one_row_batches() -> None:
    per_row = SinkCapabilities(
        default_batch_size=100,
        operations=frozenset({Operation.UPSERT, Operation.DELETE}),
        row_operations=frozenset({Operation.DELETE}),
    )
    assert resolve_batch_size(50, per_row, Operation.DELETE) == 1
    assert resolve_batch_size(50, per_row, Operation.UPSERT) == 50
    assert resolve_batch_size(50, per_row) == 50


@pytest.mark.requirement("R14")
def test_field_mapping_renames_without_copying() -> None:
    batch = _table(2).to_batches()[0]
    mapping = FieldMapping.for_schema(batch.schema, {"name": "full_name"})
    renamed = mapping.apply(batch)
    assert renamed.schema.names == ["id", "full_name"]
    assert renamed.column(1).buffers()[1].address == batch.column(1).buffers()[1].address
    assert mapping.target_schema(batch.schema).names == ["id", "full_name"]
    unchanged = FieldMapping.for_schema(batch.schema, None)
    assert unchanged.apply(batch) is batch


@pytest.mark.requirement("R14")
def test_field_mapping_errors_name_the_problem() -> None:
    schema = _table(1).schema
    with pytest.raises(SinkConfigurationError) as missing:
        FieldMapping.for_schema(
            schema, {"ltv": "lifetime_value"}, destination="crm", sink_type="rest_api"
        )
    assert "'ltv'" in str(missing.value)
    assert "available columns: id, name" in str(missing.value)
    assert "rest_api/crm" in str(missing.value)
    with pytest.raises(SinkConfigurationError, match="several columns are named 'id'"):
        FieldMapping.for_schema(schema, {"name": "id"})
