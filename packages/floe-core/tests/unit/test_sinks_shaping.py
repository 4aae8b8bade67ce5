"""Records shaped for the destination: renames, dotted targets as objects, static fields."""

from __future__ import annotations

import pyarrow as pa
import pytest
from floe_core.plugins.sink import SinkConfig, field_mapping_problems, split_field_path
from floe_core.sinks.errors import SinkConfigurationError
from floe_core.sinks.shaping import FieldMapping


def _batch(rows: int = 3) -> pa.RecordBatch:
    return pa.record_batch(
        {
            "email": [f"u{i}@example.com" for i in range(rows)],
            "ltv": pa.array([i + 0.5 for i in range(rows)]),
            "segment": ["gold", None, "silver"][:rows],
        }
    )


@pytest.mark.requirement("R14")
def test_dotted_targets_build_objects_and_static_fields_come_first() -> None:
    batch = _batch().slice(1)  # a slice, as the engine's re-chunking hands out
    mapping = FieldMapping.for_schema(
        batch.schema,
        {"email": "id", "ltv": "properties.ltv", "segment": "properties.segment"},
        static_fields={"idProperty": "email", "properties.source": "floe"},
    )
    shaped = mapping.apply(batch)
    assert shaped.to_pylist() == [
        {
            "idProperty": "email",
            "properties": {"source": "floe", "ltv": 1.5, "segment": None},
            "id": "u1@example.com",
        },
        {
            "idProperty": "email",
            "properties": {"source": "floe", "ltv": 2.5, "segment": "silver"},
            "id": "u2@example.com",
        },
    ]
    assert mapping.target_schema(batch.schema) == shaped.schema
    # the data's own values are not copied into the objects
    ltv = shaped.column(1).field(1)
    assert ltv.buffers()[1].address == batch.column(1).buffers()[1].address


@pytest.mark.requirement("R14")
def test_static_values_keep_their_json_type() -> None:
    batch = _batch(2)
    mapping = FieldMapping.for_schema(
        batch.schema,
        None,
        static_fields={"s": "x", "n": 7, "f": 2.5, "b": False, "z": None, "a.type": "Contact"},
    )
    shaped = mapping.apply(batch)
    assert shaped.to_pylist()[0] == {
        "s": "x",
        "n": 7,
        "f": 2.5,
        "b": False,
        "z": None,
        "a": {"type": "Contact"},
        "email": "u0@example.com",
        "ltv": 0.5,
        "segment": "gold",
    }
    # one value per column, indexed by every row
    assert [shaped.schema.field(n).type for n in ("s", "n", "f", "b", "z")] == [
        pa.dictionary(pa.int32(), pa.string()),
        pa.dictionary(pa.int32(), pa.int64()),
        pa.dictionary(pa.int32(), pa.float64()),
        pa.dictionary(pa.int32(), pa.bool_()),
        pa.null(),
    ]
    assert len(shaped.column(0).dictionary) == 1
    assert mapping.apply(_batch(3)).num_rows == 3  # another batch size


@pytest.mark.requirement("R14")
def test_an_escaped_dot_is_part_of_a_flat_name() -> None:
    assert split_field_path(r"utm\.source") == ("utm.source",)
    assert split_field_path(r"a.b\\.c") == ("a", "b\\", "c")
    batch = _batch()
    mapping = FieldMapping.for_schema(batch.schema, {"segment": r"utm\.source"}, nested=False)
    assert mapping.apply(batch).schema.names == ["email", "ltv", "utm.source"]


@pytest.mark.requirement("R14")
@pytest.mark.parametrize(
    ("mapping", "static", "message"),
    [
        (
            {"ltv": "props", "segment": "props.segment"},
            None,
            "column 'segment' sets 'props.segment' while column 'ltv' sets 'props': "
            "'props' cannot be both a value and an object",
        ),
        (
            {"ltv": "email.value"},
            None,
            "column 'ltv' sets 'email.value' while column 'email' sets 'email'",
        ),
        (
            {"ltv": "a.b"},
            {"a.b": 1},
            "column 'ltv' sets 'a.b', which static field 'a.b' sets already",
        ),
        (None, {"email": "x"}, "column 'email' sets 'email', which static field 'email'"),
    ],
    ids=["value and object", "unmapped column", "column and static", "static and column"],
)
def test_conflicting_fields_are_refused_with_both_named(
    mapping: dict[str, str] | None, static: dict[str, str | int] | None, message: str
) -> None:
    with pytest.raises(SinkConfigurationError) as caught:
        FieldMapping.for_schema(
            _batch().schema, mapping, static_fields=static, destination="crm", sink_type="x"
        )
    assert message in str(caught.value)
    assert "x/crm" in str(caught.value)


@pytest.mark.requirement("R14")
def test_a_sink_of_flat_rows_refuses_nesting() -> None:
    with pytest.raises(SinkConfigurationError) as caught:
        FieldMapping.for_schema(
            _batch().schema, {"ltv": "properties.ltv"}, nested=False, sink_type="sql"
        )
    assert "column 'ltv' would be nested inside an object, but this sink writes flat rows" in str(
        caught.value
    )
    assert r"`a\.b` is the field 'a.b'" in str(caught.value)


@pytest.mark.requirement("R14")
def test_a_mapping_alone_is_checked_for_conflicts_and_empty_parts() -> None:
    problems = field_mapping_problems({"a": "x", "b": "x.y", "c": "p..q", "d": "x"})
    assert [(source, message) for source, message, _ in problems] == [
        ("c", "maps to 'p..q' has an empty part between dots"),
        ("d", "maps to 'x', which 'a' already maps to"),
        ("b", "sets 'x.y' while column 'a' sets 'x': 'x' cannot be both a value and an object"),
    ]


@pytest.mark.requirement("R14")
def test_sink_config_checks_static_fields() -> None:
    config = SinkConfig("rest_api", static_fields={"kind": "contact"}, destination_name="crm")
    assert config.static_fields == {"kind": "contact"}
    assert "static_fields={'kind': 'contact'}" in repr(config)
    with pytest.raises(ValueError, match=r"static_fields\['bad'\] has a value of type list"):
        SinkConfig("rest_api", static_fields={"bad": [1]})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match=r"static_fields\['id'\] sets 'id', which column 'e'"):
        SinkConfig("rest_api", field_mapping={"e": "id"}, static_fields={"id": 1})


def test_a_misspelt_field_mapping_column_gets_a_did_you_mean() -> None:
    with pytest.raises(SinkConfigurationError) as caught:
        FieldMapping.for_schema(_batch().schema, {"segmnt": "customer_segment", "ltv": "x"})

    assert "field_mapping names column(s) 'segmnt' that the data does not have" in str(caught.value)
    assert caught.value.hint.startswith("did you mean 'segment'? fix the field_mapping keys")
