"""Per-record answers mapped to the rows a request refused (``sinks/rest/results.py``)."""

from __future__ import annotations

from typing import Any

import pytest
from floe_core.sinks.base import RowRejection
from floe_ingestion_dlt.sinks.rest.config import RestApiSettings
from floe_ingestion_dlt.sinks.rest.results import ResultMapping, UnmatchedResult


def _mapping(**settings: Any) -> ResultMapping:
    mapping = ResultMapping.from_settings(RestApiSettings(base_url="http://api", **settings))
    assert mapping is not None
    return mapping


def _no_keys() -> list[str]:
    raise AssertionError("keys are not needed here")


@pytest.mark.requirement("R14")
def test_a_multi_status_answer_refuses_the_records_whose_status_is_not_2xx() -> None:
    mapping = _mapping(
        results_path="$.results[*]",
        result_status_path="$.status",
        result_index_path="$.index",
        result_message_path="$.error.message",
    )
    answer = {
        "results": [
            {"index": 0, "status": 201},
            {"index": 2, "status": "409", "error": {"message": "duplicate email"}},
            {"index": 1, "status": 200},
        ]
    }
    assert mapping.read(answer, 3, _no_keys).refused == [RowRejection(2, "duplicate email")]


@pytest.mark.requirement("R14")
def test_positional_results_and_the_whole_result_as_message_when_no_message_path() -> None:
    mapping = _mapping(results_path="$[*]", result_ok_path="$.success")
    answer = [{"success": True}, {"success": False, "errors": [{"statusCode": "X"}]}]
    assert mapping.read(answer, 2, _no_keys).refused == [
        RowRejection(1, '{"success":false,"errors":[{"statusCode":"X"}]}')
    ]


@pytest.mark.requirement("R14")
def test_results_matched_by_key_refuse_every_record_with_that_key() -> None:
    mapping = _mapping(
        id_field="id",
        id_from="email",
        results_path="$.errors[*]",
        result_id_path="$.context.ids[*]",
        result_message_path="$.message",
    )
    answer = {"errors": [{"message": "invalid", "context": {"ids": ["b", 7]}}]}
    assert mapping.read(answer, 4, lambda: ["a", "b", "7", "b"]).refused == [
        RowRejection(1, "invalid"),
        RowRejection(2, "invalid"),
        RowRejection(3, "invalid"),
    ]


@pytest.mark.requirement("R14")
def test_a_refusal_naming_no_record_of_the_request_is_not_dropped() -> None:
    mapping = _mapping(
        results_path="$.errors[*]", result_index_path="$.index", result_message_path="$.msg"
    )
    with pytest.raises(UnmatchedResult, match="names no record of the request: bad"):
        mapping.read({"errors": [{"index": 5, "msg": "bad"}]}, 3, _no_keys)


@pytest.mark.requirement("B6")
def test_an_answer_says_which_records_it_accepted_only_when_results_carry_a_status() -> None:
    statuses = _mapping(
        results_path="$.results[*]", result_status_path="$.status", result_index_path="$.i"
    )
    answer = {
        "results": [{"i": 0, "status": 201}, {"i": 2, "status": 400}, {"i": 9, "status": 201}]
    }
    found = statuses.read(answer, 4, _no_keys)
    assert found.refused == [RowRejection(2, '{"i":2,"status":400}')]
    assert found.accepted == frozenset({0})  # 9 is not a record of the request; 1, 3 unsaid
    refusals_only = _mapping(results_path="$.errors[*]", result_index_path="$.i")
    assert refusals_only.read({"errors": [{"i": 1}]}, 4, _no_keys).accepted == frozenset()
