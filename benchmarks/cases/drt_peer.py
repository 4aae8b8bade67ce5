"""The peer: drt (``drt-core``) and floe on the same jobs, both run from their CLIs.

Same Iceberg table (read by drt's ``iceberg`` source and by floe's catalog reader), same
PostgreSQL server, same HTTP server. Both are timed as whole processes (``drt run --select``,
``floe egress run``), from the process start to its exit.

drt runs at its best configuration: pacing off (``rate_limit.requests_per_second: 0``; its
default is 10 requests per second) and the ``sync.batch_size`` that was fastest in a sweep
run first (every size verified at the destination like any run, and kept in the report).

- Upsert: the table holds version 0 of every row (untimed set-up); the job upserts version 1.
  drt: ``type: postgres``, ``upsert_key: [id]``, ``sync.mode: upsert``.
- REST: JSON arrays of 500 records per POST for both tools. drt: ``type: rest_api``,
  ``body_mode: batch``, ``batch_template: "{{ rows | tojson_safe }}"``,
  ``max_records_per_request: 500``; the sweep sizes the batches drt reads and hands to the
  destination, which cuts them into requests of 500.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from benchmarks import drt_env, pg, verify
from benchmarks.cases import Case, Context
from benchmarks.data import customers
from benchmarks.floe_cli import FloeProject, check_cli
from benchmarks.harness import (
    CaseResult,
    Target,
    Unavailable,
    Variant,
    VariantResult,
    run_variants,
)
from benchmarks.settings import PG_DSN, PG_SQLALCHEMY_URL

_TIMEOUT = 1800.0
#: drt's ``sync.batch_size`` values tried (its default is 100, far slower than any of these).
UPSERT_BATCH_SIZES = (1_000, 10_000, 100_000)
REST_BATCH_SIZES = (500, 5_000, 50_000, 100_000)
#: drt's own "no pacing" setting.
NO_RATE_LIMIT = {"requests_per_second": 0}


def _version() -> str:
    return drt_env.installed_version() or "not installed"


def _pg_destination_for_drt(schema: str, table: str) -> dict[str, Any]:
    url = urlsplit(PG_DSN)
    dest: dict[str, Any] = {
        "type": "postgres",
        "host": url.hostname or "127.0.0.1",
        "port": url.port or 5432,
        "dbname": url.path.lstrip("/") or "postgres",
        "user": url.username or "postgres",
        "table": f"{schema}.{table}",
        "upsert_key": ["id"],
    }
    if url.password:
        dest["password"] = url.password
    return dest


def _timed_drt(drt: drt_env.DrtProject, name: str) -> dict[str, float]:
    done, report = drt.run(drt_env.drt_executable(), name, timeout=_TIMEOUT)
    return {
        "seconds": done.seconds,
        "peak_rss_mb": done.peak_rss_mb,
        "reported_s": float(report.get("duration_seconds", "nan")),
    }


def _check_drt() -> None:
    drt_env.drt_executable()


def _best(results: list[VariantResult]) -> VariantResult | None:
    """The sweep's fastest verified size (by median)."""
    ok = [r for r in results if r.ok and r.median_seconds]
    return min(ok, key=lambda r: r.median_seconds or 0.0) if ok else None


