"""Nothing changed since the last run, 10M-row table: what a scheduled run costs then.

The table is synced first (``sync_10m``: a whole process, measured, with its peak memory);
then ``floe egress run`` runs again, a fresh process each repeat, timed from outside. It must
find the table up to date from the snapshot id and the state alone: zero data files read,
nothing sent. After each run PostgreSQL is checked (count and checksum of every column).
"""

from __future__ import annotations

import os
import sys

from benchmarks.cases import Case, Context
from benchmarks.cases.sync_10m import FILES, synced
from benchmarks.harness import CaseResult, Target, VariantResult
from benchmarks.procs import run_measured
from benchmarks.settings import REPO_ROOT


def run(ctx: Context) -> CaseResult:
    """Measure, verify, compare."""
    rows = ctx.size(10_000_000, 200_000)
    result = CaseResult("no_change", f"No change since the last run, {rows:,}-row table")
    try:
        shared = synced(ctx, rows)
    except Exception as exc:
        result.notes.append(f"failed: the first sync did not run: {str(exc)[:300]}")
        return result
    first = VariantResult("first_sync", f"first sync of every row ({FILES} files)", rows, True)
    first.seconds.append(shared.first.seconds)
    first.extras.append({"peak_rss_mb": shared.first.peak_rss_mb})
    idle = VariantResult("no_change", "floe egress run, nothing changed since", rows, True)
    try:
        for _ in range(ctx.times(3, 2)):
            done, sync = shared.run()
            shared.check()
            idle.seconds.append(done.seconds)
            reported = done.figures().get("reported_s", -1.0)
            idle.extras.append(
                {
                    "peak_rss_mb": done.peak_rss_mb,
                    "reported_s": reported,
                    "files_read": float(sync.get("files_read", -1)),
                    "rows_sent": float(sync.get("sent", -1)),
                }
            )
            ctx.log(f"  no_change: {done.seconds:.2f} s, {sync.get('read_path')}")
    except Exception as exc:
        idle.status = f"failed: {str(exc)[:300]}"
    start = VariantResult("interpreter", "python -c 'import floe_core' (start-up floor)", rows)
    for _ in range(3):
        bare = run_measured(
            [sys.executable, "-c", "import floe_core"], REPO_ROOT, dict(os.environ), 60
        )
        start.seconds.append(bare.seconds)
    result.variants = [first, idle, start]
    ok = idle.ok
    result.targets += [
        Target(
            "no change: whole floe egress run process <= 0.6 s",
            idle.median_seconds if ok else None,
            0.6,
            "<=",
            "s",
        ),
        Target(
            "no change: zero data files read",
            idle.median_extra("files_read") if ok else None,
            0,
            "<=",
            "files",
        ),
        Target(
            f"first sync of {rows:,} rows: peak RSS <= 1 GB",
            first.median_extra("peak_rss_mb"),
            1024.0,
            "<=",
            "MB",
        ),
    ]
    if ok:
        inside = idle.median_extra("reported_s") or 0.0
        result.notes.append(
            f"Of the {idle.median_seconds:.2f} s, the run itself (its receipt's duration: "
            f"lease, secrets, catalog, the snapshot id against the state) took {inside:.2f} s; "
            "the rest is interpreter start-up and imports of the CLI, the sink plugin's "
            "registration and pyiceberg (being cut separately)."
        )
    return result


CASE = Case("no_change", "No change at 10M rows: whole process, zero files read", run)
