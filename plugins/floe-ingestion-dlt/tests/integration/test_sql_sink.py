"""The ``sql_database`` sink's hook against real PostgreSQL, MariaDB and SQLite.

Each test drives the sink as the engine does (open, encode, send per batch, close) and reads
the table back with the database's own driver.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import sqlalchemy as sa
from floe_core.sinks.errors import SinkConfigurationError, SinkWriteError

BACKENDS = ["postgresql", "mariadb", "sqlite"]
backends = pytest.mark.parametrize("sql_backend_url", BACKENDS, indirect=True)


def _name(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _table_names(url: str, schema: str | None) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names(schema=schema))
    finally:
        engine.dispose()


def _execute(url: str, *statements: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def _qualified(backend: str, schema: str | None, table: str) -> str:
    quote = "`" if backend == "mariadb" else '"'
    name = f"{quote}{table}{quote}"
    return f"{quote}{schema}{quote}.{name}" if schema else name


@pytest.mark.requirement("R8")
@backends
def test_append_writes_every_awkward_value(
    sql_backend_url: tuple[str, str, str | None],
    sql_sink: Callable[..., Any],
    sql_drive: Callable[..., Any],
    sql_rows: Callable[..., Any],
    sql_awkward: Callable[..., pa.Table],
    sql_expected: Callable[..., Any],
) -> None:
    backend, url, schema = sql_backend_url
    data = sql_awkward()
    table = _name()
    sink = sql_sink(url, table, schema=schema)

    acks = sql_drive(sink, data, batch_size=3)

    assert [a.rows_confirmed for a in acks] == [3, 3, 2]
    got = sql_rows(url, table, data.column_names, schema=schema)
    want = sql_expected(data, backend)
    for column_index, name in enumerate(data.column_names):
        assert [row[column_index] for row in got] == [row[column_index] for row in want], name


@pytest.mark.requirement("R8")
@backends
def test_append_retried_batch_is_written_once(
    sql_backend_url: tuple[str, str, str | None],
    sql_sink: Callable[..., Any],
    sql_drive: Callable[..., Any],
    sql_rows: Callable[..., Any],
    sql_awkward: Callable[..., pa.Table],
) -> None:
    _, url, schema = sql_backend_url
    data = sql_awkward(long_text=False)
    table = _name()
    sink = sql_sink(url, table, schema=schema)
    first = sql_drive(sink, data, batch_size=4, run="r")

    # The same batches with the same keys (a retry whose answer was lost, a re-run).
    again = sql_drive(sink, data, batch_size=4, run="r")
    # A new key for the first batch only: a genuinely new batch is appended.
    other = sql_drive(sink, data.slice(0, 4), batch_size=4, run="other")

    assert [(a.rows_confirmed, a.rows_skipped) for a in first] == [(4, 0), (4, 0)]
    assert [(a.rows_confirmed, a.rows_skipped) for a in again] == [(0, 4), (0, 4)]
    assert [(a.rows_confirmed, a.rows_skipped) for a in other] == [(4, 0)]
    ids = [row[0] for row in sql_rows(url, table, ["id"], schema=schema)]
    assert ids == [1, 1, 2, 2, 3, 3, 4, 4, 5, 6, 7, 8]
    assert "_floe_delivery_log" in _table_names(url, schema)


@pytest.mark.requirement("B5")
@backends
def test_upsert_updates_by_key_and_a_second_run_changes_nothing(
    sql_backend_url: tuple[str, str, str | None],
    sql_sink: Callable[..., Any],
    sql_drive: Callable[..., Any],
    sql_rows: Callable[..., Any],
    sql_awkward: Callable[..., pa.Table],
    sql_expected: Callable[..., Any],
) -> None:
    backend, url, schema = sql_backend_url
    data = sql_awkward(long_text=False).select(["id", "txt", "flag", "ts_utc", "i32"])
    table = _name()
    sink = sql_sink(url, table, schema=schema, mode="upsert", primary_key=["id"])
    sql_drive(sink, data, batch_size=5)

    changed = pa.table(
        {
            "id": pa.array([2, 8, 9], pa.int64()),
            "txt": ["two \u2713", None, "nine"],
            "flag": [True, False, None],
            "ts_utc": data["ts_utc"].take([0, 1, 2]),
            "i32": pa.array([None, -8, 9], pa.int32()),
        }
    )
    for run in ("first", "second"):
        acks = sql_drive(sink, changed, batch_size=2, run=run)
        assert sum(a.rows_confirmed for a in acks) == 3
        got = sql_rows(url, table, data.column_names, schema=schema)
        expected_table = pa.concat_tables(
            [data.filter(pc.is_in(data["id"], pa.array([1, 3, 4, 5, 6, 7]))), changed]
        ).sort_by("id")
        assert got == sql_expected(expected_table, backend), run


@pytest.mark.requirement("B5")
@backends
def test_upsert_batch_holding_a_key_twice_keeps_the_last_row(
    sql_backend_url: tuple[str, str, str | None],
    sql_sink: Callable[..., Any],
    sql_drive: Callable[..., Any],
    sql_rows: Callable[..., Any],
) -> None:
    _, url, schema = sql_backend_url
    table = _name()
    sink = sql_sink(url, table, schema=schema, mode="upsert", primary_key="id")
    data = pa.table({"id": [1, 2, 1, 1], "v": ["a", "b", "c", "d"]})

    sql_drive(sink, data, batch_size=4)

    assert sql_rows(url, table, ["id", "v"], schema=schema) == [(1, "d"), (2, "b")]


@pytest.mark.requirement("R8")
@backends
def test_upsert_with_composite_key_and_only_key_columns(
    sql_backend_url: tuple[str, str, str | None],
    sql_sink: Callable[..., Any],
    sql_drive: Callable[..., Any],
    sql_rows: Callable[..., Any],
) -> None:
    _, url, schema = sql_backend_url
    table = _name()
    sink = sql_sink(url, table, schema=schema, mode="upsert", primary_key=["a", "b"])
    data = pa.table({"a": ["x", "x", "y"], "b": pa.array([1, 2, 1], pa.int32())})

    sql_drive(sink, data)
    sql_drive(sink, data, run="again")

    assert sql_rows(url, table, ["a", "b"], schema=schema, order_by="a, b") == [
        ("x", 1),
        ("x", 2),
        ("y", 1),
    ]


@pytest.mark.requirement("R8")
@backends
def test_replace_swaps_in_exactly_the_rows_written(
    sql_backend_url: tuple[str, str, str | None],
    sql_sink: Callable[..., Any],
    sql_drive: Callable[..., Any],
    sql_rows: Callable[..., Any],
) -> None:
    _, url, schema = sql_backend_url
    table = _name()
    sink = sql_sink(url, table, schema=schema, mode="replace", primary_key=["id"])
    sql_drive(sink, pa.table({"id": [1, 2, 3], "v": ["a", "b", "c"]}))
    sql_drive(sink, pa.table({"id": [3, 4], "v": ["C", "D"]}))

    assert sql_rows(url, table, ["id", "v"], schema=schema) == [(3, "C"), (4, "D")]
    assert _table_names(url, schema) == {table}


@pytest.mark.requirement("R8")
@backends
def test_failed_replace_leaves_the_old_rows_and_no_staging_table(
    sql_backend_url: tuple[str, str, str | None],
    sql_sink: Callable[..., Any],
    sql_drive: Callable[..., Any],
    sql_rows: Callable[..., Any],
) -> None:
    _, url, schema = sql_backend_url
    table = _name()
    sink = sql_sink(url, table, schema=schema, mode="replace")
    sql_drive(sink, pa.table({"id": [1, 2], "v": ["old", "old"]}))
    new = pa.table({"id": [7, 8, 9], "v": ["new", "new", "new"]})

    sink.open(new.schema)
    sink.send(sink.encode(new.to_batches()[0]), "k")
    sink.close(False)

    assert sql_rows(url, table, ["id", "v"], schema=schema) == [(1, "old"), (2, "old")]
    assert _table_names(url, schema) == {table}


@pytest.mark.requirement("R8")
@backends
def test_failed_replace_of_a_new_table_creates_nothing(
    sql_backend_url: tuple[str, str, str | None],
    sql_sink: Callable[..., Any],
) -> None:
    _, url, schema = sql_backend_url
    table = _name()
    sink = sql_sink(url, table, schema=schema, mode="replace")
    data = pa.table({"id": [1]})

    sink.open(data.schema)
    sink.send(sink.encode(data.to_batches()[0]), "k")
    sink.close(False)

    assert _table_names(url, schema) == set()


@pytest.mark.requirement("R8")
@backends
def test_replace_keeps_an_existing_tables_definition(
    sql_backend_url: tuple[str, str, str | None],
    sql_sink: Callable[..., Any],
    sql_drive: Callable[..., Any],
    sql_rows: Callable[..., Any],
) -> None:
    backend, url, schema = sql_backend_url
    table = _name()
    where = _qualified(backend, schema, table)
    _execute(
        url,
        f"CREATE TABLE {where} (id INTEGER PRIMARY KEY, v VARCHAR(20) DEFAULT 'x', extra INTEGER)",
        f"INSERT INTO {where} (id, v, extra) VALUES (1, 'old', 5)",
    )
    sink = sql_sink(url, table, schema=schema, mode="replace", create_table=False)

    sql_drive(sink, pa.table({"id": [10, 11], "v": ["n1", "n2"]}))

    assert sql_rows(url, table, ["id", "v", "extra"], schema=schema) == [
        (10, "n1", None),
        (11, "n2", None),
    ]
    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        columns = {c["name"]: c for c in inspector.get_columns(table, schema=schema)}
        assert str(columns["v"]["type"]).upper().startswith("VARCHAR(20)")
        assert inspector.get_pk_constraint(table, schema=schema)["constrained_columns"] == ["id"]
    finally:
        engine.dispose()


@pytest.mark.requirement("R8")
@backends
def test_existing_table_without_a_written_column_is_a_clear_error(
    sql_backend_url: tuple[str, str, str | None],
    sql_sink: Callable[..., Any],
) -> None:
    backend, url, schema = sql_backend_url
    table = _name()
    _execute(url, f"CREATE TABLE {_qualified(backend, schema, table)} (id INTEGER)")
    sink = sql_sink(url, table, schema=schema)

    with pytest.raises(SinkConfigurationError) as caught:
        sink.open(pa.schema([("id", pa.int64()), ("email", pa.string()), ("score", pa.float64())]))

    text = str(caught.value)
    assert "'email', 'score'" in text
    assert "ADD COLUMN" in text and "field_mapping" in text
    assert "sql_database/warehouse" in text


@pytest.mark.requirement("R8")
@backends
def test_the_missing_column_hint_run_as_written_fixes_the_table(
    sql_backend_url: tuple[str, str, str | None],
    sql_sink: Callable[..., Any],
    sql_drive: Callable[..., Any],
    sql_rows: Callable[..., Any],
) -> None:
    backend, url, schema = sql_backend_url
    table = _name()
    _execute(url, f"CREATE TABLE {_qualified(backend, schema, table)} (id BIGINT)")
    data = pa.table({"id": pa.array([1, 2], pa.int64()), "email": ["a@x", "b@x"]})
    with pytest.raises(SinkConfigurationError) as caught:
        sql_sink(url, table, schema=schema).open(data.schema)
    text = str(caught.value)
    fixes = text.split("add them (", 1)[1].split("), or drop", 1)[0].split("; ")

    assert len(fixes) == 1 and fixes[0].startswith("ALTER TABLE ")
    _execute(url, *fixes)
    sink = sql_sink(url, table, schema=schema)
    assert [ack.rows_confirmed for ack in sql_drive(sink, data)] == [2]
    assert sql_rows(url, table, ["id", "email"], schema=schema) == [(1, "a@x"), (2, "b@x")]


@pytest.mark.requirement("R8")
@backends
def test_column_names_match_as_the_database_compares_them(
    sql_backend_url: tuple[str, str, str | None],
    sql_sink: Callable[..., Any],
    sql_drive: Callable[..., Any],
    sql_rows: Callable[..., Any],
) -> None:
    # MariaDB and SQLite compare column names without case; PostgreSQL's quoted names keep it.
    backend, url, schema = sql_backend_url
    table = _name()
    quote = "`" if backend == "mariadb" else '"'
    where = _qualified(backend, schema, table)
    _execute(url, f"CREATE TABLE {where} (id BIGINT, {quote}Email{quote} VARCHAR(20))")
    data = pa.table({"id": pa.array([1], pa.int64()), "email": ["a@x"]})
    sink = sql_sink(url, table, schema=schema)
    if backend == "postgresql":
        with pytest.raises(SinkConfigurationError, match="has no column\\(s\\) 'email'"):
            sink.open(data.schema)
        return
    assert [ack.rows_confirmed for ack in sql_drive(sink, data)] == [1]
    assert sql_rows(url, table, ["id", "Email"], schema=schema) == [(1, "a@x")]


@pytest.mark.requirement("R8")
@backends
def test_upsert_into_a_table_without_a_unique_key_is_a_clear_error(
    sql_backend_url: tuple[str, str, str | None],
    sql_sink: Callable[..., Any],
) -> None:
    backend, url, schema = sql_backend_url
    table = _name()
    _execute(url, f"CREATE TABLE {_qualified(backend, schema, table)} (id INTEGER, v TEXT)")
    sink = sql_sink(url, table, schema=schema, mode="upsert", primary_key=["id"])

    with pytest.raises(SinkConfigurationError, match="no primary key or unique index on \\(id\\)"):
        sink.open(pa.schema([("id", pa.int64()), ("v", pa.string())]))


@pytest.mark.requirement("R13")
@backends
def test_refused_rows_are_a_permanent_write_error_and_nothing_of_the_batch_is_kept(
    sql_backend_url: tuple[str, str, str | None],
    sql_sink: Callable[..., Any],
    sql_rows: Callable[..., Any],
) -> None:
    backend, url, schema = sql_backend_url
    table = _name()
    _execute(
        url,
        f"CREATE TABLE {_qualified(backend, schema, table)} (id INTEGER PRIMARY KEY, v TEXT)",
    )
    sink = sql_sink(url, table, schema=schema)
    data = pa.table({"id": [1, 2, 2], "v": ["a", "b", "dup"]})
    sink.open(data.schema)

    with pytest.raises(SinkWriteError) as caught:
        sink.send(sink.encode(data.to_batches()[0]), "k")
    sink.close(False)

    assert not caught.value.retryable
    assert sql_rows(url, table, ["id"], schema=schema) == []


@pytest.mark.requirement("R8")
@backends
def test_created_table_has_faithful_types_and_no_generated_values(
    sql_backend_url: tuple[str, str, str | None],
    sql_sink: Callable[..., Any],
    sql_drive: Callable[..., Any],
    sql_rows: Callable[..., Any],
    sql_awkward: Callable[..., pa.Table],
) -> None:
    backend, url, schema = sql_backend_url
    data = sql_awkward(long_text=False)
    data = data.set_column(0, "id", pa.array(range(8), pa.int64()))  # a key of 0 stays 0
    table = _name()
    sql_drive(sql_sink(url, table, schema=schema, mode="upsert", primary_key=["id"]), data)

    engine = sa.create_engine(url)
    try:
        columns = sa.inspect(engine).get_columns(table, schema=schema)
    finally:
        engine.dispose()
    types = {
        c["name"]: str(c["type"]).upper() + (" TZ" if getattr(c["type"], "timezone", 0) else "")
        for c in columns
    }
    expected = {
        "postgresql": {
            "id": "BIGINT",
            "i8": "SMALLINT",
            "i32": "INTEGER",
            "f64": "DOUBLE PRECISION",
            "f32": "REAL",
            "dec": "NUMERIC(16, 2)",
            "flag": "BOOLEAN",
            "txt": "TEXT",
            "ts_utc": "TIMESTAMP TZ",
            "ts_naive": "TIMESTAMP",
            "day": "DATE",
            "blob": "BYTEA",
        },
        "mariadb": {
            "id": "BIGINT",
            "i8": "SMALLINT",
            "i32": "INTEGER",
            "f64": "DOUBLE",
            "f32": "DOUBLE",  # a FLOAT reads back rounded to 6 digits
            "dec": "DECIMAL(16, 2)",
            "flag": "TINYINT",
            "txt": "LONGTEXT",
            "ts_utc": "DATETIME",
            "ts_naive": "DATETIME",
            "day": "DATE",
            "blob": "LONGBLOB",
        },
        "sqlite": {
            "id": "BIGINT",
            "i8": "SMALLINT",
            "i32": "INTEGER",
            "f64": "DOUBLE",
            "f32": "FLOAT",
            "dec": "TEXT",  # NUMERIC affinity keeps 15 significant digits
            "flag": "BOOLEAN",
            "txt": "TEXT",
            "ts_utc": "DATETIME",
            "ts_naive": "DATETIME",
            "day": "DATE",
            "blob": "BLOB",
        },
    }[backend]
    assert {name: types[name].split(" COLLATE")[0] for name in expected} == expected
    assert all(c["default"] is None for c in columns)
    assert [c["name"] for c in columns if not c["nullable"]] == ["id"]
    assert [r[0] for r in sql_rows(url, table, ["id"], schema=schema)] == list(range(8))


@pytest.mark.requirement("R8")
def test_postgres_upsert_into_a_table_with_a_json_column(
    sql_pg_schema: str,
    sql_sink: Callable[..., Any],
    sql_drive: Callable[..., Any],
    sql_rows: Callable[..., Any],
) -> None:
    # json has no "=" operator, so unchanged rows cannot be skipped: they are updated.
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    _execute(url, f'CREATE TABLE "{sql_pg_schema}".docs (id BIGINT PRIMARY KEY, doc JSON)')
    sink = sql_sink(url, "docs", schema=sql_pg_schema, mode="upsert", primary_key=["id"])
    data = pa.table({"id": [1, 2], "doc": ['{"a": 1}', '{"b": [true, null]}']})

    sql_drive(sink, data)
    sql_drive(sink, data.slice(1), run="again")

    assert sql_rows(url, "docs", ["id", "doc"], schema=sql_pg_schema) == [
        (1, {"a": 1}),
        (2, {"b": [True, None]}),
    ]


@pytest.mark.requirement("R8")
def test_postgres_nan_and_infinity(
    sql_pg_schema: str,
    sql_sink: Callable[..., Any],
    sql_drive: Callable[..., Any],
    sql_rows: Callable[..., Any],
) -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    data = pa.table({"id": [1, 2, 3], "x": [float("nan"), float("inf"), float("-inf")]})

    sql_drive(sql_sink(url, "floats", schema=sql_pg_schema), data)

    got = [row[1] for row in sql_rows(url, "floats", ["id", "x"], schema=sql_pg_schema)]
    assert got[0] != got[0] and got[1:] == [float("inf"), float("-inf")]


@pytest.mark.requirement("R8")
@backends
@pytest.mark.parametrize("mode", ["append", "upsert", "replace"])
def test_names_that_need_quoting(
    mode: str,
    sql_backend_url: tuple[str, str, str | None],
    sql_sink: Callable[..., Any],
    sql_drive: Callable[..., Any],
    sql_rows: Callable[..., Any],
) -> None:
    _, url, schema = sql_backend_url
    table = f"Mixed Case {mode}"
    data = pa.table({"Key": [1, 2], "order": ["a", "b"], "with space": [1.5, None], "pct%": [1, 2]})
    sink = sql_sink(url, table, schema=schema, mode=mode, primary_key=["Key"])

    sql_drive(sink, data)
    again = data
    if mode == "append":  # the primary key holds: append new keys
        again = data.set_column(0, "Key", pa.array([3, 4], pa.int64()))
    sql_drive(sink, again, run="again")

    expected = [(1, "a", 1.5, 1), (2, "b", None, 2)]
    if mode == "append":
        expected += [(3, "a", 1.5, 1), (4, "b", None, 2)]
    got = sql_rows(url, table, data.column_names, schema=schema, order_by="1")
    assert sorted(got, key=lambda row: row[0]) == expected


@pytest.mark.requirement("B5")
@pytest.mark.parametrize("sql_backend_url", ["postgresql", "mariadb", "sqlite"], indirect=True)
def test_two_writers_claiming_one_batch_at_once_write_it_once_without_error(
    sql_backend_url: tuple[str, str, str | None],
) -> None:
    # Two runs append the same batch at the same moment: the second waits for the first's
    # transaction, then finds the key and skips the batch (no duplicate-key error, no retry).
    import threading

    from floe_ingestion_dlt.sinks.sql.delivery_log import DeliveryLog

    _, url, schema = sql_backend_url
    log = DeliveryLog(schema, "orders")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            log.ensure(conn)
        second: list[object] = []

        def claim_too() -> None:
            try:
                with engine.begin() as conn:
                    second.append(log.claim(conn, "k" * 64, 3))
            except Exception as exc:  # the outcome under test: an error instead of a skip
                second.append(exc)

        with engine.begin() as conn:
            assert log.claim(conn, "k" * 64, 3) is True
            other = threading.Thread(target=claim_too)
            other.start()
            other.join(timeout=1.0)
            assert other.is_alive(), "the second claim waits for the first transaction"
        other.join(timeout=30)
        assert second == [False]
        with engine.connect() as conn:
            rows = conn.execute(sa.select(log.table)).all()
        assert [(r.idempotency_key, r.target_table, r.row_count) for r in rows] == [
            ("k" * 64, "orders", 3)
        ]
    finally:
        engine.dispose()


@pytest.mark.requirement("B5")
def test_the_look_first_claim_for_other_databases_records_a_key_once(
    sql_sqlite_url: str,
) -> None:
    # Databases without an insert-or-skip statement look the key up, then insert it. Run on
    # SQLite here, which the sink otherwise claims with INSERT ... ON CONFLICT DO NOTHING.
    from floe_ingestion_dlt.sinks.sql.delivery_log import DeliveryLog

    log = DeliveryLog(None, "orders")
    values = {
        "idempotency_key": "k" * 64,
        "target_table": "orders",
        "row_count": 3,
        "delivered_at": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
    }
    engine = sa.create_engine(sql_sqlite_url)
    try:
        with engine.begin() as conn:
            log.ensure(conn)
            assert log.delivered(conn, "k" * 64) is False
            assert log._claim_plain(conn, values) is True
        with engine.begin() as conn:
            assert log.delivered(conn, "k" * 64) is True
            assert log.delivered(conn, "j" * 64) is False
            assert log._claim_plain(conn, values) is False
        with engine.connect() as conn:
            rows = conn.execute(sa.select(log.table)).all()
    finally:
        engine.dispose()
    assert [(r.idempotency_key, r.target_table, r.row_count) for r in rows] == [
        ("k" * 64, "orders", 3)
    ]


@pytest.mark.requirement("B5")
def test_the_delivery_log_records_utc_whatever_the_local_time_zone(
    sql_pg_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from floe_ingestion_dlt.sinks.sql.delivery_log import DeliveryLog

    log = DeliveryLog(sql_pg_schema, "orders")
    engine = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test")
    # Fourteen hours ahead of UTC: a local time taken for UTC would be far off.
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        with engine.begin() as conn:
            log.ensure(conn)
            assert log.claim(conn, "k" * 64, 3) is True
        with engine.connect() as conn:
            recorded = conn.execute(sa.select(log.table.c.delivered_at)).scalar_one()
    finally:
        monkeypatch.undo()
        time.tzset()
        engine.dispose()
    assert abs(recorded - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=10)


@pytest.mark.requirement("B5")
@pytest.mark.parametrize("sql_backend_url", ["postgresql"], indirect=True)
def test_the_delivery_log_requires_every_field_and_fits_any_key_and_table_name(
    sql_backend_url: tuple[str, str, str | None],
) -> None:
    from floe_ingestion_dlt.sinks.sql.delivery_log import LOG_TABLE, DeliveryLog

    _, url, schema = sql_backend_url
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            DeliveryLog(schema, "orders").ensure(conn)
        columns = {c["name"]: c for c in sa.inspect(engine).get_columns(LOG_TABLE, schema=schema)}
    finally:
        engine.dispose()
    assert {name: c["nullable"] for name, c in columns.items()} == {
        "idempotency_key": False,
        "target_table": False,
        "row_count": False,
        "delivered_at": False,
    }
    # 128: room for any key floe derives (64 hex digits); 255: any table name a database allows.
    key, table, delivered = (
        columns[c]["type"] for c in ("idempotency_key", "target_table", "delivered_at")
    )
    assert isinstance(key, sa.String) and key.length == 128
    assert isinstance(table, sa.String) and table.length == 255
    assert isinstance(delivered, sa.DateTime) and delivered.timezone is True


@pytest.mark.requirement("R8")
@backends
def test_replace_of_a_table_with_a_name_at_the_length_limit(
    sql_backend_url: tuple[str, str, str | None],
    sql_sink: Callable[..., Any],
    sql_drive: Callable[..., Any],
    sql_rows: Callable[..., Any],
) -> None:
    # 60 characters: the staging table's name must still fit (63 on PostgreSQL, 64 on MySQL).
    _, url, schema = sql_backend_url
    table = _name("t" * 51)
    assert len(table) == 60
    sink = sql_sink(url, table, schema=schema, mode="replace", primary_key=["id"])
    sql_drive(sink, pa.table({"id": [1, 2], "v": ["a", "b"]}))
    sql_drive(sink, pa.table({"id": [5], "v": ["e"]}))

    assert sql_rows(url, table, ["id", "v"], schema=schema) == [(5, "e")]
    assert _table_names(url, schema) == {table}