class _Upsert:
    """floe and drt upserting version 1 over version 0 of every row."""

    def __init__(
        self, schema: str, source: str, rows: int, floe: FloeProject, drt: drt_env.DrtProject
    ) -> None:
        self.schema, self.source, self.floe, self.drt = schema, source, floe, drt
        self.old = customers(rows, 0)
        self.expected = verify.from_arrow(customers(rows, 1))
        self.counter = itertools.count()
        self.tables: dict[str, str] = {}

    def qualified(self, name: str) -> str:
        return f'"{self.schema}"."{self.tables[name]}"'

    def fresh(self, name: str) -> None:
        self.tables[name] = f"{name}_{next(self.counter)}"
        with pg.connect() as conn:
            pg.create_customers(conn, self.qualified(name))
            pg.copy_arrow(conn, self.qualified(name), self.old)

    def _variant(
        self,
        name: str,
        label: str,
        run: Callable[[], dict[str, float]],
        prepare: Callable[[], None],
    ) -> Variant:
        is_floe = name.startswith("floe")
        return Variant(
            name,
            label,
            run=run,
            verify=lambda: pg.verify_table(self.qualified(name), self.expected),
            prepare=prepare,
            cleanup=lambda: pg.drop_table(self.qualified(name)),
            check=(lambda: check_cli("sql_database")) if is_floe else _check_drt,
            is_floe=is_floe,
        )

    def floe_variant(self) -> Variant:
        def prepare() -> None:
            self.fresh("floe_upsert")
            self.floe.add_destination(
                name="peer_upsert",
                sink_type="sql_database",
                connection_secret_ref="bench-pg",
                source_table=self.source,
                config={
                    "schema": self.schema,
                    "table": self.tables["floe_upsert"],
                    "mode": "upsert",
                    "primary_key": ["id"],
                },
            )

        return self._variant(
            "floe_upsert",
            "floe egress run, sql_database upsert",
            lambda: self.floe.run("peer_upsert", timeout=_TIMEOUT).figures(),
            prepare,
        )

    def drt_variant(self, batch_size: int, name: str = "") -> Variant:
        name = name or f"drt_upsert_b{batch_size}"

        def prepare() -> None:
            self.fresh(name)
            self.drt.add_sync(
                name,
                _pg_destination_for_drt(self.schema, self.tables[name]),
                {"mode": "upsert", "batch_size": batch_size, "rate_limit": NO_RATE_LIMIT},
            )

        return self._variant(
            name,
            f"drt run, postgres upsert, batch_size {batch_size:,} (drt-core {_version()})",
            lambda: _timed_drt(self.drt, name),
            prepare,
        )


class _Rest:
    """floe and drt posting every row as JSON arrays of 500 to the fast endpoint."""

    def __init__(self, ctx: Context, source: str, rows: int, floe: FloeProject, drt: Any) -> None:
        self.ctx, self.source, self.floe, self.drt = ctx, source, floe, drt
        self.expected = verify.from_arrow(customers(rows, 1))

    def check_server(self) -> None:
        verify.check(self.expected, self.ctx.server.stats()["checksum"], "HTTP server")

    def floe_variant(self) -> Variant:
        self.floe.add_destination(
            name="peer_rest",
            sink_type="rest_api",
            connection_secret_ref="bench-http",
            source_table=self.source,
            batch_size=500,
            config={"path": "/fast/peer", "body": "array"},
        )
        return Variant(
            "floe_rest",
            "floe egress run, rest_api",
            run=lambda: self.floe.run("peer_rest", timeout=_TIMEOUT).figures(),
            verify=self.check_server,
            prepare=self.ctx.server.reset,
            check=lambda: check_cli("rest_api"),
            is_floe=True,
        )

    def drt_variant(self, batch_size: int, name: str = "") -> Variant:
        name = name or f"drt_rest_b{batch_size}"
        self.drt.add_sync(
            name,
            {
                "type": "rest_api",
                "url": self.ctx.server.base_url + "/fast/peer",
                "method": "POST",
                "headers": {"Content-Type": "application/json"},
                "body_mode": "batch",
                "batch_template": "{{ rows | tojson_safe }}",
                "max_records_per_request": 500,
            },
            {"mode": "full", "batch_size": batch_size, "rate_limit": NO_RATE_LIMIT},
        )
        return Variant(
            name,
            f"drt run, rest_api batch mode, batch_size {batch_size:,}, 500 per request "
            f"(drt-core {_version()})",
            run=lambda: _timed_drt(self.drt, name),
            verify=self.check_server,
            prepare=self.ctx.server.reset,
            check=_check_drt,
        )


