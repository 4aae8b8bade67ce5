"""Incremental sync on Ray vs local: the same changes, the same rows sent, side by side.

One Iceberg table of ``rows`` customers in 10 data files, synced into PostgreSQL with
``sync_mode: mirror`` by two destinations that differ only in the executor (``--executor
local`` and ``--executor ray``, fresh processes, the Ray one joining a cluster started once for
the case as ``ray_executor`` does). Each step runs both, then checks both PostgreSQL tables
against the Iceberg table:

- ``first``: every row (full scan, 10 tasks on Ray);
- ``no_change``: nothing changed (``up_to_date``: no file read, no task started);
- ``change_1%``: 1% of the rows updated by an overwrite of one file's first ids (``changed``:
  the rewritten file and the new rows' file, 2 tasks on Ray);
- ``mirror_1%``: 1% of the keys deleted from another file (the rewritten file's diff in one
  task; the deletes sent once, by the driver).

On 2 cores Ray cannot be faster; the figures show what it adds to a small incremental run (a
fixed cost: connecting, the workers' start-up) and that both executors send exactly the same
rows. Peak RSS is the driver's.
"""

from __future__ import annotations

import os
from typing import Any

from benchmarks import pg, verify
from benchmarks.cases import Case, Context
from benchmarks.cases.incremental_1m import fresh_table
from benchmarks.cases.ray_executor import RAY_ENV, ray_cluster
from benchmarks.cases.sync_common import byte_compile, change
from benchmarks.floe_cli import FloeProject, check_cli
from benchmarks.harness import CaseResult, Target, VariantResult
from benchmarks.iceberg import NAMESPACE
from benchmarks.settings import PG_SQLALCHEMY_URL

_FILES = 10
_EXECUTORS = ("local", "ray")


def run(ctx: Context) -> CaseResult:
    """Measure, verify, compare."""
    rows = ctx.size(1_000_000, 50_000)
    result = CaseResult(
        "ray_incremental",
        f"Incremental sync (mirror) to PostgreSQL, Ray vs local, {rows:,}-row table",
    )
    try:
        check_cli("sql_database")
    except Exception as exc:
        result.notes.append(f"unavailable: {exc}")
        return result
    table = fresh_table(ctx, rows)
    ident = f"{NAMESPACE}.incremental_{rows}"
    per_file = rows // _FILES
    work = ctx.scratch("floe_ray_incremental")
    os.environ.update(RAY_ENV)
    steps: dict[str, dict[str, VariantResult]] = {}
    with ray_cluster(work) as address, pg.scratch_schema("bench_ray_incr") as schema:
        executor = {"type": "ray", "address": address, "max_tasks": 64}
        project = FloeProject(work / "project", ctx.warehouse.properties, executor=executor)
        project.add_secret("bench-pg", {"url": PG_SQLALCHEMY_URL})
        for name in _EXECUTORS:
            project.add_destination(
                name=f"on_{name}",
                sink_type="sql_database",
                connection_secret_ref="bench-pg",
                source_table=ident,
                primary_key=["id"],
                sync_mode="mirror",
                batch_size=50_000,
                config={"schema": schema, "table": f"on_{name}", "mode": "upsert"},
            )
        byte_compile(ctx)

        def step(key: str, label: str) -> None:
            expected = verify.from_arrow(table.refresh().scan().to_arrow())
            steps[key] = {}
            for name in _EXECUTORS:
                measured = VariantResult(f"{key}_{name}", f"{label}, {name}", rows, is_floe=True)
                steps[key][name] = measured
                try:
                    done = project.run(f"on_{name}", 1800, "--executor", name)
                    receipt = (done.receipt.get("receipts") or [done.receipt])[0]
                    sync: dict[str, Any] = receipt.get("sync") or {}
                    pg.verify_table(f'"{schema}"."on_{name}"', expected)
                    measured.seconds.append(done.seconds)
                    measured.extras.append(
                        {
                            "peak_rss_mb": done.peak_rss_mb,
                            "rows_sent": float(sync.get("sent", 0)),
                            "deleted": float(sync.get("deleted", 0)),
                            "files_read": float(sync.get("files_read", 0)),
                        }
                    )
                    ctx.log(f"  {key} {name}: {done.seconds:.2f} s, {sync.get('read_path')}")
                except Exception as exc:
                    measured.status = f"failed: {str(exc)[:300]}"
                result.variants.append(measured)

        step("first", "first run: every row (full scan)")
        step("no_change", "no change since the last run")
        change(table, 1, max(1, rows // 100), 1)
        step("change_1%", "1% of the rows updated in one file (overwrite)")
        first = 1 + per_file * 4
        table.delete(f"id >= {first} and id < {first + max(1, rows // 100)}")
        step("mirror_1%", "1% of the keys deleted from one file (mirror)")
    _targets(result, steps)
    return result


def _targets(result: CaseResult, steps: dict[str, dict[str, VariantResult]]) -> None:
    def sent(key: str, name: str) -> float | None:
        measured = steps[key][name]
        return measured.median_extra("rows_sent") if measured.ok else None

    differences = [
        abs(ray - local)
        for key in steps
        if (ray := sent(key, "ray")) is not None and (local := sent(key, "local")) is not None
    ]
    result.targets.append(
        Target(
            "Ray sends exactly the rows the local executor sends, at every step",
            max(differences) if len(differences) == len(steps) else None,
            0,
            "<=",
            "rows",
        )
    )
    figures = [
        f"{key}: local {steps[key]['local'].median_seconds or 0:.2f} s, "
        f"Ray {steps[key]['ray'].median_seconds or 0:.2f} s, "
        f"{steps[key]['ray'].median_extra('rows_sent') or 0:,.0f} rows sent, "
        f"{steps[key]['ray'].median_extra('files_read') or 0:.0f} files read"
        for key in steps
    ]
    result.notes.append("; ".join(figures))
    ratios = [
        f"{key} {local / ray:.2f}x"
        for key in steps
        if (local := steps[key]["local"].median_seconds)
        and (ray := steps[key]["ray"].median_seconds)
    ]
    result.notes.append("Ray / local throughput, whole process: " + ", ".join(ratios))
    peaks = [
        f"{key} {name} {steps[key][name].median_extra('peak_rss_mb') or 0:.0f} MB"
        for key in steps
        for name in _EXECUTORS
    ]
    result.notes.append("peak driver RSS (the floe process): " + ", ".join(peaks))


CASE = Case("ray_incremental", "Incremental sync on Ray vs local", run)
