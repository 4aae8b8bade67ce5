"""The test REST catalog is the spec: each endpoint it serves answers as the OpenAPI document says.

pyiceberg's own ``RestCatalog`` drives every implemented operation, successes and errors; the
``rest_catalog`` fixture then asserts that no answer violated the spec. The check itself is
shown to catch answers that do not conform.
"""

from __future__ import annotations

import pyarrow as pa
import pytest
from floe_test_rest_catalog import OpenApiSpec
from pyiceberg.catalog import load_catalog
from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError, OAuthError

IMPLEMENTED = {
    "getConfig",
    "getToken",
    "listNamespaces",
    "createNamespace",
    "loadNamespaceMetadata",
    "namespaceExists",
    "listTables",
    "createTable",
    "loadTable",
    "tableExists",
    "updateTable",
}


def _operations(rest_catalog: object, spec: OpenApiSpec) -> set[str]:
    found = set()
    for seen in rest_catalog.requests():  # type: ignore[attr-defined]
        op = spec.operation(seen.method, seen.path)
        assert op is not None, seen.line
        found.add(op.operation_id)
    return found


@pytest.mark.requirement("R9")
def test_every_implemented_operation_answers_as_the_spec_says(rest_catalog: object) -> None:
    config = rest_catalog.catalog_config()  # type: ignore[attr-defined]
    catalog = load_catalog(
        "polaris",
        type="rest",
        uri=config["uri"],
        warehouse=config["warehouse"],
        credential=f"{config['client_id']}:{config['client_secret']}",
        scope=config["scope"],
        **{"oauth2-server-uri": config["uri"] + "/v1/oauth/tokens"},
    )
    catalog.create_namespace("gold", {"owner": "platform"})
    assert catalog.list_namespaces() == [("gold",)]
    assert catalog.load_namespace_properties("gold")["owner"] == "platform"
    assert catalog.namespace_exists("gold") and not catalog.namespace_exists("silver")
    data = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "name": ["a", "b", "c"]})
    table = catalog.create_table("gold.people", schema=data.schema)
    table.append(data)
    assert catalog.list_tables("gold") == [("gold", "people")]
    assert catalog.table_exists("gold.people") and not catalog.table_exists("gold.nope")
    assert catalog.load_table("gold.people").scan().to_arrow().sort_by("id") == data
    with pytest.raises(NoSuchTableError):
        catalog.load_table("gold.nope")
    with pytest.raises(NoSuchNamespaceError):
        catalog.list_tables("silver")
    rest_catalog.expire_tokens_before("GET .*/tables/people$")  # type: ignore[attr-defined]
    assert catalog.load_table("gold.people").scan().to_arrow().num_rows == 3
    with pytest.raises(OAuthError):
        load_catalog("bad", **{**catalog.properties, "credential": "floe-reader:wrong"})

    spec = OpenApiSpec()
    assert _operations(rest_catalog, spec) == IMPLEMENTED
    statuses = {s.status for s in rest_catalog.requests()}  # type: ignore[attr-defined]
    assert {200, 204, 401, 404} <= statuses
    # The fixture asserts at teardown that none of these answers broke the spec.


def test_the_spec_check_catches_answers_that_do_not_conform() -> None:
    spec = OpenApiSpec()
    prefix = "/v1/wh/namespaces/gold/tables/t"

    assert spec.check_response("GET", "/v1/config", 200, {"defaults": {}, "overrides": {}}) == []
    assert spec.check_response("GET", "/v1/config", 200, {"defaults": {}}) == [
        "getConfig -> 200: $: 'overrides' is required"
    ]
    assert spec.check_response("GET", prefix, 200, {"metadata-location": "x"}) == [
        "loadTable -> 200: $: 'metadata' is required"
    ]
    assert spec.check_response("POST", "/v1/oauth/tokens", 200, {"access_token": "t"}) == [
        "getToken -> 200: $: 'token_type' is required"
    ]
    bad_error = {"error": {"message": "no", "type": "NoSuchTableException", "code": "404"}}
    assert spec.check_response("GET", prefix, 404, bad_error) == [
        "loadTable -> 404: $.error.code: str is not integer"
    ]
    assert spec.check_response("GET", "/v1/oauth/tokens", 200, {}) == [
        "GET /v1/oauth/tokens: no such operation in the spec"
    ]
    assert spec.check_response("HEAD", prefix, 204, None) == []
