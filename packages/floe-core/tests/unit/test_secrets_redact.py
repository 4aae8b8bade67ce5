"""What counts as a credential, and how text is cleaned of it: the one definition."""

from __future__ import annotations

import pytest
from floe_core.schemas import credentials as schema_credentials
from floe_core.secrets.redact import (
    MASK,
    credential_values,
    is_credential_key,
    redact,
    shown_value,
    url_has_credentials,
    url_password,
)

URL = "postgresql://app:pw-Secret-77@db:5432/crm"


@pytest.mark.requirement("B3")
def test_a_url_keeps_scheme_user_host_port_and_database() -> None:
    text = f"insert on {URL} table contacts failed"

    assert redact(text) == "insert on postgresql://app:***@db:5432/crm table contacts failed"


@pytest.mark.requirement("B3")
def test_a_url_registered_whole_as_a_secret_still_names_its_host_and_database() -> None:
    text = f"insert on {URL} table contacts failed"

    cleaned = redact(text, [URL, "pw-Secret-77"])

    assert cleaned == "insert on postgresql://app:***@db:5432/crm table contacts failed"


@pytest.mark.requirement("B3")
def test_a_password_holding_an_at_sign_is_masked_whole() -> None:
    url = "mysql://app:p@ss-w0rd@db/crm"

    cleaned = redact(f"cannot connect to {url}", credential_values({"url": url}))

    assert "ss-w0rd" not in cleaned
    assert cleaned.endswith("@db/crm")


@pytest.mark.requirement("B3")
def test_a_bare_token_in_a_json_error_body_is_masked_by_value() -> None:
    body = '{"error": "invalid_grant", "detail": "token tk-9f8e7d6c5b was revoked"}'

    cleaned = redact(body, ["tk-9f8e7d6c5b"])

    assert cleaned == '{"error": "invalid_grant", "detail": "token *** was revoked"}'


@pytest.mark.requirement("B3")
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("login failed: password=hunter22 user=app", "login failed: password=*** user=app"),
        ("dsn host=db pwd=hunter22", "dsn host=db pwd=***"),
        ('{"password": "hunter22", "user": "app"}', '{"password": "***", "user": "app"}'),
        ("GET /x?api_key=ak-1234&page=2", "GET /x?api_key=***&page=2"),
        ("client_secret: cs-123456", "client_secret: ***"),
    ],
)
def test_credential_named_pairs_keep_their_key(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("given", ["YES", "NO"])
def test_mysqls_using_password_yes_or_no_is_kept_whole(given: str) -> None:
    text = f"(1045, \"Access denied for user 'app'@'10.0.0.7' (using password: {given})\")"

    assert redact(text) == text
    assert redact("password: yes-it-is-secret") == "password: ***"


@pytest.mark.requirement("B3")
@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Authorization: Bearer eyJhbGciOi.abc.def", "Authorization: Bearer ***"),
        ("authorization: Basic YXBwOnB3", "authorization: Basic ***"),
        ("X-API-Key: ak-0987654321", "X-API-Key: ***"),
    ],
)
def test_authorization_headers_are_masked(header: str, expected: str) -> None:
    assert redact(f"sent {header}") == f"sent {expected}"


@pytest.mark.requirement("B3")
def test_short_values_are_not_masked_they_would_mangle_ordinary_words() -> None:
    text = "row id abc in table abc_orders"

    assert redact(text, ["abc", ""]) == text


@pytest.mark.requirement("B3")
def test_longest_value_is_masked_first() -> None:
    assert redact("k=abcdef and abcd", ["abcd", "abcdef"]) == f"k={MASK} and {MASK}"


@pytest.mark.requirement("B3")
def test_ordinary_text_is_left_alone() -> None:
    text = "POST https://api.example.com/v1/contacts answered HTTP 422: email is invalid"

    assert redact(text, ["tok-never-here"]) == text


@pytest.mark.requirement("B3")
def test_credential_values_registers_passwords_not_whole_urls() -> None:
    config = {
        "url": URL,
        "username": "app",
        "base_url": "https://api.example.com",
        "token": "tok-abcdef",
        "client_id": "floe",
        "client_secret": "cs-123456",
        "dsn": "https://h/p?access_token=at-55555&x=1",
        "port": 5432,
    }

    assert sorted(credential_values(config)) == [
        "at-55555",
        "cs-123456",
        "pw-Secret-77",
        "tok-abcdef",
    ]


@pytest.mark.requirement("B3")
def test_a_percent_encoded_password_is_registered_as_written_and_decoded() -> None:
    values = credential_values({"url": "postgresql://app:p%40ss-word@db/crm"})

    assert values == ["p%40ss-word", "p@ss-word"]


@pytest.mark.requirement("B3")
@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("password", True),
        ("X-API-Key", True),
        ("client_secret", True),
        ("access_token", True),
        ("Authorization", True),
        ("token_url", False),
        ("secret_name", False),
        ("api_key_header", False),
        ("username", False),
    ],
)
def test_credential_keys(key: str, expected: bool) -> None:
    assert is_credential_key(key) is expected


@pytest.mark.requirement("B3")
def test_url_predicates() -> None:
    assert url_password(URL) == "pw-Secret-77"
    assert url_password("postgresql://app@db/crm") is None
    assert url_password("not a url: pw") is None
    assert url_has_credentials("https://h/p?api_key=abc") is True
    assert url_has_credentials("https://app@h/p?page=1") is False


def test_the_config_check_uses_the_same_definition() -> None:
    assert schema_credentials.is_credential_key is is_credential_key
    assert schema_credentials.url_has_credentials is url_has_credentials


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("upsrt", "'upsrt'"),
        ("App_DB", "'App_DB'"),
        ("a.b.c", "'a.b.c'"),
        (-5, "-5"),
        (2.5, "2.5"),
        (True, "true"),
        ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", None),  # generated: long letters-and-digits run
        ("Summer2024", None),  # capitals, small letters and digits
        ("P@ssw0rd", None),  # punctuation mixed with letters and digits
        ("postgresql://app:pw@db/crm", None),
        ("x" * 65, None),
        ("two\nlines", None),
        ({"a": 1}, None),
        (["a"], None),
    ],
)
def test_a_value_is_shown_only_when_it_cannot_be_a_credential(
    value: object, shown: str | None
) -> None:
    assert shown_value(value) == shown


def test_no_value_under_a_credential_key_is_shown() -> None:
    assert shown_value("upsrt", ("config", "headers", "X-API-Key")) is None
    assert shown_value(5, ("config", "password")) is None
    assert shown_value("upsrt", ("config", "mode")) == "'upsrt'"
