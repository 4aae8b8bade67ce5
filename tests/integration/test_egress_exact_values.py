"""``floe egress run`` from an Iceberg table to SQLite keeps every digit of a decimal, or says
which rows it could not write and why; never a success receipt over rounded values.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from floe_core.iceberg.catalog import open_catalog

AMOUNTS = [
    Decimal("99999999999999.999999"),
    Decimal("-99999999999999.999999"),
    Decimal("12345678901234.567891"),
    Decimal("0.000001"),
    Decimal("1.500000"),
]

DESTINATION = """\
- name: ledger
  sink_type: sql_database
  connection_secret_ref: lite
  source_table: gold.amounts
  config: {table: amounts}
"""


def _project(make_project: Any, tmp_path: Path) -> tuple[Any, Path]:
    project = make_project(rows=1)
    catalog = open_catalog(project.catalog, create=True)
    data = pa.table(
        {
            "id": pa.array(range(len(AMOUNTS)), pa.int64()),
            "amount": pa.array(AMOUNTS, pa.decimal128(20, 6)),
        }
    )
    catalog.create_namespace_if_not_exists("gold")
    catalog.create_table("gold.amounts", data.schema).append(data)
    database = tmp_path / "ledger.db"
    project.secret("lite", url=f"sqlite:///{database}")
    project.write(DESTINATION)
    return project, database


def _amounts(database: Path) -> list[tuple[int, Decimal]]:
    with sqlite3.connect(database) as conn:
        rows = conn.execute("SELECT id, amount FROM amounts ORDER BY id").fetchall()
    return [(i, Decimal(str(amount))) for i, amount in rows]


@pytest.mark.requirement("B9")
def test_decimal_20_6_reaches_sqlite_digit_for_digit(
    h: Any, make_project: Any, tmp_path: Path
) -> None:
    project, database = _project(make_project, tmp_path)

    result = project.cli("egress", "run", "ledger", "--spec", project.spec, "--json")

    assert result.exit_code == 0, result.output
    [receipt] = h.json_receipts(result)
    assert receipt["status"] == "success"
    assert receipt["rows_delivered"] == len(AMOUNTS) and receipt["rows_rejected"] == 0
    assert _amounts(database) == list(enumerate(AMOUNTS))


@pytest.mark.requirement("B9")
def test_existing_numeric_sqlite_column_gets_the_rows_it_keeps_and_the_others_are_rejected(
    h: Any, make_project: Any, tmp_path: Path
) -> None:
    project, database = _project(make_project, tmp_path)
    # The table an earlier floe created: NUMERIC affinity keeps 15 significant digits.
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE amounts (id BIGINT, amount NUMERIC(20, 6))")

    result = project.cli("egress", "run", "ledger", "--spec", project.spec, "--json")

    assert result.exit_code == 3, result.output
    [receipt] = h.json_receipts(result)
    assert receipt["status"] == "partial"
    assert receipt["rows_delivered"] == 2 and receipt["rows_rejected"] == 3
    assert "more than 15 significant digits" in result.output
    assert _amounts(database) == [(3, AMOUNTS[3]), (4, AMOUNTS[4])]
