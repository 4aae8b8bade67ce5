"""Receipts: JSON shape, exit codes, the human table."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from floe_core.egress.receipt import (
    EXIT_FAILURE,
    EXIT_PARTIAL,
    EXIT_SUCCESS,
    Receipt,
    RunStatus,
    exit_code,
    receipt_table,
)
from rich.console import Console


def _receipt(status: RunStatus = RunStatus.SUCCESS) -> Receipt:
    return Receipt(
        run_id="0" * 32,
        destination="customers_to_sqlite",
        sink_type="sql_database",
        status=status,
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        finished_at=datetime(2026, 1, 1, 0, 0, 2, tzinfo=UTC),
        source_table="gold.customers",
        snapshot_id=42,
        rows_read=10_000,
        rows_delivered=10_000,
        bytes_transmitted=3 * 1024 * 1024,
        duration_seconds=2.0,
        checksum="c" * 64,
        idempotency_key="k" * 64,
        plugin="dlt",
    )


@pytest.mark.requirement("B1")
def test_json_round_trip_and_fields() -> None:
    receipt = _receipt()
    data = json.loads(json.dumps(receipt.to_dict()))
    assert data["rows_per_second"] == 5000.0
    assert data["status"] == "success"
    assert data["started_at"] == "2026-01-01T00:00:00+00:00"
    assert set(data) >= {
        "rows_read",
        "rows_delivered",
        "rows_rejected",
        "bytes_transmitted",
        "duration_seconds",
        "checksum",
        "idempotency_key",
        "snapshot_id",
        "source_table",
        "run_id",
        "errors",
    }
    assert Receipt.from_dict(data) == receipt


@pytest.mark.requirement("B1")
def test_exit_codes() -> None:
    ok, partial, failed = (
        _receipt(s) for s in (RunStatus.SUCCESS, RunStatus.PARTIAL, RunStatus.FAILED)
    )
    assert exit_code([ok]) == EXIT_SUCCESS == 0
    assert exit_code([ok, partial]) == EXIT_PARTIAL == 3
    assert exit_code([partial, failed]) == EXIT_FAILURE == 1
    assert exit_code([]) == EXIT_SUCCESS


@pytest.mark.requirement("B1")
def test_human_table_shows_every_number() -> None:
    receipt = _receipt(RunStatus.PARTIAL)
    receipt.rows_rejected = 3
    receipt.errors = ["3 rows rejected"]
    console = Console(width=140, record=True, color_system=None)
    console.print(receipt_table(receipt))
    text = console.export_text()
    for expected in (
        "partial",
        "gold.customers @ snapshot 42",
        "10,000",
        "3.0 MiB",
        "2.000 s",
        "5,000",
        "c" * 64,
        "k" * 64,
        "3 rows rejected",
    ):
        assert expected in text


@pytest.mark.requirement("B1")
def test_human_table_prints_errors_with_brackets_as_they_are() -> None:
    # A destination's answer quoted in an error is not rich markup: shown verbatim, never a crash.
    receipt = _receipt(RunStatus.FAILED)
    receipt.errors = [
        '[rest_api/crm] POST http://127.0.0.1/x answered HTTP 400: {"errors": ["bad"]}',
        "the body said [/b] and [red]",
    ]
    console = Console(width=200, record=True, color_system=None)
    console.print(receipt_table(receipt))
    text = console.export_text()
    assert "[rest_api/crm] POST http://127.0.0.1/x answered HTTP 400" in text
    assert "the body said [/b] and [red]" in text


@pytest.mark.requirement("B1")
def test_after_a_run_the_table_lists_the_first_errors_and_says_where_the_rest_are() -> None:
    # A run refusing rows in many batches has an error per refused piece: 34 of them made a
    # receipt of 230 lines. `floe egress show` lists every one.
    receipt = _receipt(RunStatus.PARTIAL)
    receipt.errors = [f"1 row(s) rejected: row {n} breaks a CHECK" for n in range(34)]

    def text(**kwargs: Any) -> str:
        console = Console(width=300, record=True, color_system=None)
        console.print(receipt_table(receipt, **kwargs))
        return console.export_text()

    after_run, shown = text(), text(errors=None)
    assert [f"row {n} breaks" in after_run for n in range(6)] == [True] * 5 + [False]
    assert f"... and 29 more: floe egress show {receipt.run_id[:8]} lists every one" in after_run
    assert f"floe egress rejected {receipt.destination} the rows refused" in after_run
    assert all(f"row {n} breaks" in shown for n in range(34)) and "more:" not in shown
