"""``operations:`` of the rest_api sink: what each request setting means, and what is refused."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from floe_core.sinks.base import Operation
from floe_ingestion_dlt.sinks.rest.config import RestApiSettings
from floe_ingestion_dlt.sinks.rest.operations import (
    OperationRequest,
    RowRoute,
    operation_support,
)
from pydantic import ValidationError


def _settings(**operations: Any) -> RestApiSettings:
    return RestApiSettings.model_validate(
        {"base_url": "http://api.test", "path": "/contacts", "operations": operations}
    )


def test_a_path_with_a_placeholder_is_one_row_per_request_with_a_default_body() -> None:
    delete = OperationRequest.model_validate({"method": "delete", "path": "/contacts/{id}"})
    update = OperationRequest(method="PATCH", path="/contacts/{id}")
    batch = OperationRequest(method="POST", path="/contacts/batch/archive")
    assert (delete.method, delete.resolved_body, delete.per_row) == ("DELETE", "none", True)
    assert (update.resolved_body, update.per_row) == ("record", True)
    assert (batch.resolved_body, batch.per_row) == ("array", False)
    assert delete.placeholders == ("id",)


def test_the_operations_configured_are_the_ones_the_sink_can_do() -> None:
    settings = _settings(
        delete={"method": "DELETE", "path": "/contacts/{id}"},
        insert={"method": "POST", "path": "/contacts/batch/create"},
    )
    supported, per_row = operation_support(settings.operations, settings.body)
    assert supported == {Operation.UPSERT, Operation.INSERT, Operation.DELETE}
    assert per_row == {Operation.DELETE}
    assert operation_support({}, "record") == (
        frozenset({Operation.UPSERT}),
        frozenset({Operation.UPSERT}),
    )


@pytest.mark.parametrize(
    ("request_", "says"),
    [
        ({"method": "DELETE", "path": "/c/{id}", "body": "array"}, "one row per request"),
        ({"method": "DELETE", "path": "/c", "body": "none"}, "says which row"),
        ({"method": "POST", "path": "/c", "body": "envelope"}, "needs envelope_key"),
        ({"method": "POST", "path": "/c", "envelope_key": "inputs"}, "only with body"),
        ({"method": "DELETE", "path": "/c/{id}", "fields": ["id"]}, "no effect"),
        ({"method": "DELETE", "path": "/c/{id!r}"}, "record field only"),
        ({"method": "DELETE", "path": "/c/{id"}, "path"),
        ({"method": "GET", "path": "/c"}, "method"),
    ],
)
def test_a_request_that_cannot_work_is_refused_with_the_reason(
    request_: dict[str, Any], says: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        _settings(delete=request_)
    assert says in str(refused.value)


def test_an_unknown_operation_is_refused() -> None:
    with pytest.raises(ValidationError, match="upsert"):
        _settings(upsert={"method": "POST", "path": "/c"})


def test_a_route_fills_in_the_path_url_encoded_and_picks_the_fields() -> None:
    route = RowRoute(
        OperationRequest(method="PATCH", path="/contacts/{email}", fields=["segment"]),
        ("email",),
        Operation.UPDATE,
    )
    batch = pa.record_batch({"email": ["a/b c@x.y"], "segment": ["gold"], "ltv": [1]})
    assert route.path_of(batch) == ("/contacts/a%2Fb%20c%40x.y", None)
    assert route.select(batch).schema.names == ["segment"]
    assert route.check(["email", "segment"]) is None
    assert "not a field" in (route.check(["segment"]) or "")
    missing = pa.record_batch({"email": pa.array([None], pa.string()), "segment": ["x"]})
    assert route.path_of(missing) == (
        None,
        "email is NULL, so the request path cannot name the record",
    )


def test_a_delete_with_a_body_sends_the_key_fields_by_default() -> None:
    request = OperationRequest(method="POST", path="/archive", body="envelope", envelope_key="in")
    route = RowRoute(request, ("id",), Operation.DELETE)
    assert route.fields == ("id",)
    assert "no key fields" in (RowRoute(request, (), Operation.DELETE).check(["id"]) or "")
