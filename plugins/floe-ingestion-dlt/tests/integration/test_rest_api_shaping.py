"""Records shaped for real APIs, as a real HTTP server on 127.0.0.1 receives them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pyarrow as pa
import pytest
from floe_core.sinks.base import Sink
from floe_ingestion_dlt import DltIngestionPlugin


def _contacts(rows: int) -> pa.Table:
    return pa.table(
        {
            "email": [f"c{i}@example.com" for i in range(rows)],
            "ltv": pa.array([f"{i}.5" for i in range(rows)]),
            "segment": [None if i % 2 else "gold" for i in range(rows)],
        }
    )


@pytest.mark.requirement("R14")
def test_dotted_targets_and_static_fields_arrive_as_nested_objects(
    plugin: DltIngestionPlugin, make_sink: Callable[..., Sink], api_server: Any
) -> None:
    sink = make_sink(
        batch_size=100,
        field_mapping={"email": "id", "ltv": "properties.ltv", "segment": "properties.segment"},
        static_fields={"idProperty": "email", "properties.source": "floe", "sync": True},
    )
    result = plugin.write(sink, _contacts(150))

    assert result.success, result.errors
    assert api_server.rows[:2] == [
        {
            "idProperty": "email",
            "properties": {"source": "floe", "ltv": "0.5", "segment": "gold"},
            "sync": True,
            "id": "c0@example.com",
        },
        {
            "idProperty": "email",
            "properties": {"source": "floe", "ltv": "1.5", "segment": None},
            "sync": True,
            "id": "c1@example.com",
        },
    ]
    assert len(api_server.rows) == 150
    assert api_server.accepted_bodies[0].startswith(
        b'[{"idProperty":"email","properties":{"source":"floe","ltv":"0.5","segment":"gold"},'
    )
    assert orjson.loads(api_server.accepted_bodies[1])[49]["id"] == "c149@example.com"
