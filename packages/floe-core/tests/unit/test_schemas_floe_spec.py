"""floe.yaml: FloeSpec and DestinationConfig."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from floe_core.plugins.sink import MAX_BATCH_SIZE
from floe_core.schemas import DestinationConfig, FloeSpec, RetryConfig
from floe_core.schemas._validation import ERROR_TYPE
from pydantic import ValidationError

MakeDestination = Callable[..., dict[str, Any]]


def _errors(exc: pytest.ExceptionInfo[ValidationError]) -> list[dict[str, Any]]:
    return [dict(e) for e in exc.value.errors(include_url=False)]


@pytest.mark.requirement("R12")
def test_a_spec_without_destinations_validates(spec_data: dict[str, Any]) -> None:
    spec = FloeSpec.model_validate(spec_data)
    assert spec.destinations is None
    assert spec.metadata.name == "crm-sync"


@pytest.mark.requirement("R12")
def test_an_existing_spec_with_transforms_validates_unchanged(spec_data: dict[str, Any]) -> None:
    spec_data["platform"] = {"manifest": "./manifest.yaml"}
    spec_data["transforms"] = [
        {"name": "stg_customers", "tier": "silver", "tags": ["staging"]},
        {"name": "fct_customers", "dependsOn": ["stg_customers"], "tier": "gold"},
    ]
    spec = FloeSpec.model_validate(spec_data)
    assert spec.transforms is not None
    assert spec.transforms[1].depends_on == ["stg_customers"]
    assert spec.destinations is None


@pytest.mark.requirement("R11")
def test_a_full_destination_validates(
    spec_data: dict[str, Any], make_destination: MakeDestination
) -> None:
    spec_data["destinations"] = [
        make_destination(
            field_mapping={"email": "Email", "api_token": "token"},
            batch_size=500,
            retry_config={"max_attempts": 3, "jitter": False},
        )
    ]
    spec = FloeSpec.model_validate(spec_data)
    assert spec.destinations is not None
    (dest,) = spec.destinations
    assert (dest.name, dest.sink_type, dest.connection_secret_ref) == (
        "contacts_to_crm",
        "rest_api",
        "crm-api",
    )
    assert dest.source_table == "gold.customers"
    assert dest.config == {"path": "/contacts", "method": "POST"}
    assert dest.field_mapping == {"email": "Email", "api_token": "token"}
    assert dest.batch_size == 500
    assert dest.retry_config == RetryConfig(max_attempts=3, jitter=False)
    assert spec.destination("contacts_to_crm") is dest
    assert spec.destination("nope") is None


@pytest.mark.requirement("R11")
def test_optional_destination_fields_default_to_none() -> None:
    dest = DestinationConfig(name="d", sink_type="rest_api", connection_secret_ref="s")
    assert dest.source_table is None
    assert dest.config is None
    assert dest.field_mapping is None
    assert dest.batch_size is None
    assert dest.retry_config is None


@pytest.mark.requirement("R11")
def test_duplicate_destination_names_point_at_each_repeat(
    spec_data: dict[str, Any], make_destination: MakeDestination
) -> None:
    spec_data["destinations"] = [
        make_destination(name="crm"),
        make_destination(name="db", sink_type="sql_database"),
        make_destination(name="crm"),
        make_destination(name="crm"),
    ]
    with pytest.raises(ValidationError) as caught:
        FloeSpec.model_validate(spec_data)
    (error,) = _errors(caught)
    assert error["type"] == ERROR_TYPE
    assert "used more than once: crm" in error["msg"]
    nested = error["ctx"]["nested"]
    assert [item["path"] for item in nested] == [[2, "name"], [3, "name"]]
    assert nested[0]["message"] == "destination name 'crm' is already used by destinations[0]"


@pytest.mark.requirement("R18")
def test_credentials_in_config_are_rejected_naming_the_secret(
    make_destination: MakeDestination,
) -> None:
    with pytest.raises(ValidationError) as caught:
        DestinationConfig.model_validate(
            make_destination(
                connection_secret_ref="crm-api",
                config={"path": "/c", "password": "hunter2-xyz", "headers": {"X-API-Key": "k-1"}},
            )
        )
    (error,) = _errors(caught)
    assert error["loc"] == ("config",)
    assert "use connection_secret_ref" in error["msg"]
    nested = error["ctx"]["nested"]
    assert [item["path"] for item in nested] == [["password"], ["headers", "X-API-Key"]]
    assert "the Kubernetes Secret 'crm-api'" in nested[0]["hint"]
    assert "connection_secret_ref" in nested[0]["hint"]
    assert "hunter2-xyz" not in str(caught.value)
    assert "k-1" not in str(error["ctx"])


@pytest.mark.requirement("R18")
def test_url_with_password_in_config_is_rejected(make_destination: MakeDestination) -> None:
    with pytest.raises(ValidationError) as caught:
        DestinationConfig.model_validate(
            make_destination(sink_type="sql_database", config={"url": "postgresql://a:b@h/d"})
        )
    assert "URL has a credential" in _errors(caught)[0]["ctx"]["nested"][0]["message"]
    assert "a:b@" not in str(caught.value)


@pytest.mark.requirement("R18")
def test_legitimate_config_and_a_field_called_token_are_accepted(
    make_destination: MakeDestination,
) -> None:
    dest = DestinationConfig.model_validate(
        make_destination(
            config={
                "endpoint": "/contacts",
                "auth": "bearer",
                "api_key_header": "X-API-Key",
                "token_url": "https://auth.example.com/oauth/token",
                "password": "",
            },
            field_mapping={"session_token": "token", "secret": "password"},
        )
    )
    assert dest.config is not None and dest.config["endpoint"] == "/contacts"
    assert dest.field_mapping == {"session_token": "token", "secret": "password"}


@pytest.mark.requirement("R11")
@pytest.mark.parametrize("batch_size", [0, -1, MAX_BATCH_SIZE + 1])
def test_batch_size_outside_bounds_is_rejected(
    make_destination: MakeDestination, batch_size: int
) -> None:
    with pytest.raises(ValidationError) as caught:
        DestinationConfig.model_validate(make_destination(batch_size=batch_size))
    assert _errors(caught)[0]["loc"] == ("batch_size",)


@pytest.mark.requirement("R11")
@pytest.mark.parametrize("batch_size", [1, 500, MAX_BATCH_SIZE])
def test_batch_size_within_bounds_is_accepted(
    make_destination: MakeDestination, batch_size: int
) -> None:
    assert DestinationConfig.model_validate(make_destination(batch_size=batch_size)).batch_size


@pytest.mark.requirement("R11")
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "1st"),
        ("name", "has space"),
        ("sink_type", "REST"),
        ("sink_type", "rest-api"),
        ("source_table", "customers"),
        ("source_table", "gold..customers"),
        ("connection_secret_ref", "Crm_Api"),
    ],
)
def test_malformed_identifiers_are_rejected(
    make_destination: MakeDestination, field: str, value: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        DestinationConfig.model_validate(make_destination(**{field: value}))
    assert _errors(caught)[0]["loc"] == (field,)


@pytest.mark.requirement("R11")
def test_nested_namespaces_are_valid_source_tables(make_destination: MakeDestination) -> None:
    dest = DestinationConfig.model_validate(make_destination(source_table="lake.gold.customers"))
    assert dest.source_table == "lake.gold.customers"


@pytest.mark.requirement("R14")
def test_field_mapping_two_columns_to_one_field_is_rejected(
    make_destination: MakeDestination,
) -> None:
    with pytest.raises(ValidationError) as caught:
        DestinationConfig.model_validate(
            make_destination(field_mapping={"email": "Email", "mail": "Email", "x": " "})
        )
    nested = _errors(caught)[0]["ctx"]["nested"]
    assert [item["path"] for item in nested] == [["mail"], ["x"]]
    assert "which 'email' already maps to" in nested[0]["message"]
    assert "must not be blank" in nested[1]["message"]


def test_unknown_keys_are_rejected(make_destination: MakeDestination) -> None:
    with pytest.raises(ValidationError) as caught:
        DestinationConfig.model_validate(make_destination(sinktype="rest_api"))
    assert _errors(caught)[0]["type"] == "extra_forbidden"


def test_retry_config_is_bounded_and_closed(make_destination: MakeDestination) -> None:
    for retry in ({"max_attempts": 0}, {"max_backoff_seconds": -1}, {"retries": 3}):
        with pytest.raises(ValidationError):
            DestinationConfig.model_validate(make_destination(retry_config=retry))


def test_models_are_frozen(spec_data: dict[str, Any]) -> None:
    spec = FloeSpec.model_validate(spec_data)
    with pytest.raises(ValidationError):
        spec.kind = "FloeSpec"


def test_api_version_and_kind_are_checked(spec_data: dict[str, Any]) -> None:
    spec_data["apiVersion"] = "floe.dev/v2"
    spec_data["kind"] = "Manifest"
    with pytest.raises(ValidationError) as caught:
        FloeSpec.model_validate(spec_data)
    assert {e["loc"] for e in _errors(caught)} == {("apiVersion",), ("kind",)}


def test_duplicate_transform_names_are_rejected(spec_data: dict[str, Any]) -> None:
    spec_data["transforms"] = [{"name": "a"}, {"name": "a"}]
    with pytest.raises(ValidationError, match="transform names must be unique"):
        FloeSpec.model_validate(spec_data)
