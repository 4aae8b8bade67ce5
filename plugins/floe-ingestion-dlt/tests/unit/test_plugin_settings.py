"""What the plugin's sinks declare about their settings: checked config, Secret keys, paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from floe_ingestion_dlt.plugin import DltIngestionPlugin

plugin = DltIngestionPlugin()


def _problems(sink_type: str, config: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    return [(p.path, p.message) for p in plugin.validate_settings(sink_type, config)]


@pytest.mark.parametrize(
    ("sink_type", "config", "expected", "suggestion"),
    [
        (
            "sql_database",
            {"tabel": "orders"},
            [(("tabel",), "unknown key `tabel`")],
            "did you mean `table`?",
        ),
        (
            "sql_database",
            {"table": "orders", "mode": "upsrt"},
            [
                (
                    ("mode",),
                    "'upsrt' is not a valid mode: it should be 'append', 'upsert' or 'replace'",
                )
            ],
            "did you mean 'upsert'?",
        ),
        (
            "sql_database",
            {"table": "orders", "mode": "upsert"},
            [
                (
                    ("primary_key",),
                    "mode 'upsert' needs primary_key: the columns that identify a row",
                )
            ],
            "add e.g. `primary_key: [id]`",
        ),
        (
            "rest_api",
            {"path": "/c", "max_request_per_second": 5},
            [(("max_request_per_second",), "unknown key `max_request_per_second`")],
            "did you mean `max_requests_per_second`?",
        ),
        (
            "rest_api",
            {"path": "/c", "body": "envelope"},
            [(("envelope_key",), "body 'envelope' needs envelope_key")],
            "set envelope_key",
        ),
        (
            "rest_api",
            {"path": "/c", "auth": "bearer", "api_key_header": "X-Key"},
            [(("api_key_header",), "api_key_header applies only with auth 'api_key'")],
            "remove api_key_header",
        ),
        (
            "rest_api",
            {"path": "/c", "record_id_path": "$[["},
            [(("record_id_path",), "is not a valid JSONPath")],
            "use a JSONPath such as",
        ),
        (
            "rest_api",
            {"path": "/c", "envelope_key": "inputs"},
            [
                (
                    ("envelope_key",),
                    "envelope_key applies only with body 'envelope' (body is 'array')",
                )
            ],
            "remove envelope_key",
        ),
        (
            "rest_api",
            {"path": "/c", "id_field": "id"},
            [(("id_from",), "id_field needs id_from")],
            "set id_from (e.g. `id_from: email`)",
        ),
        (
            "rest_api",
            {"path": "/c", "envelope_fields": {"allOrNone": False}},
            [
                (
                    ("envelope_fields",),
                    "envelope_fields applies only with body 'envelope' (body is 'array')",
                )
            ],
            "set `body: envelope`",
        ),
        (
            "rest_api",
            {"path": "/c", "result_ok_path": "$.success"},
            [(("results_path",), "result_ok_path need(s) results_path")],
            "set results_path",
        ),
        (
            "rest_api",
            {"path": "/c", "results_path": "$.errors[*]"},
            [
                (
                    ("result_index_path",),
                    "results that list only refused records need result_index_path or "
                    "result_id_path to say which records they are",
                )
            ],
            "set result_ok_path or result_status_path",
        ),
        (
            "rest_api",
            {"path": "/c", "results_path": "$.errors[*]", "result_id_path": "$.ids[*]"},
            [
                (
                    ("id_field",),
                    "result_id_path matches results by the records' id_field, which is not set",
                )
            ],
            "set id_field and id_from",
        ),
        (
            "rest_api",
            {"path": "/c", "timestamp_format": "unix"},
            [
                (
                    ("timestamp_format",),
                    "'unix' is not a valid timestamp_format: it should be 'iso8601' or "
                    "'epoch_millis'",
                )
            ],
            "",
        ),
    ],
)
def test_validate_finds_bad_settings_without_the_secret(
    sink_type: str,
    config: dict[str, Any],
    expected: list[tuple[tuple[str, ...], str]],
    suggestion: str,
) -> None:
    assert _problems(sink_type, config) == expected
    (problem,) = plugin.validate_settings(sink_type, config)
    assert problem.suggestion.startswith(suggestion)


def test_keys_from_the_secret_are_not_asked_for_nor_offered() -> None:
    assert plugin.validate_settings("sql_database", {"table": "orders"}) == []
    assert plugin.validate_settings("rest_api", {"path": "/contacts"}) == []
    (sql,) = plugin.validate_settings("sql_database", {"tabel": "orders"})
    (rest,) = plugin.validate_settings("rest_api", {"pth": "/contacts"})
    assert _allowed(sql.suggestion) == [
        "table",
        "schema",
        "mode",
        "primary_key",
        "create_table",
        "max_connections",
    ]
    assert {"base_url", "token", "username", "password", "api_key"}.isdisjoint(
        _allowed(rest.suggestion)
    )
    assert "path" in _allowed(rest.suggestion)


def _allowed(suggestion: str) -> list[str]:
    return suggestion.split("(allowed here: ")[1].rstrip(")").split(", ")


def test_each_sink_names_the_secret_keys_it_needs() -> None:
    assert plugin.secret_keys("sql_database", {"table": "t"}) == [["url"]]
    assert plugin.secret_keys("rest_api", {"auth": "bearer"}) == [["token"]]
    assert plugin.secret_keys("rest_api", {"auth": "basic"}) == [["username", "password"]]
    assert plugin.secret_keys("rest_api", {"auth": "api_key"}) == [["api_key"]]
    assert plugin.secret_keys("rest_api", {}) == []


def test_a_relative_sqlite_file_is_relative_to_the_project(tmp_path: Path) -> None:
    values = {"url": "sqlite:///.floe/app.db", "table": "t"}
    resolved = plugin.project_paths("sql_database", values, str(tmp_path))
    assert resolved == {"url": f"sqlite:///{tmp_path / '.floe' / 'app.db'}", "table": "t"}
    absolute = {"url": "postgresql://app@db:5432/crm"}
    assert plugin.project_paths("sql_database", absolute, str(tmp_path)) == absolute
    assert plugin.project_paths("rest_api", {"path": "x"}, str(tmp_path)) == {"path": "x"}
