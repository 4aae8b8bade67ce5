"""Kubernetes Secret names as connection_secret_ref."""

from __future__ import annotations

import re

import pytest
from floe_core.schemas import (
    SECRET_NAME_MAX_LENGTH,
    SECRET_NAME_PATTERN,
    DestinationConfig,
    SecretName,
    is_valid_secret_name,
)
from pydantic import BaseModel, ValidationError


class _Holder(BaseModel):
    ref: SecretName


@pytest.mark.requirement("R18")
@pytest.mark.parametrize(
    "name", ["a", "crm-api", "crm.api", "0db", "a1-b2.c3", "x" * SECRET_NAME_MAX_LENGTH]
)
def test_valid_kubernetes_secret_names_are_accepted(name: str) -> None:
    assert is_valid_secret_name(name)
    assert _Holder(ref=name).ref == name
    assert re.fullmatch(SECRET_NAME_PATTERN, name)


@pytest.mark.requirement("R18")
@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "is empty"),
        ("Crm-Api", "characters other than lowercase"),
        ("crm_api", "characters other than lowercase"),
        ("crm api", "characters other than lowercase"),
        ("-crm", "must start and end with a letter or digit"),
        ("crm-", "must start and end with a letter or digit"),
        ("crm..api", "no empty part between dots"),
        ("x" * (SECRET_NAME_MAX_LENGTH + 1), "254 characters long"),
    ],
)
def test_invalid_secret_names_are_rejected_with_the_reason(name: str, reason: str) -> None:
    assert not is_valid_secret_name(name)
    with pytest.raises(ValidationError) as caught:
        _Holder(ref=name)
    message = caught.value.errors()[0]["msg"]
    assert "not a valid Kubernetes Secret name" in message
    assert reason in message


def test_a_name_that_only_breaks_the_rules_is_echoed_with_the_name_it_should_be() -> None:
    with pytest.raises(ValidationError) as caught:
        _Holder(ref="App_DB")
    (error,) = caught.value.errors()
    assert error["msg"].startswith("'App_DB' is not a valid Kubernetes Secret name: it contains")
    assert error["ctx"]["hint"].startswith("did you mean 'app-db'?")


@pytest.mark.requirement("R18")
def test_a_credential_pasted_as_secret_name_is_never_echoed() -> None:
    pasted = "sk_live_51HqLyjWDarjtT1zdp7dc"
    with pytest.raises(ValidationError) as caught:
        DestinationConfig(name="crm", sink_type="rest_api", connection_secret_ref=pasted)
    assert pasted not in str(caught.value)
    assert pasted not in repr(caught.value.errors(include_input=False))
    assert "never put the credential itself here" in caught.value.errors()[0]["ctx"]["hint"]
