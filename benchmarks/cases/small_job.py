"""A small job, whole process: ``floe egress run`` of 1,000 Iceberg rows to the local server.

Each run is a fresh process started from the ``floe`` console script, so interpreter start,
imports, compiling floe.yaml + manifest.yaml, resolving the secret, opening the SQLite
Iceberg catalog, reading the table and posting are all inside the time.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from benchmarks import profiling, verify
from benchmarks.cases import Case, Context
from benchmarks.cases.http_common import ServerLog
from benchmarks.data import customers
from benchmarks.floe_cli import FloeProject, check_cli, floe_executable
from benchmarks.harness import CaseResult, Target, Variant, run_variants


def _process_floor(cmd: list[str], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(ctx: Context) -> CaseResult:
    """Measure, verify, compare."""
    rows = ctx.size(1_000, 1_000)
    result = CaseResult("small_job", f"Small job, whole process: floe egress run, {rows:,} rows")
    expected = verify.from_arrow(customers(rows))
    table = ctx.warehouse.table(rows)
    project = FloeProject(ctx.scratch("floe_small_job"), ctx.warehouse.properties)
    project.add_secret("bench-http", {"base_url": ctx.server.base_url})
    project.add_destination(
        name="small_http",
        sink_type="rest_api",
        connection_secret_ref="bench-http",
        source_table=table,
        batch_size=500,
        config={"path": "/fast/small", "body": "array"},
    )
    log = ServerLog()

    def egress() -> dict[str, float]:
        return project.run("small_http", timeout=120).figures()

    def check_server() -> None:
        stats = ctx.server.stats()
        verify.check(expected, stats["checksum"], "HTTP server (floe egress run)")
        log.seen["floe"] = stats

    variant = Variant(
        "floe",
        "floe egress run (fresh process, Iceberg SQL catalog -> rest_api)",
        run=egress,
        verify=check_server,
        prepare=ctx.server.reset,
        check=lambda: check_cli("rest_api"),
        is_floe=True,
    )
    result.variants = run_variants([variant], rows, ctx.times(11, 3), ctx.log)
    floe = result.variant("floe")
    med = floe.median_seconds if floe and floe.ok else None
    result.targets.append(
        Target(
            "floe egress run of 1,000 rows <= 0.5 s (byte-compiled install)",
            med,
            0.5,
            "<=",
            "s",
            "" if med else (floe.status if floe else "did not run"),
        )
    )
    python_floor = _process_floor([sys.executable, "-c", "pass"])
    version_floor = _process_floor([str(floe_executable()), "--version"])
    profile = profiling.import_profile(
        sys.executable,
        [str(floe_executable()), "egress", "run", "small_http", "--json"],
        project.root,
        {},
    )
    libraries_floor = _process_floor(
        profiling.libraries_only_command(sys.executable, profile.libraries)
    )
    ctx.server.reset()
    reported = floe.median_extra("reported_s") if floe and floe.ok else None
    result.notes += [
        log.note("floe"),
        (f"floe's receipt says the write took {reported:.3f} s (median); " if reported else "")
        + f"imports take {profile.seconds:.3f} s (`-X importtime`, one run; heaviest top-level: "
        + ", ".join(profile.heaviest)
        + ").",
        f"For scale: `python -c pass` takes {python_floor:.3f} s, `floe --version` "
        f"{version_floor:.3f} s, and a process that only imports the "
        f"{len(profile.libraries)} library modules this run imports (everything but floe's "
        f"own code: pyiceberg, SQLAlchemy, pyarrow, httpx, ...) {libraries_floor:.3f} s here "
        "(medians of 5).",
    ]
    if med is not None:
        result.notes.append(
            f"floe's own share of the run (its modules and everything it does): "
            f"{med - libraries_floor:.3f} s of {med:.3f} s."
        )
    return result


CASE = Case("small_job", "Small job, whole process", run)
