"""The fingerprint store at scale: 10M keys per destination, in a fresh process each time.

Three steps, each ``python -m benchmarks.cases.sync_state STEP DIR KEYS`` timed from outside
with its peak resident memory:

- ``write``: record 10M keys and fingerprints as a run's confirmations would (deltas of
  50,000 rows), then fold them into the base (``compact``);
- ``load``: load every key and fingerprint (what a run that reads anything does first);
- ``diff``: load, then split 10 batches of 100,000 source rows (1% of them changed) against
  the stored fingerprints with ``Differ`` (what a changed-files run does per batch).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from benchmarks.cases import Case, Context
from benchmarks.harness import CaseResult, Target, VariantResult
from benchmarks.procs import run_measured
from benchmarks.settings import REPO_ROOT

_STEPS = ("write", "load", "diff")


def run(ctx: Context) -> CaseResult:
    """Measure each step in its own process."""
    keys = ctx.size(10_000_000, 200_000)
    result = CaseResult("sync_state", f"Fingerprint store with {keys:,} keys, fresh processes")
    folder = ctx.scratch("sync_state")
    for step in _STEPS:
        measured = VariantResult(step, f"{step} ({keys:,} keys)", keys, is_floe=True)
        done = run_measured(
            [sys.executable, "-m", "benchmarks.cases.sync_state", step, str(folder), str(keys)],
            REPO_ROOT,
            dict(os.environ),
            1800,
        )
        if done.returncode != 0:
            measured.status = f"failed: {done.tail()[:300]}"
        else:
            inner = json.loads(done.stdout.strip().splitlines()[-1])
            measured.seconds.append(done.seconds)
            measured.extras.append({"peak_rss_mb": done.peak_rss_mb, **inner})
            ctx.log(f"  {step}: {done.seconds:.2f} s, {done.peak_rss_mb:.0f} MB, {inner}")
        result.variants.append(measured)
    load = result.variant("load")
    diff = result.variant("diff")
    result.targets += [
        Target(
            f"load {keys:,} fingerprints (whole process) <= 5 s",
            load.median_seconds if load and load.ok else None,
            5.0,
            "<=",
            "s",
        ),
        Target(
            f"diff against {keys:,} fingerprints: peak RSS <= 1 GB",
            diff.median_extra("peak_rss_mb") if diff and diff.ok else None,
            1024.0,
            "<=",
            "MB",
        ),
    ]
    size = sum(f.stat().st_size for f in folder.rglob("*.parquet"))
    result.notes.append(f"The base Parquet file holds {keys:,} keys in {size / 2**20:,.0f} MiB.")
    return result


def _probe(step: str, folder: Path, keys: int) -> dict[str, float]:
    import polars as pl
    import pyarrow as pa
    from floe_core.sync.diff import Differ
    from floe_core.sync.fingerprint import row_fingerprints, row_keys
    from floe_core.sync.store import FingerprintStore, SyncMeta

    store = FingerprintStore(folder, "d")
    out: dict[str, float] = {}
    start = time.perf_counter()
    if step == "write":
        chunk = 50_000
        for first in range(0, keys, chunk):
            ids = pa.array(range(first, min(keys, first + chunk)), pa.int64())
            batch = pa.record_batch({"id": ids, "v": ids})
            store.record(row_keys(batch, ["id"]), row_fingerprints(batch), "bec0")
        out["record_s"] = time.perf_counter() - start
        store.compact(SyncMeta("bench", 1, "bec0", "upsert"))
    else:
        stored = store.load()
        out["load_s"] = time.perf_counter() - start
        if step == "diff":
            differ = Differ(stored, ["id"], pl.Series([], dtype=pl.String), comparable=True)
            split_start = time.perf_counter()
            changed = 0
            for part in range(10):
                ids = pa.array(range(part * 100_000, (part + 1) * 100_000), pa.int64())
                values = pa.array(
                    [i + 1 if i % 100 == 0 else i for i in ids.to_pylist()], pa.int64()
                )
                changed += differ.split(pa.record_batch({"id": ids, "v": values})).changed.num_rows
            out["split_s_per_100k"] = (time.perf_counter() - split_start) / 10
            out["changed"] = float(changed)
    out["step_s"] = time.perf_counter() - start
    return out


CASE = Case("sync_state", "Fingerprint store at 10M keys: write, load, diff", run)

if __name__ == "__main__":
    name, where, count = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    print(json.dumps(_probe(name, where, count)))
