"""Round trip: a PostgreSQL table is ingested into Iceberg by ``DltIngestionPlugin``, then sent
back to PostgreSQL by ``floe egress run``; every value of every row must come back unchanged.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from floe_core.plugins import IngestionConfig
from floe_ingestion_dlt.plugin import DltIngestionPlugin

ROWS = 1_000
COLUMNS = ["id", "name", "amount", "happened_at", "active", "visits", "note"]


def _source_rows() -> list[tuple[Any, ...]]:
    names = ["Zoë", "José", "Łukasz", "王芳", "Иван", "O'Brien", "emoji 🚀", "tab\tand\nnewline"]
    base = dt.datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=dt.UTC)
    rows = []
    for i in range(1, ROWS + 1):
        rows.append(
            (
                i,
                None if i % 17 == 0 else f"{names[i % len(names)]} #{i}",
                None if i % 13 == 0 else Decimal(i * 7919 % 10_000_000) / 100 - Decimal("50000.00"),
                None if i % 11 == 0 else base - dt.timedelta(days=i, microseconds=i * 37),
                None if i % 7 == 0 else i % 2 == 0,
                None if i % 5 == 0 else (i * 2_654_435_761) % 2**62,
                "x" * 20_000 + str(i) if i % 250 == 0 else f"note {i}",
            )
        )
    return rows


@pytest.mark.requirement("R5")
@pytest.mark.requirement("B1")
def test_postgresql_to_iceberg_to_postgresql_keeps_every_value(
    tmp_path: Path, pg_schema: str, h: Any
) -> None:
    with psycopg.connect(h.pg_dsn, autocommit=True) as conn:
        conn.execute(
            f'CREATE TABLE "{pg_schema}".src (id bigint PRIMARY KEY, name text, '
            "amount numeric(12,2), happened_at timestamptz, active boolean, visits bigint, "
            "note text)"
        )
        with conn.cursor() as cur:
            cur.executemany(
                f'INSERT INTO "{pg_schema}".src VALUES (%s, %s, %s, %s, %s, %s, %s)',
                _source_rows(),
            )

    # Ingest with the dlt plugin into the project's embedded Iceberg catalog.
    project = tmp_path / "rt"
    catalog = {
        "type": "sql",
        "name": "rt",
        "uri": f"sqlite:///{project / '.floe' / 'catalog.db'}",
        "warehouse": (project / ".floe" / "wh").as_uri(),
    }
    (project / ".floe").mkdir(parents=True)
    plugin = DltIngestionPlugin()
    pipeline = plugin.create_pipeline(
        IngestionConfig(
            source_type="sql_database",
            source_config={"url": h.pg_url, "table": "src", "schema": pg_schema},
            destination_table="bronze.src",
            write_mode="replace",
        ),
        catalog,
    )
    ingested = plugin.run(pipeline)
    assert ingested.success and ingested.rows_loaded == ROWS, ingested.errors

    # Send it back with `floe egress run`.
    (project / "secrets" / "pg").mkdir(parents=True)
    (project / "secrets" / "pg" / "url").write_text(h.pg_url, encoding="utf-8")
    (project / "manifest.yaml").write_text(
        "apiVersion: floe.dev/v1\nkind: Manifest\nmetadata: {name: rt}\n"
        "catalog: {type: sql, name: rt, uri: 'sqlite:///.floe/catalog.db', warehouse: .floe/wh}\n",
        encoding="utf-8",
    )
    (project / "floe.yaml").write_text(
        "apiVersion: floe.dev/v1\nkind: FloeSpec\nmetadata: {name: rt, version: 1.0.0}\n"
        "destinations:\n"
        "  - name: back\n    sink_type: sql_database\n    connection_secret_ref: pg\n"
        "    source_table: bronze.src\n"
        f"    config: {{table: dst, schema: {pg_schema}, mode: upsert, primary_key: [id]}}\n"
        "    batch_size: 300\n",
        encoding="utf-8",
    )
    result = h.run_floe("egress", "run", "back", "--spec", str(project / "floe.yaml"), "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    [receipt] = json.loads(result.stdout)["receipts"]
    assert receipt["rows_read"] == receipt["rows_delivered"] == ROWS

    columns = ", ".join(COLUMNS)
    with psycopg.connect(h.pg_dsn) as conn:
        source = conn.execute(f'SELECT {columns} FROM "{pg_schema}".src ORDER BY id').fetchall()
        back = conn.execute(f'SELECT {columns} FROM "{pg_schema}".dst ORDER BY id').fetchall()
    assert len(back) == ROWS
    for before, after in zip(source, back, strict=True):
        assert before == after
        assert isinstance(after[3], dt.datetime | None)
        if after[3] is not None:
            assert after[3].utcoffset() is not None
