"""The peer: drt (``drt-core``) and floe on the same jobs, both run from their CLIs.

Same Iceberg table (read by drt's ``iceberg`` source and by floe's catalog reader), same
PostgreSQL server, same HTTP server. Both are timed as whole processes (``drt run --select``,
``floe egress run``), from the process start to its exit.

- Upsert: the table holds version 0 of every row (untimed set-up); the job upserts version 1.
  drt: ``type: postgres``, ``upsert_key: [id]``, ``sync.mode: upsert``, ``batch_size: 1000``.
- REST: JSON arrays of 500 records per POST. drt: ``type: rest_api``, ``body_mode: batch``,
  ``batch_template: "{{ rows | tojson_safe }}"``, ``max_records_per_request: 500``.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchmarks import drt_env, pg, verify
from benchmarks.cases import Case, Context
from benchmarks.data import customers
from benchmarks.floe_cli import FloeProject, check_cli
from benchmarks.harness import CaseResult, Target, Unavailable, Variant, run_variants
from benchmarks.settings import PG_DSN, PG_SQLALCHEMY_URL

_TIMEOUT = 1800.0


def _drt_binary() -> Path:
    return drt_env.ensure_venv()


def _check_drt() -> None:
    _drt_binary()


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


def _upsert_variants(
    ctx: Context, schema: str, source: str, rows: int, floe: FloeProject, drt: drt_env.DrtProject
) -> list[Variant]:
    old = customers(rows, 0)
    expected = verify.from_arrow(customers(rows, 1))
    counter = itertools.count()
    tables: dict[str, str] = {}

    def qualified(name: str) -> str:
        return f'"{schema}"."{tables[name]}"'

    def fresh(name: str) -> None:
        tables[name] = f"{name}_{next(counter)}"
        with pg.connect() as conn:
            pg.create_customers(conn, qualified(name))
            pg.copy_arrow(conn, qualified(name), old)

    def floe_prepare() -> None:
        fresh("floe_upsert")
        floe.add_destination(
            name="peer_upsert",
            sink_type="sql_database",
            connection_secret_ref="bench-pg",
            source_table=source,
            config={
                "schema": schema,
                "table": tables["floe_upsert"],
                "mode": "upsert",
                "primary_key": ["id"],
            },
        )

    def floe_run() -> dict[str, float]:
        return floe.run("peer_upsert", timeout=_TIMEOUT).figures()

    def drt_prepare() -> None:
        fresh("drt_upsert")
        drt.add_sync(
            "peer_upsert",
            _pg_destination_for_drt(schema, tables["drt_upsert"]),
            {"mode": "upsert", "batch_size": 1000},
        )

    return [
        Variant(
            "floe_upsert",
            "floe egress run, sql_database upsert",
            run=floe_run,
            verify=lambda: pg.verify_table(qualified("floe_upsert"), expected),
            prepare=floe_prepare,
            cleanup=lambda: pg.drop_table(qualified("floe_upsert")),
            check=lambda: check_cli("sql_database"),
            is_floe=True,
        ),
        Variant(
            "drt_upsert",
            f"drt run, postgres upsert (drt-core {drt_env.DRT_VERSION})",
            run=lambda: _timed_drt(drt, "peer_upsert"),
            verify=lambda: pg.verify_table(qualified("drt_upsert"), expected),
            prepare=drt_prepare,
            cleanup=lambda: pg.drop_table(qualified("drt_upsert")),
            check=_check_drt,
        ),
    ]


def _timed_drt(drt: drt_env.DrtProject, name: str) -> dict[str, float]:
    done, report = drt.run(_drt_binary(), name, timeout=_TIMEOUT)
    return {
        "seconds": done.seconds,
        "peak_rss_mb": done.peak_rss_mb,
        "reported_s": float(report.get("duration_seconds", "nan")),
    }


def _rest_variants(
    ctx: Context, source: str, rows: int, floe: FloeProject, drt: drt_env.DrtProject
) -> list[Variant]:
    expected = verify.from_arrow(customers(rows, 1))
    floe.add_destination(
        name="peer_rest",
        sink_type="rest_api",
        connection_secret_ref="bench-http",
        source_table=source,
        batch_size=500,
        config={"path": "/fast/peer", "body": "array"},
    )
    drt.add_sync(
        "peer_rest",
        {
            "type": "rest_api",
            "url": ctx.server.base_url + "/fast/peer",
            "method": "POST",
            "headers": {"Content-Type": "application/json"},
            "body_mode": "batch",
            "batch_template": "{{ rows | tojson_safe }}",
            "max_records_per_request": 500,
        },
        {"mode": "full", "batch_size": 500},
    )

    def check_server() -> None:
        verify.check(expected, ctx.server.stats()["checksum"], "HTTP server")

    def floe_run() -> dict[str, float]:
        return floe.run("peer_rest", timeout=_TIMEOUT).figures()

    return [
        Variant(
            "floe_rest",
            "floe egress run, rest_api",
            run=floe_run,
            verify=check_server,
            prepare=ctx.server.reset,
            check=lambda: check_cli("rest_api"),
            is_floe=True,
        ),
        Variant(
            "drt_rest",
            f"drt run, rest_api batch mode (drt-core {drt_env.DRT_VERSION})",
            run=lambda: _timed_drt(drt, "peer_rest"),
            verify=check_server,
            prepare=ctx.server.reset,
            check=_check_drt,
        ),
    ]


def run(ctx: Context) -> CaseResult:
    """Measure, verify, compare."""
    rows = ctx.size(100_000, 10_000)
    result = CaseResult("drt_peer", f"Peer: drt vs floe, {rows:,} rows, whole processes")
    try:
        _drt_binary()
    except Unavailable as exc:
        result.notes.append(f"drt unavailable: {exc}")
    source = ctx.warehouse.table(rows, 1)
    floe = FloeProject(ctx.scratch("floe_drt_peer"), ctx.warehouse.properties)
    floe.add_secret("bench-pg", {"url": PG_SQLALCHEMY_URL})
    floe.add_secret("bench-http", {"base_url": ctx.server.base_url})
    drt = drt_env.DrtProject(ctx.scratch("drt_project"), ctx.warehouse.properties, source)
    repeats = ctx.times(5)
    with pg.scratch_schema("bench_peer") as schema:
        result.variants = run_variants(
            _upsert_variants(ctx, schema, source, rows, floe, drt), rows, repeats, ctx.log
        )
    result.variants += run_variants(
        _rest_variants(ctx, source, rows, floe, drt), rows, repeats, ctx.log
    )
    result.targets.append(
        result.ratio_target(
            "floe_upsert", "drt_upsert", 20.0, "floe >= 20x drt, PostgreSQL upsert, whole process"
        )
    )
    value, why = result.time_ratio("floe_upsert", "drt_upsert", "reported_s")
    result.targets.append(
        Target(
            "floe >= 20x drt, PostgreSQL upsert, sync time each tool reports (no start-up)",
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
        f"REST push: floe is {ratio:.1f}x drt as whole processes"
        + (f", {inner:.1f}x by the sync time each reports." if inner else ".")
        if ratio
        else f"REST push ratio: {why}.",
        "reported_s is the sync duration in drt's `--output json` and the write duration in "
        "floe's receipt; the difference to the wall time is interpreter start, imports, config "
        "and catalog work.",
    ]
    return result


CASE = Case("drt_peer", "Peer: drt", run)
