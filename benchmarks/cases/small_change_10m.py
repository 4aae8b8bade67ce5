"""0.1% of a 10M-row table updated by an overwrite: the cost must grow with the change.

The table is synced first (``sync_10m``). Each repeat overwrites 0.1% of the rows (a range of
ids of one data file, a new version stamped later) and runs ``floe egress run`` in a
fresh process: the read path is ``changed``, reading the data files the overwrite added and
the key columns of those it removed. Then the forced full-scan fallback on the same table:
another such overwrite, after which every snapshot but the current one is expired
(``expire_snapshots``, as table maintenance does), so the snapshot the state refers to is gone
and the run must read every file and compare it with the 10M stored fingerprints. Every run is
checked at PostgreSQL (count and checksum of every column) before it counts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from benchmarks.cases import Case, Context
from benchmarks.cases.sync_10m import Synced, synced
from benchmarks.cases.sync_common import change
from benchmarks.harness import CaseResult, Target, VariantResult


def _overwrite(shared: Synced, count: int) -> None:
    """``count`` rows of one data file, redrawn in a new version (a copy-on-write overwrite:
    that file rewritten without them, and a file of the new rows)."""
    table = shared.table.refresh()
    # A version of its own for every overwrite, also across benchmark runs (the table is kept
    # between them): a version drawn before would redraw the rows as they already are at the
    # destination, and the run would have nothing to send.
    current = table.current_snapshot()
    version = (current.snapshot_id if current is not None else 0) % 100_000_000
    per_file = shared.rows // 100
    first = per_file * (len(table.metadata.snapshots) % 90) + 1
    change(table, first, count, version, stamp=version)


def _measure(shared: Synced, into: VariantResult, ctx: Context) -> dict[str, Any]:
    done, sync = shared.run()
    shared.check()
    into.seconds.append(done.seconds)
    into.extras.append(
        {
            "peak_rss_mb": done.peak_rss_mb,
            "files_read": float(sync.get("files_read", -1)),
            "files_total": float(sync.get("files_total", -1)),
            "rows_sent": float(sync.get("sent", -1)),
            "rows_diffed": float(sync.get("unchanged", 0) + sync.get("updated", 0)),
        }
    )
    ctx.log(
        f"  {into.name}: {done.seconds:.2f} s, {done.peak_rss_mb:.0f} MB, "
        f"{sync.get('read_path')} ({sync.get('read_reason')}), "
        f"{sync.get('files_read')} of {sync.get('files_total')} files"
    )
    return sync


def run(ctx: Context) -> CaseResult:
    """Measure, verify, compare."""
    rows = ctx.size(10_000_000, 200_000)
    count = max(1, rows // 1000)
    result = CaseResult(
        "small_change_10m", f"{count:,} of {rows:,} rows updated by an overwrite, whole process"
    )
    try:
        shared = synced(ctx, rows)
    except Exception as exc:
        result.notes.append(f"failed: the first sync did not run: {str(exc)[:300]}")
        return result
    small = VariantResult("small_change", f"{count:,} rows updated (read path changed)", rows, True)
    full = VariantResult(
        "full_scan", "forced full scan: the state's snapshot expired", rows, is_floe=True
    )
    paths: dict[str, str] = {}
    try:
        for _ in range(ctx.times(3, 2)):
            _overwrite(shared, count)
            paths["small_change"] = str(_measure(shared, small, ctx).get("read_path"))
    except Exception as exc:
        small.status = f"failed: {str(exc)[:300]}"
    try:
        for _ in range(ctx.times(1, 1)):
            _overwrite(shared, count)
            table = shared.table.refresh()
            table.maintenance.expire_snapshots().older_than(datetime.now(UTC)).commit()
            paths["full_scan"] = str(_measure(shared, full, ctx).get("read_path"))
    except Exception as exc:
        full.status = f"failed: {str(exc)[:300]}"
    for variant in (small, full):
        wanted = "changed" if variant is small else "full_scan"
        if variant.ok and paths.get(variant.name) != wanted:
            variant.status = f"wrong: read path {paths.get(variant.name)}, not {wanted}"
        sent = [extra.get("rows_sent") for extra in variant.extras]
        if variant.ok and any(value != count for value in sent):
            variant.status = f"wrong: sent {sent} rows, not the {count:,} rows changed"
    result.variants = [small, full]
    share = None
    if small.ok:
        read, total = small.median_extra("files_read"), small.median_extra("files_total")
        share = read / total if read is not None and total else None
    result.targets += [
        Target(
            "0.1% changed: whole process <= 10 s",
            small.median_seconds if small.ok else None,
            10.0,
            "<=",
            "s",
        ),
        Target(
            "0.1% changed: data files read <= 5% of the table's",
            100 * share if share is not None else None,
            5.0,
            "<=",
            "%",
        ),
        Target(
            "full-scan fallback: whole process <= 40 s",
            full.median_seconds if full.ok else None,
            40.0,
            "<=",
            "s",
        ),
        Target(
            "full-scan fallback: peak RSS <= 1 GB",
            full.median_extra("peak_rss_mb") if full.ok else None,
            1024.0,
            "<=",
            "MB",
        ),
    ]
    result.notes.append(
        "rows_diffed: rows read and compared with the fingerprints (a changed-path run reads "
        "the files the overwrite rewrote, whole: copy-on-write keeps the rest of each file)."
    )
    return result


CASE = Case("small_change_10m", "0.1% changed at 10M rows, and the full-scan fallback", run)
