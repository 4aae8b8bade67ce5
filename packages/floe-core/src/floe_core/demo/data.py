"""The quickstart's Gold table: ``gold.customers``, generated deterministically.

Every value is a pure function of ``(seed, customer_id)`` (a splitmix64 hash computed with Arrow
kernels), so the same seed gives the same rows whatever the batch size, and millions of rows can
be produced batch by batch without holding the table in memory. Columns::

    customer_id     int64       1..rows, unique
    email           string      ascii, unique; ~2% null
    first_name      string      unicode names (Zoë, José, Łukasz, 李, ...)
    last_name       string      unicode names; ~0.5% null
    country         string      ISO 3166 alpha-2; ~1% null
    lifetime_value  decimal(12,2) (or float64)   orders_count x average order value
    orders_count    int32       skewed towards few orders; some zero
    is_active       bool        ordered within the last 365 days
    last_order_at   timestamp[us, UTC]   null when there were no orders
    segment         string      champions / loyal / promising / at_risk / churn_risk / new
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from floe_core.errors import SourceError
from floe_core.iceberg.catalog import (
    catalog_errors,
    catalog_secrets,
    describe_catalog,
    open_catalog,
)
from floe_core.iceberg.source import parse_table_identifier

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "CUSTOMERS_TABLE",
    "DEFAULT_ROWS",
    "DEFAULT_SEED",
    "MoneyType",
    "QuickstartTable",
    "create_customers_table",
    "customer_batches",
    "customers_reader",
    "customers_schema",
]

CUSTOMERS_TABLE = "gold.customers"
DEFAULT_ROWS = 10_000
DEFAULT_SEED = 42
DEFAULT_BATCH_SIZE = 65_536
MoneyType = Literal["decimal", "float64"]

#: Table property marking a table as written by this module, with what it holds.
MARKER_PROPERTY = "floe.quickstart"
#: pyiceberg buffers this much Arrow data per data file while streaming an append; its 512 MiB
#: default would make memory grow with the table up to that size.
_TARGET_FILE_BYTES = str(32 * 1024 * 1024)


def _pairs(text: str) -> list[tuple[str, str]]:
    return [(name, handle) for name, handle in (item.split(":") for item in text.split())]


_AS_OF = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
_DAY_US = 86_400 * 1_000_000
_MASK64 = (1 << 64) - 1

# "Display:handle" pairs: the name as written, and the ascii handle used in e-mail addresses.
_FIRST_NAMES = _pairs(
    "Zoë:zoe José:jose Björn:bjorn Łukasz:lukasz Søren:soren Chloé:chloe Ngozi:ngozi Aiko:aiko "
    "Mateo:mateo Ana:ana François:francois Olivia:olivia Liam:liam Emma:emma Noah:noah "
    "Amélie:amelie Jürgen:jurgen Siobhán:siobhan Ólafur:olafur Priya:priya Arjun:arjun 李:li "
    "健太:kenta Анна:anna محمد:mohammed Fatma:fatma Kwame:kwame Mia:mia Lucas:lucas Sofía:sofia"
)
_LAST_NAMES = _pairs(
    "García:garcia Müller:muller Østergaard:ostergaard Nguyễn:nguyen O'Brien:obrien "
    "Kowalczyk:kowalczyk Smith:smith Johnson:johnson Rossi:rossi Dubois:dubois Yılmaz:yilmaz "  # noqa: RUF001
    "Silva:silva Okafor:okafor Tanaka:tanaka 王:wang Иванова:ivanova Hernández:hernandez "
    "Virtanen:virtanen Novák:novak Dvořák:dvorak Brown:brown Jensen:jensen Kim:kim Singh:singh"
)
# Repetition weights the draw: a US-heavy customer base with a European and global tail.
_COUNTRIES = 6 * ["US"] + 3 * ["GB", "DE"] + 2 * ["FR"] + [
    "ES", "IT", "NL", "SE", "PL", "BR", "MX", "CA", "AU", "JP", "IN", "NG", "ZA", "KR", "TR", "CN",
]  # fmt: skip
_DOMAINS = ["example.com", "example.net", "example.org", "mail.example.com"]


def customers_schema(money: MoneyType = "decimal") -> pa.Schema:
    """The Arrow schema of ``gold.customers``."""
    import pyarrow as pa

    money_type = pa.decimal128(12, 2) if money == "decimal" else pa.float64()
    return pa.schema(
        [
            pa.field("customer_id", pa.int64(), nullable=False),
            pa.field("email", pa.string()),
            pa.field("first_name", pa.string()),
            pa.field("last_name", pa.string()),
            pa.field("country", pa.string()),
            pa.field("lifetime_value", money_type),
            pa.field("orders_count", pa.int32()),
            pa.field("is_active", pa.bool_()),
            pa.field("last_order_at", pa.timestamp("us", tz="UTC")),
            pa.field("segment", pa.string()),
        ]
    )


def customer_batches(
    rows: int = DEFAULT_ROWS,
    *,
    seed: int = DEFAULT_SEED,
    batch_size: int = DEFAULT_BATCH_SIZE,
    money: MoneyType = "decimal",
) -> Iterator[pa.RecordBatch]:
    """Yield ``rows`` customers in record batches of at most ``batch_size`` rows."""
    if rows < 0 or batch_size < 1:
        raise ValueError("rows must be >= 0 and batch_size >= 1")
    if money not in ("decimal", "float64"):
        raise ValueError(f"money must be 'decimal' or 'float64', not {money!r}")
    for start in range(1, rows + 1, batch_size):
        yield _batch(start, min(batch_size, rows + 1 - start), seed, money)


def customers_reader(
    rows: int = DEFAULT_ROWS,
    *,
    seed: int = DEFAULT_SEED,
    batch_size: int = DEFAULT_BATCH_SIZE,
    money: MoneyType = "decimal",
) -> pa.RecordBatchReader:
    """The same rows as :func:`customer_batches`, as a streaming reader."""
    import pyarrow as pa

    batches = customer_batches(rows, seed=seed, batch_size=batch_size, money=money)
    return pa.RecordBatchReader.from_batches(customers_schema(money), batches)


def _batch(start: int, count: int, seed: int, money: MoneyType) -> pa.RecordBatch:
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = pa.array(range(start, start + count), pa.int64())
    keys = pc.cast(ids, pa.uint64())

    def draw(salt: int) -> pa.Array:
        return _mix(
            pc.bit_wise_xor(keys, pa.scalar(_splitmix(seed * 1_000_003 + salt), pa.uint64()))
        )

    def uniform(salt: int) -> pa.Array:
        return pc.divide(
            pc.cast(pc.shift_right(draw(salt), pa.scalar(11, pa.uint64())), pa.float64()),
            float(1 << 53),
        )

    def pick(values: list[str], salt: int) -> tuple[pa.Array, pa.Array]:
        index = pc.cast(pc.modulo(draw(salt), pa.scalar(len(values), pa.uint64())), pa.int64())
        return pc.take(pa.array(values, pa.string()), index), index

    def nulled(values: pa.Array, rate: float, salt: int) -> pa.Array:
        return pc.if_else(pc.less(uniform(salt), rate), pa.nulls(count, values.type), values)

    first, first_index = pick([name for name, _ in _FIRST_NAMES], 1)
    last, last_index = pick([name for name, _ in _LAST_NAMES], 2)
    first_handle = pc.take(pa.array([h for _, h in _FIRST_NAMES]), first_index)
    last_handle = pc.take(pa.array([h for _, h in _LAST_NAMES]), last_index)
    domain, _ = pick(_DOMAINS, 3)
    email = pc.binary_join_element_wise(
        first_handle, ".", last_handle, ".", pc.cast(ids, pa.string()), "@", domain, ""
    )
    country, _ = pick(_COUNTRIES, 4)

    # Most customers order a few times, a few order a lot; about 9% never ordered.
    orders = pc.cast(pc.floor(pc.multiply(pc.power(uniform(5), 1.8), 80.0)), pa.int32())
    average_order = pc.add(pc.multiply(uniform(6), 185.0), 15.0)
    ltv = pc.round(pc.multiply(pc.cast(orders, pa.float64()), average_order), 2)

    has_orders = pc.greater(orders, 0)
    days_ago = pc.floor(pc.multiply(pc.power(uniform(7), 2.5), 730.0))
    offset_us = pc.add(
        pc.multiply(pc.cast(days_ago, pa.int64()), _DAY_US),
        pc.cast(pc.floor(pc.multiply(uniform(8), float(_DAY_US))), pa.int64()),
    )
    as_of_us = int(_AS_OF.timestamp()) * 1_000_000
    last_order_us = pc.if_else(has_orders, pc.subtract(as_of_us, offset_us), None)
    last_order_at = pc.cast(last_order_us, pa.timestamp("us", tz="UTC"))
    recent_days = pc.if_else(has_orders, days_ago, None)
    is_active = pc.fill_null(pc.less(recent_days, 365.0), False)
    segment = _segment(orders, ltv, recent_days)

    money_values = pc.cast(ltv, pa.decimal128(12, 2)) if money == "decimal" else ltv
    return pa.RecordBatch.from_arrays(
        [
            ids,
            nulled(email, 0.02, 9),
            first,
            nulled(last, 0.005, 10),
            nulled(country, 0.01, 11),
            money_values,
            orders,
            is_active,
            last_order_at,
            segment,
        ],
        schema=customers_schema(money),
    )


def _segment(orders: pa.Array, ltv: pa.Array, recent_days: pa.Array) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    def cond(values: pa.Array) -> pa.Array:
        return pc.fill_null(values, False)

    conditions = pc.make_struct(
        pc.equal(orders, 0),
        cond(pc.greater(recent_days, 365.0)),
        cond(pc.greater(recent_days, 180.0)),
        cond(pc.and_(pc.greater_equal(ltv, 2000.0), pc.less_equal(recent_days, 90.0))),
        pc.greater_equal(orders, 5),
        field_names=["new", "churn_risk", "at_risk", "champions", "loyal"],
    )
    labels = ["new", "churn_risk", "at_risk", "champions", "loyal", "promising"]
    return pc.case_when(conditions, *[pa.scalar(label) for label in labels])


def _splitmix(value: int) -> int:
    z = (value + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def _mix(keys: pa.Array) -> pa.Array:
    """splitmix64 over a uint64 array (Arrow's unchecked uint64 arithmetic wraps mod 2**64)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def u64(value: int) -> pa.Scalar:
        return pa.scalar(value, pa.uint64())

    z = pc.add(keys, u64(0x9E3779B97F4A7C15))
    z = pc.multiply(pc.bit_wise_xor(z, pc.shift_right(z, u64(30))), u64(0xBF58476D1CE4E5B9))
    z = pc.multiply(pc.bit_wise_xor(z, pc.shift_right(z, u64(27))), u64(0x94D049BB133111EB))
    return pc.bit_wise_xor(z, pc.shift_right(z, u64(31)))


@dataclass(frozen=True)
class QuickstartTable:
    """What :func:`create_customers_table` left in the catalog.

    Attributes:
        table: ``namespace.table``.
        rows: Rows in the table's current snapshot.
        snapshot_id: The current snapshot.
        written: True if this call wrote the data, False if the table already held it.
    """

    table: str
    rows: int
    snapshot_id: int | None
    written: bool


def create_customers_table(
    catalog_config: Mapping[str, Any],
    table: str = CUSTOMERS_TABLE,
    *,
    rows: int = DEFAULT_ROWS,
    seed: int = DEFAULT_SEED,
    batch_size: int = DEFAULT_BATCH_SIZE,
    money: MoneyType = "decimal",
) -> QuickstartTable:
    """Create the namespace and table if needed and fill it with the generated customers.

    Idempotent: when the table already holds exactly these rows (same count, seed and money
    type) nothing is written; when it holds another generation it is overwritten in one commit.
    The data is streamed into the table, so large ``rows`` do not need much memory.

    Raises:
        SourceError: The catalog cannot be opened, or ``table`` exists and was not created by
            this function (it is never overwritten then).
    """
    identifier = parse_table_identifier(table)
    marker = f"rows={rows};seed={seed};money={money};generator=1"
    catalog = open_catalog(catalog_config, create=True)
    try:
        with catalog_errors(describe_catalog(catalog_config), catalog_secrets(catalog_config)):
            catalog.create_namespace_if_not_exists(identifier[:-1])
            schema = customers_schema(money)
            reader = customers_reader(rows, seed=seed, batch_size=batch_size, money=money)
            if not catalog.table_exists(identifier):
                txn = catalog.create_table_transaction(
                    identifier, schema, properties=_properties(marker)
                )
                txn.append(reader)
                written = txn.commit_transaction()
                return _summary(table, written, written=True)
            existing = catalog.load_table(identifier)
            if MARKER_PROPERTY not in existing.properties:
                raise SourceError(
                    f"table '{table}' already exists in the {describe_catalog(catalog_config)} "
                    "and was not created by floe's quickstart; it is left untouched",
                    hint="choose another table name, or drop the table yourself",
                )
            current = _summary(table, existing, written=False)
            if existing.properties[MARKER_PROPERTY] == marker and current.rows == rows:
                return current
            if f"money={money};" not in existing.properties[MARKER_PROPERTY]:
                # Another column type: the old generation cannot be overwritten in place.
                catalog.purge_table(identifier)
                txn = catalog.create_table_transaction(
                    identifier, schema, properties=_properties(marker)
                )
                txn.append(reader)
            else:
                txn = existing.transaction()  # type: ignore[assignment]
                txn.set_properties(_properties(marker))
                txn.overwrite(reader)
            return _summary(table, txn.commit_transaction(), written=True)
    finally:
        catalog.close()


def _properties(marker: str) -> dict[str, str]:
    return {MARKER_PROPERTY: marker, "write.target-file-size-bytes": _TARGET_FILE_BYTES}


def _summary(name: str, table: Any, *, written: bool) -> QuickstartTable:
    snapshot = table.current_snapshot()
    total = snapshot.summary.additional_properties.get("total-records", "0") if snapshot else "0"
    return QuickstartTable(
        table=name,
        rows=int(total),
        snapshot_id=snapshot.snapshot_id if snapshot else None,
        written=written,
    )
