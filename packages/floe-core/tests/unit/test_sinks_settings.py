"""Checking a destination's config: against a sink's settings model, without its Secret."""

from __future__ import annotations

from typing import Literal

import pytest
from floe_core.sinks import SettingProblem, settings_error
from floe_core.sinks.errors import SinkConfigurationError, config_error_from_validation
from floe_core.sinks.settings import check_settings, closest
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

SECRET = frozenset({"base_url", "api_key"})


class CrmSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str
    api_key: SecretStr | None = None
    table: str = Field(min_length=1)
    method: Literal["POST", "PUT"] = "POST"
    max_requests_per_second: float | None = Field(default=None, gt=0, le=1000)
    headers: dict[str, str] = Field(default_factory=dict)
    body: Literal["array", "envelope"] = "array"
    envelope_key: str | None = None

    @model_validator(mode="after")
    def _envelope(self) -> CrmSettings:
        if self.body == "envelope" and self.envelope_key is None:
            raise settings_error(
                "body 'envelope' needs envelope_key", key="envelope_key", hint="set envelope_key"
            )
        return self


def _check(**config: object) -> list[SettingProblem]:
    return check_settings(CrmSettings, config, secret_fields=SECRET)


def test_valid_settings_have_no_problems_and_secret_fields_are_not_asked_for() -> None:
    assert _check(table="orders", method="PUT", max_requests_per_second=5) == []


def test_a_misspelt_key_gets_a_did_you_mean_that_never_offers_a_secret_field() -> None:
    (problem,) = _check(tabel="orders")  # and `table` is not reported missing as well
    assert problem == SettingProblem(
        ("tabel",),
        "unknown key `tabel`",
        "did you mean `table`? Otherwise remove `tabel` (allowed here: table, method, "
        "max_requests_per_second, headers, body, envelope_key)",
    )
    (problem,) = _check(table="t", api_kei="x")
    assert problem.suggestion.startswith("remove `api_kei`")


def test_a_value_not_allowed_says_what_is_and_suggests_the_closest() -> None:
    (problem,) = _check(table="t", method="pots")
    assert problem.path == ("method",)
    assert problem.message == "'pots' is not a valid method: it should be 'POST' or 'PUT'"
    assert problem.suggestion == "did you mean 'POST'?"


@pytest.mark.parametrize(
    ("config", "path", "message"),
    [
        ({"table": ""}, ("table",), "must not be empty"),
        (
            {"max_requests_per_second": 0},
            ("max_requests_per_second",),
            "should be more than 0, not 0",
        ),
        (
            {"max_requests_per_second": 5000},
            ("max_requests_per_second",),
            "should be at most 1000, not 5000",
        ),
        (
            {"max_requests_per_second": "fast"},
            ("max_requests_per_second",),
            "should be a number, not 'fast'",
        ),
        ({"headers": {"X-Source": 3}}, ("headers", "X-Source"), "should be a text value, not 3"),
    ],
)
def test_each_problem_is_in_plain_words_at_its_key(
    config: dict[str, object], path: tuple[str, ...], message: str
) -> None:
    (problem,) = check_settings(CrmSettings, {"table": "t", **config}, secret_fields=SECRET)
    assert (problem.path, problem.message) == (path, message)
    assert "Input should" not in problem.message + problem.suggestion


def test_a_missing_key_is_to_be_added_under_config() -> None:
    (problem,) = check_settings(CrmSettings, {}, secret_fields=SECRET)
    assert problem == SettingProblem(
        ("table",), "required key `table` is missing", "add `table:` under `config`"
    )


def test_a_cross_field_check_runs_without_the_secret_and_points_at_its_key() -> None:
    (problem,) = _check(table="t", body="envelope")
    assert problem == SettingProblem(
        ("envelope_key",), "body 'envelope' needs envelope_key", "set envelope_key"
    )


