"""The targeted detection of credentials written into configuration."""

from __future__ import annotations

import pytest
from floe_core.schemas import find_inline_credentials, is_credential_key, url_has_credentials


@pytest.mark.requirement("R18")
@pytest.mark.parametrize(
    "key",
    [
        "password",
        "PASSWORD",
        "db_password",
        "passwd",
        "token",
        "access_token",
        "refreshToken",
        "api_key",
        "apiKey",
        "X-API-Key",
        "secret",
        "client_secret",
        "aws_secret_access_key",
        "private_key",
        "connection_string",
        "credentials",
        "Authorization",
        "Cookie",
    ],
)
def test_keys_that_name_a_credential(key: str) -> None:
    assert is_credential_key(key)


@pytest.mark.requirement("R18")
@pytest.mark.parametrize(
    "key",
    [
        "endpoint",
        "path",
        "base_url",
        "token_url",
        "api_key_header",
        "secret_name",
        "auth",
        "primary_key",
        "table",
        "max_tokens",
        "record_id_path",
        "envelope_key",
        "connection_secret_ref",
        "username",
    ],
)
def test_ordinary_keys_are_not_credentials(key: str) -> None:
    assert not is_credential_key(key)


@pytest.mark.requirement("R18")
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://app:s3cret@db.internal/app", True),
        ("mysql+pymysql://root:pw@127.0.0.1:3306/test", True),
        ("https://api.example.com/v1?api_key=abc123", True),
        ("https://api.example.com/v1?access_token=abc123", True),
        ("postgresql://app@db.internal/app", False),
        ("https://api.example.com/v1?page=2", False),
        ("https://api.example.com/v1?api_key=", False),
        ("sqlite:///.floe/catalog.db", False),
        ("/contacts", False),
        ("not a url: user:pw@host", False),
        ("http://[::1", False),
    ],
)
def test_urls_with_embedded_credentials(url: str, expected: bool) -> None:
    assert url_has_credentials(url) is expected


@pytest.mark.requirement("R18")
def test_findings_carry_the_path_and_never_the_value() -> None:
    config = {
        "endpoint": "/contacts",
        "headers": {"Authorization": "Bearer tok-123456", "Accept": "application/json"},
        "targets": [{"url": "postgresql://u:pw-987654@h/db"}, {"url": "postgresql://h/db"}],
        "api_key": "key-555555",
    }
    findings = find_inline_credentials(config)
    assert [f.path for f in findings] == [
        ("headers", "Authorization"),
        ("targets", 0, "url"),
        ("api_key",),
    ]
    text = " ".join(f.reason for f in findings)
    for value in ("tok-123456", "pw-987654", "key-555555"):
        assert value not in text


@pytest.mark.requirement("R18")
def test_empty_or_boolean_values_under_credential_keys_are_not_credentials() -> None:
    config = {"password": "", "token": None, "secret": "   ", "api_key": False, "auth": "bearer"}
    assert find_inline_credentials(config) == []


@pytest.mark.requirement("R18")
def test_a_credential_key_holding_a_mapping_with_values_is_a_credential() -> None:
    findings = find_inline_credentials({"credentials": {"user": "app", "pass": "x"}})
    assert [f.path for f in findings] == [("credentials",)]
    assert find_inline_credentials({"credentials": {"user": ""}}) == []


@pytest.mark.requirement("R18")
def test_numbers_under_credential_keys_are_credentials() -> None:
    assert [f.path for f in find_inline_credentials({"pin": 1, "api_key": 123456})] == [
        ("api_key",)
    ]
