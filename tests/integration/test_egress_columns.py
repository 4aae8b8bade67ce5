"""``columns:`` and ``exclude_columns:``: only the chosen columns are read and sent."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

REST = """\
- name: crm
  sink_type: rest_api
  connection_secret_ref: crm-api
  source_table: gold.customers
  columns: [email, customer_id, lifetime_value]
  field_mapping: {lifetime_value: ltv}
  config: {path: /contacts}
"""

SQL = """\
- name: app
  sink_type: sql_database
  connection_secret_ref: app-db
  source_table: gold.customers
  primary_key: [customer_id]
  exclude_columns: [{excluded}]
  config: {{table: customers, mode: upsert}}
"""


@pytest.mark.requirement("B2")
def test_columns_sends_only_those_in_that_order(
    make_project: Any, http_server: Any, h: Any
) -> None:
    project = make_project(rows=25)
    project.secret("crm-api", base_url=http_server.url)
    project.write(REST)

    result = project.cli("egress", "run", "crm", "--project", str(project.root), "--json")

    assert result.exit_code == 0, result.output
    records = http_server.records
    assert len(records) == 25
    assert {tuple(record) for record in records} == {("email", "customer_id", "ltv")}
    [receipt] = h.json_receipts(result)
    assert receipt["rows_delivered"] == 25


@pytest.mark.requirement("B2")
def test_exclude_columns_leaves_them_out_of_the_table(make_project: Any) -> None:
    project = make_project(rows=10)
    project.secret("app-db", url="sqlite:///app.db")
    project.write(SQL.format(excluded="email, last_name"))

    result = project.cli("egress", "run", "app", "--project", str(project.root))

    assert result.exit_code == 0, result.output
    with sqlite3.connect(project.root / "app.db") as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(customers)")]
        count = conn.execute("SELECT count(*) FROM customers").fetchone()
    assert "email" not in columns and "last_name" not in columns
    assert "first_name" in columns and count == (10,)


@pytest.mark.requirement("B2")
def test_a_column_the_table_lacks_is_named_by_check_and_run(make_project: Any) -> None:
    project = make_project(rows=5)
    project.secret("app-db", url="sqlite:///app.db")
    project.write(SQL.format(excluded="e_mail"))

    checked = project.cli("check", "--project", str(project.root))
    ran = project.cli("egress", "run", "app", "--project", str(project.root))

    for result in (checked, ran):
        assert result.exit_code == 1
        output = result.stdout + result.stderr
        assert "exclude_columns names column(s) 'e_mail'" in output, output
        assert "customer_id, email" in output
    with sqlite3.connect(project.root / "app.db") as conn:  # SQLite makes the file on connect
        tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    assert tables == []