def test_the_value_given_is_never_shown() -> None:
    value = "sk-live-0123456789abcdef"
    problems = _check(table=value, method=value, max_requests_per_second=value)
    assert len(problems) == 2
    assert value not in repr(problems)


def test_without_secret_fields_a_required_one_is_missing() -> None:
    problems = check_settings(CrmSettings, {"table": "t"})
    assert [p.message for p in problems] == ["required key `base_url` is missing"]


def test_the_run_time_error_uses_the_same_words_and_sends_secret_keys_to_the_secret() -> None:
    config = {"tabel": "orders", "method": "GET"}
    with pytest.raises(ValidationError) as caught:
        CrmSettings.model_validate(config)
    error = config_error_from_validation(
        caught.value,
        section="config",
        allowed=CrmSettings.model_fields,
        config=config,
        secret_fields=SECRET,
        destination="crm",
        sink_type="acme_crm",
    )
    assert isinstance(error, SinkConfigurationError)
    assert error.message == (
        "invalid config: required key `base_url` is missing; method: should be 'POST' or 'PUT'; "
        "unknown key `tabel`"
    )
    assert error.hint.startswith(
        "add the key `base_url` to the destination's Secret; write 'POST' or 'PUT'; "
        "did you mean `table`?"
    )
    assert str(error).startswith("[acme_crm/crm] invalid config: ")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("tabel", "table"),  # a close spelling
        ("METHOD", "method"),  # case aside
        ("write_method", "method"),  # a known key as one of its words
        ("requests_per_second", "max_requests_per_second"),  # its words inside a known key
        ("envelope", "envelope_key"),
        ("the_key", None),  # a word of several keys: no guess
        ("colour", None),
    ],
)
def test_closest_finds_misspellings_and_keys_written_with_more_or_fewer_words(
    name: str, expected: str | None
) -> None:
    keys = ["table", "method", "max_requests_per_second", "envelope_key", "api_key"]
    assert closest(name, keys) == expected


def test_an_unknown_key_holding_a_known_one_as_a_word_gets_a_did_you_mean() -> None:
    (problem,) = _check(table="t", write_method="PUT")
    assert problem.suggestion.startswith("did you mean `method`? Otherwise remove `write_method`")


def test_the_run_time_error_never_echoes_a_value_it_may_have_from_the_secret() -> None:
    config = {"table": "t", "base_url": "http://h", "method": "pots"}
    with pytest.raises(ValidationError) as caught:
        CrmSettings.model_validate(config)
    error = config_error_from_validation(
        caught.value, section="config", allowed=CrmSettings.model_fields, config=config
    )
    assert error.message == "invalid config: method: should be 'POST' or 'PUT'"
    assert "pots" not in error.message


def test_names_that_only_share_letters_are_no_misspelling_of_each_other() -> None:
    assert closest("bearer", ["path", "headers", "auth"]) is None
    assert closest("hedaers", ["path", "headers", "auth"]) == "headers"  # two letters swapped
    assert closest("pots", ["POST", "PUT"]) == "POST"


def test_an_unknown_key_that_is_a_value_of_a_setting_says_how_to_write_it() -> None:
    (problem,) = _check(table="t", envelope=True)
    assert problem == SettingProblem(
        ("envelope",),
        "unknown key `envelope`",
        "'envelope' is a value of `body`, not a key: write `body: envelope`",
    )


def test_a_setting_of_the_secret_written_in_config_is_refused_unless_config_may_set_it() -> None:
    (problem,) = _check(table="t", base_url="https://crm.example.com")
    assert problem.path == ("base_url",)
    assert problem.message == (
        "the key 'base_url' is read from the destination's Secret; connection settings must "
        "not be written in floe.yaml (a URL can carry a password)"
    )
    assert "store it as the key 'base_url' of the Secret that connection_secret_ref names" in (
        problem.suggestion
    )
    config = {"table": "t", "base_url": "https://crm.example.com"}
    assert (
        check_settings(CrmSettings, config, secret_fields=SECRET, config_may_set={"base_url"}) == []
    )
