"""Keys and fingerprints: the same row hashes the same wherever it is; a change shows."""

from __future__ import annotations

import pyarrow as pa
from floe_core.sync.diff import keys_to_rows
from floe_core.sync.fingerprint import config_fingerprint, row_fingerprints, row_keys


def _rows() -> pa.Table:
    return pa.table(
        {
            "id": pa.array([1, 2, 3, None], pa.int64()),
            "region": pa.array(["eu", "us", "eu", "eu"]),
            "value": pa.array([1.5, None, 3.0, 4.0]),
        }
    )


def test_a_row_hashes_the_same_in_any_batch_and_differently_when_changed() -> None:
    table = _rows()
    whole = row_fingerprints(table.to_batches()[0]).to_pylist()
    pieces = [row_fingerprints(b).to_pylist() for b in table.to_batches(max_chunksize=1)]
    assert [p[0] for p in pieces] == whole
    changed = table.set_column(2, "value", pa.array([1.5, None, 3.5, 4.0]))
    after = row_fingerprints(changed.to_batches()[0]).to_pylist()
    assert [a == b for a, b in zip(whole, after, strict=True)] == [True, True, False, True]


def test_keys_join_columns_and_are_null_when_a_key_column_is() -> None:
    batch = _rows().to_batches()[0]
    assert row_keys(batch, ["id"]).to_pylist() == ["1", "2", "3", None]
    assert row_keys(batch, ["region", "id"]).to_pylist() == ["eu\x1f1", "us\x1f2", "eu\x1f3", None]


def test_keys_turn_back_into_typed_rows_to_delete() -> None:
    schema = _rows().schema
    rows = keys_to_rows(pa.array(["eu\x1f1", "us\x1f2"]), schema, ["region", "id"])
    assert rows.to_pylist() == [
        {"id": 1, "region": "eu", "value": None},
        {"id": 2, "region": "us", "value": None},
    ]


def test_the_configuration_fingerprint_follows_mapping_columns_and_key() -> None:
    schema = _rows().schema
    base = config_fingerprint(schema, None, ["id"])
    assert config_fingerprint(schema, {}, ["id"]) == base
    assert config_fingerprint(schema, {"value": "amount"}, ["id"]) != base
    assert config_fingerprint(schema.remove(2), None, ["id"]) != base
    assert config_fingerprint(schema, None, ["id", "region"]) != base
