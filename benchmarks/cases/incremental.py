"""Incremental sync against the peer: 10% of a 100k-row table changed in a new snapshot.

One Iceberg table of ``rows`` customers (version 0, ``updated_at`` in 2024), synced once
(untimed) by every variant. Each repeat then overwrites 10% of the rows with a new version
stamped later than any ``updated_at`` before (a new snapshot), and runs, in an order rotated
per repeat, each as a whole process timed from outside:

- ``floe_pg``: ``floe egress run``, ``sync_mode: upsert``, ``sql_database`` into PostgreSQL;
- ``floe_rest``: the same into the HTTP server (``rest_api``, JSON arrays of 500);
- ``drt_pg``: ``drt run``, drt-core's ``mode: incremental`` with ``cursor_field: updated_at``
  (its cursor strategy: it keeps the largest ``updated_at`` it synced and selects the rows
  above it), upserting on ``id`` into PostgreSQL, pacing off, ``batch_size`` 10,000.

Verified after each run, before it counts: both PostgreSQL tables hold exactly the Iceberg
table's rows (count and checksum of every column), and the HTTP server received exactly the
changed rows (their checksum), nothing else. Rows sent are what each tool reports (floe's
receipt ``sync.sent``, drt's ``rows_synced``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks import drt_env, pg, verify
from benchmarks.cases import Case, Context
from benchmarks.cases.drt_peer import NO_RATE_LIMIT, _pg_destination_for_drt
from benchmarks.cases.sync_common import byte_compile, change, own_table, sync_of
from benchmarks.floe_cli import FloeProject, check_cli
from benchmarks.harness import CaseResult, Target, Unavailable, VariantResult
from benchmarks.settings import PG_SQLALCHEMY_URL

_TIMEOUT = 900.0
_REST_PATH = "/fast/incremental"


def run(ctx: Context) -> CaseResult:
    """Measure, verify, compare."""
    rows = ctx.size(100_000, 10_000)
    changed = rows // 10
    repeats = ctx.times(5, 2)
    result = CaseResult(
        "incremental",
        f"Incremental sync vs drt: {changed:,} of {rows:,} rows changed in a new snapshot, "
        "whole processes",
    )
    try:
        check_cli("sql_database")
        check_cli("rest_api")
    except Unavailable as exc:
        result.notes.append(f"unavailable: {exc}")
        return result
    name = f"incremental_peer_{rows}"
    table = own_table(ctx, name, rows, 1)
    ident = f"bench.{name}"
    floe = FloeProject(ctx.scratch("floe_incremental_peer"), ctx.warehouse.properties)
    floe.add_secret("bench-pg", {"url": PG_SQLALCHEMY_URL})
    floe.add_secret("bench-http", {"base_url": ctx.server.base_url})
    byte_compile(ctx)
    results = {
        "floe_pg": VariantResult("floe_pg", "floe egress run, upsert into PostgreSQL", rows, True),
        "floe_rest": VariantResult("floe_rest", "floe egress run, upsert into REST", rows, True),
        "drt_pg": VariantResult(
            "drt_pg",
            "drt run, mode incremental (cursor updated_at), postgres upsert "
            f"(drt-core {drt_env.installed_version() or 'not installed'})",
            rows,
        ),
    }
    with pg.scratch_schema("bench_incr_peer") as schema:
        floe.add_destination(
            name="incr_pg",
            sink_type="sql_database",
            connection_secret_ref="bench-pg",
            source_table=ident,
            primary_key=["id"],
            sync_mode="upsert",
            batch_size=10_000,
            config={"schema": schema, "table": "floe_pg", "mode": "upsert"},
        )
        floe.add_destination(
            name="incr_rest",
            sink_type="rest_api",
            connection_secret_ref="bench-http",
            source_table=ident,
            primary_key=["id"],
            sync_mode="upsert",
            batch_size=500,
            config={"path": _REST_PATH, "body": "array"},
        )
        drt = None
        try:
            drt_exe = drt_env.drt_executable()
            drt = drt_env.DrtProject(
                ctx.scratch("drt_incremental"), ctx.warehouse.properties, ident
            )
            with pg.connect() as conn:
                pg.create_customers(conn, f'"{schema}"."drt_pg"')
            drt.add_sync(
                "drt_incr",
                _pg_destination_for_drt(schema, "drt_pg"),
                {
                    "mode": "incremental",
                    "cursor_field": "updated_at",
                    "batch_size": 10_000,
                    "rate_limit": NO_RATE_LIMIT,
                },
            )
        except Unavailable as exc:
            results["drt_pg"].status = f"unavailable: {exc}"

        def expected() -> verify.Checksum:
            return verify.from_arrow(table.refresh().scan().to_arrow())

        def floe_pg() -> dict[str, float]:
            done = floe.run("incr_pg", _TIMEOUT)
            pg.verify_table(f'"{schema}"."floe_pg"', expected())
            _, sync = sync_of(done)
            return {**done.figures(), "rows_sent": float(sync.get("sent", -1)), **_files(sync)}

        def floe_rest(new: verify.Checksum | None) -> dict[str, float]:
            ctx.server.reset()
            done = floe.run("incr_rest", _TIMEOUT)
            if new is not None:  # the first sync sends everything
                verify.check(new, ctx.server.stats(_REST_PATH)["checksum"], "HTTP server")
            _, sync = sync_of(done)
            return {**done.figures(), "rows_sent": float(sync.get("sent", -1)), **_files(sync)}

        def drt_pg() -> dict[str, float]:
            assert drt is not None
            done, report = drt.run(drt_exe, "drt_incr", timeout=_TIMEOUT)
            pg.verify_table(f'"{schema}"."drt_pg"', expected())
            return {
                "seconds": done.seconds,
                "peak_rss_mb": done.peak_rss_mb,
                "reported_s": float(report.get("duration_seconds", "nan")),
                "rows_sent": float(report.get("rows_synced", -1)),
                "rows_extracted": float(report.get("rows_extracted", -1)),
            }

        first: dict[str, Callable[[], dict[str, float]]] = {
            "floe_pg": floe_pg,
            "floe_rest": lambda: floe_rest(None),
            "drt_pg": drt_pg,
        }
        for key, step in first.items():  # the first sync of every row, untimed
            if results[key].status == "ok":
                _attempt(ctx, results[key], step, record=False)
        order = list(first)
        for rep in range(repeats):
            new_rows = change(table, 1, changed, rep + 1, stamp=100 * (rep + 1))
            new = verify.from_arrow(new_rows)
            steps: dict[str, Callable[[], dict[str, float]]] = {
                "floe_pg": floe_pg,
                "floe_rest": lambda new=new: floe_rest(new),  # type: ignore[misc]
                "drt_pg": drt_pg,
            }
            shift = rep % len(order)
            for key in order[shift:] + order[:shift]:
                if results[key].status == "ok":
                    _attempt(ctx, results[key], steps[key], record=True, label=f"[{rep + 1}]")
    result.variants = list(results.values())
    _targets(result, changed)
    return result


def _files(sync: dict[str, Any]) -> dict[str, float]:
    return {
        "files_read": float(sync.get("files_read", -1)),
        "files_total": float(sync.get("files_total", -1)),
    }


def _attempt(
    ctx: Context,
    into: VariantResult,
    step: Callable[[], dict[str, float]],
    *,
    record: bool,
    label: str = "first sync",
) -> None:
    try:
        figures = step()
    except verify.VerificationError as exc:
        into.status = f"wrong: {exc}"[:600]
    except Exception as exc:
        into.status = f"failed: {str(exc)[:300]}"
    else:
        seconds = figures.pop("seconds")
        ctx.log(f"  {label} {into.name}: {seconds:.2f} s, sent {figures.get('rows_sent', 0):,.0f}")
        if record:
            into.seconds.append(seconds)
            into.extras.append(figures)
    if into.status != "ok":
        ctx.log(f"  {into.name}: {into.status}")


def _targets(result: CaseResult, changed: int) -> None:
    def sent(name: str) -> float | None:
        found = result.variant(name)
        return found.median_extra("rows_sent") if found is not None and found.ok else None

    for name, where in (("floe_pg", "PostgreSQL"), ("floe_rest", "the REST server")):
        value = sent(name)
        result.targets.append(
            Target(
                f"floe into {where}: only the {changed:,} changed rows sent (rows off)",
                abs(value - changed) if value is not None else None,
                0,
                "<=",
                "rows",
            )
        )
    result.targets.append(
        result.paired_ratio_target(
            "floe_pg", "drt_pg", 20.0, "floe >= 20x drt incremental, PostgreSQL, whole process"
        )
    )
    drt = result.variant("drt_pg")
    drt_sent = sent("drt_pg")
    extracted = drt.median_extra("rows_extracted") if drt is not None and drt.ok else None
    ratio, _ = result.paired_ratio("floe_rest", "drt_pg")
    inner, _ = result.time_ratio("floe_pg", "drt_pg", "reported_s")
    result.notes += [
        (
            f"drt sent {drt_sent:,.0f} rows per run (its cursor selected {extracted:,.0f} of "
            "the table's rows, after reading the whole table into DuckDB)."
            if drt_sent is not None and extracted is not None
            else "drt did not run."
        ),
        "Ratios are medians of each repeat's ratio (the runs of one repeat are seconds "
        "apart)."
        + (f" floe into REST vs drt into PostgreSQL: {ratio:.1f}x." if ratio else "")
        + (f" By the sync time each tool reports: {inner:.1f}x." if inner else ""),
        "Each repeat is a new overwrite of the same 10% of the ids with a new version and a "
        "later updated_at; floe reads the data files that snapshot added (files_read) and "
        "diffs them against its fingerprints.",
    ]


CASE = Case("incremental", "Incremental sync vs drt incremental: 10% changed", run)