def _sweep_then_measure(
    ctx: Context,
    job: _Upsert | _Rest,
    sizes: tuple[int, ...],
    rows: int,
    name: str,
    sweep_notes: list[str],
) -> list[VariantResult]:
    """Sweep drt's batch size, then floe against drt at the fastest size, interleaved."""
    sizes = tuple(sorted({min(s, rows) for s in sizes}))
    sweep = run_variants([job.drt_variant(s) for s in sizes], rows, ctx.times(2, 1), ctx.log)
    for result in sweep:
        result.label = "sweep: " + result.label
    best = _best(sweep)
    if best is None:
        sweep_notes.append(f"{name}: no drt batch size ran ({sweep[0].status if sweep else ''}).")
        return sweep
    size = sizes[sweep.index(best)]
    times = ", ".join(
        f"{s:,}: {r.median_seconds:.2f} s" if r.ok and r.median_seconds else f"{s:,}: {r.status}"
        for s, r in zip(sizes, sweep, strict=True)
    )
    sweep_notes.append(f"{name}: drt batch_size sweep (median s) {times}; measured at {size:,}.")
    measured = run_variants(
        [job.floe_variant(), job.drt_variant(size, name)], rows, ctx.times(5), ctx.log
    )
    return measured + sweep


def run(ctx: Context) -> CaseResult:
    """Measure, verify, compare."""
    rows = ctx.size(100_000, 10_000)
    result = CaseResult("drt_peer", f"Peer: drt vs floe, {rows:,} rows, whole processes")
    try:
        _check_drt()
    except Unavailable as exc:
        result.notes.append(f"drt unavailable: {exc}")
    source = ctx.warehouse.table(rows, 1)
    floe = FloeProject(ctx.scratch("floe_drt_peer"), ctx.warehouse.properties)
    floe.add_secret("bench-pg", {"url": PG_SQLALCHEMY_URL})
    floe.add_secret("bench-http", {"base_url": ctx.server.base_url})
    drt = drt_env.DrtProject(ctx.scratch("drt_project"), ctx.warehouse.properties, source)
    sweeps: list[str] = []
    with pg.scratch_schema("bench_peer") as schema:
        upsert = _Upsert(schema, source, rows, floe, drt)
        result.variants = _sweep_then_measure(
            ctx, upsert, UPSERT_BATCH_SIZES, rows, "drt_upsert", sweeps
        )
    rest = _Rest(ctx, source, rows, floe, drt)
    result.variants += _sweep_then_measure(ctx, rest, REST_BATCH_SIZES, rows, "drt_rest", sweeps)
    result.targets.append(
        result.ratio_target(
            "floe_upsert",
            "drt_upsert",
            20.0,
            "floe >= 20x drt at its best, PostgreSQL upsert, whole process",
        )
    )
    value, why = result.time_ratio("floe_upsert", "drt_upsert", "reported_s")
    result.targets.append(
        Target(
            "floe >= 20x drt at its best, PostgreSQL upsert, sync time each tool reports",
            value,
            20.0,
            ">=",
            "x",
            why,
        )
    )
    ratio, why = result.ratio("floe_rest", "drt_rest")
    inner, _ = result.time_ratio("floe_rest", "drt_rest", "reported_s")
    result.notes += [
        *sweeps,
        "drt runs with pacing off (`rate_limit: {requests_per_second: 0}`); its default of 10 "
        "requests per second would bound the REST push to 5,000 rows/s.",
        f"REST push: floe is {ratio:.1f}x drt at its best as whole processes"
        + (f", {inner:.1f}x by the sync time each reports." if inner else ".")
        if ratio
        else f"REST push ratio: {why}.",
        "reported_s is the sync duration in drt's `--output json` and the write duration in "
        "floe's receipt; the difference to the wall time is interpreter start, imports, config "
        "and catalog work.",
    ]
    return result


CASE = Case("drt_peer", "Peer: drt", run)
