"""Arrow -> SQL column types for tables the ``sql_database`` sink creates."""

from __future__ import annotations

import pyarrow as pa
import pytest
import sqlalchemy as sa
from floe_core.sinks.errors import SinkConfigurationError
from floe_ingestion_dlt.sinks.sql.types import build_table, column_type

DIALECTS = {
    # the dialects of engines that never connect (SQLAlchemy's dialect classes are untyped)
    "postgresql": sa.create_engine("postgresql+psycopg://").dialect,
    "mysql": sa.create_engine("mysql+pymysql://").dialect,
    "sqlite": sa.create_engine("sqlite://").dialect,
}

CASES = [
    # arrow type, postgresql, mysql, sqlite
    (pa.int8(), "SMALLINT", "SMALLINT", "SMALLINT"),
    (pa.uint8(), "SMALLINT", "SMALLINT", "SMALLINT"),
    (pa.int16(), "SMALLINT", "SMALLINT", "SMALLINT"),
    (pa.uint16(), "INTEGER", "INTEGER", "INTEGER"),
    (pa.int32(), "INTEGER", "INTEGER", "INTEGER"),
    (pa.uint32(), "BIGINT", "BIGINT", "BIGINT"),
    (pa.int64(), "BIGINT", "BIGINT", "BIGINT"),
    # SQLite integers are signed 64-bit; larger values are refused row by row.
    (pa.uint64(), "NUMERIC(20, 0)", "NUMERIC(20, 0)", "BIGINT"),
    # MySQL reads a FLOAT back rounded to 6 digits; a float32 is exact in a DOUBLE.
    (pa.float32(), "REAL", "DOUBLE", "FLOAT"),
    (pa.float64(), "DOUBLE PRECISION", "DOUBLE", "DOUBLE"),
    # SQLite's NUMERIC affinity keeps 15 significant digits: wider decimals are text.
    (pa.decimal128(15, 4), "NUMERIC(15, 4)", "NUMERIC(15, 4)", "NUMERIC(15, 4)"),
    (pa.decimal128(38, 9), "NUMERIC(38, 9)", "NUMERIC(38, 9)", "TEXT"),
    (pa.decimal256(65, 30), "NUMERIC(65, 30)", "NUMERIC(65, 30)", "TEXT"),
    (pa.bool_(), "BOOLEAN", "BOOL", "BOOLEAN"),
    (pa.string(), "TEXT", "LONGTEXT", "TEXT"),
    (pa.large_string(), "TEXT", "LONGTEXT", "TEXT"),
    (pa.dictionary(pa.int32(), pa.string()), "TEXT", "LONGTEXT", "TEXT"),
    (pa.binary(), "BYTEA", "LONGBLOB", "BLOB"),
    (pa.timestamp("us", tz="UTC"), "TIMESTAMP WITH TIME ZONE", "DATETIME(6)", "DATETIME"),
    (pa.timestamp("ns", tz="Europe/Paris"), "TIMESTAMP WITH TIME ZONE", "DATETIME(6)", "DATETIME"),
    (pa.timestamp("ms"), "TIMESTAMP WITHOUT TIME ZONE", "DATETIME(6)", "DATETIME"),
    (pa.date32(), "DATE", "DATE", "DATE"),
    (pa.time64("us"), "TIME WITHOUT TIME ZONE", "TIME(fsp=6)", "TIME"),
    (pa.list_(pa.int64()), "JSONB", "JSON", "JSON"),
    (pa.struct([("a", pa.int64())]), "JSONB", "JSON", "JSON"),
]


@pytest.mark.requirement("R8")
@pytest.mark.parametrize(("arrow_type", "pg", "my", "lite"), CASES, ids=[str(c[0]) for c in CASES])
def test_column_types(arrow_type: pa.DataType, pg: str, my: str, lite: str) -> None:
    for backend, expected in (("postgresql", pg), ("mysql", my), ("sqlite", lite)):
        compiled = column_type(arrow_type, backend=backend).compile(dialect=DIALECTS[backend])
        assert compiled.replace("TIME(fsp=6)", "TIME(6)") == expected.replace(
            "TIME(fsp=6)", "TIME(6)"
        ), backend


@pytest.mark.requirement("R8")
def test_string_key_columns_are_varchar_with_a_binary_collation_on_mysql() -> None:
    key = column_type(pa.string(), backend="mariadb", is_key=True)
    assert key.compile(dialect=DIALECTS["mysql"]) == "VARCHAR(255) COLLATE utf8mb4_nopad_bin"
    key = column_type(pa.string(), backend="mysql", is_key=True)
    assert key.compile(dialect=DIALECTS["mysql"]) == "VARCHAR(255) COLLATE utf8mb4_bin"


@pytest.mark.requirement("R8")
def test_build_table_sets_key_nullability_and_utf8mb4() -> None:
    schema = pa.schema(
        [
            pa.field("id", pa.int64()),
            pa.field("email", pa.string(), nullable=False),
            ("v", pa.int8()),
        ]
    )
    table = build_table(
        sa.MetaData(), "customers", schema, db_schema="s", backend="mysql", primary_key=["id"]
    )
    ddl = str(sa.schema.CreateTable(table).compile(dialect=DIALECTS["mysql"]))

    assert "id BIGINT NOT NULL," in ddl  # no AUTO_INCREMENT: ids are the data's
    assert "email LONGTEXT NOT NULL" in ddl
    assert "v SMALLINT," in ddl
    assert "CONSTRAINT customers_pkey PRIMARY KEY (id)" in ddl
    assert "CHARSET=utf8mb4" in ddl


@pytest.mark.requirement("R8")
def test_unsupported_types_and_missing_keys_are_clear_errors() -> None:
    with pytest.raises(SinkConfigurationError, match="column 'age': Arrow type duration"):
        build_table(
            sa.MetaData(),
            "t",
            pa.schema([("age", pa.duration("s"))]),
            db_schema=None,
            backend="postgresql",
        )
    with pytest.raises(SinkConfigurationError, match="primary_key column\\(s\\) 'key'"):
        build_table(
            sa.MetaData(),
            "t",
            pa.schema([("id", pa.int64())]),
            db_schema=None,
            backend="postgresql",
            primary_key=["key"],
        )


@pytest.mark.requirement("R8")
@pytest.mark.parametrize("wide", [pa.decimal256(66, 10), pa.decimal128(38, 31)], ids=str)
def test_decimals_wider_than_mysql_decimal_are_refused_with_a_cast_hint(
    wide: pa.DataType,
) -> None:
    with pytest.raises(SinkConfigurationError) as caught:
        build_table(
            sa.MetaData(), "t", pa.schema([("amount", wide)]), db_schema=None, backend="mariadb"
        )

    message = str(caught.value)
    assert "column 'amount'" in message
    assert "does not fit MySQL/MariaDB's DECIMAL (at most 65 digits, 0 to 30 after the point)" in (
        message
    )
    assert "cast it to a decimal that does" in message
