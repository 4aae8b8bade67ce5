"""REST push to a slow API (50 ms per request): floe with 16 requests in flight vs httpx with
16 workers.

The server sleeps 50 ms in every request before answering, as a remote API with that round
trip would. floe's ``max_concurrent_requests`` keeps 16 batches in flight; the baseline is 16
threads sharing one ``httpx.Client`` and posting bodies serialised before the clock starts,
so it is the transport's ceiling at the same concurrency (about requests / 16 x 50 ms). The
sequential loop is there for scale.
"""

from __future__ import annotations

from benchmarks import baselines, verify
from benchmarks.cases import Case, Context
from benchmarks.cases.http_common import ServerLog, floe_rest_variant, http_variant
from benchmarks.data import customers
from benchmarks.harness import CaseResult, Target, run_variants

CONCURRENCY = 16


def run(ctx: Context) -> CaseResult:
    """Measure, verify, compare."""
    rows = ctx.size(100_000, 20_000)
    result = CaseResult(
        "rest_slow", f"REST push to a slow API (50 ms per request), {rows:,} rows, batches of 500"
    )
    data = customers(rows)
    expected = verify.from_arrow(data)
    bodies = baselines.serialize_batches(data, 500)
    url = ctx.server.base_url + "/slow/customers"
    log = ServerLog()
    variants = [
        floe_rest_variant(
            ctx,
            log,
            "floe",
            f"floe rest_api, max_concurrent_requests {CONCURRENCY}",
            data,
            "/slow/customers",
            expected,
            max_concurrent_requests=CONCURRENCY,
        ),
        http_variant(
            ctx,
            log,
            "httpx16",
            f"httpx.Client, {CONCURRENCY} worker threads, bodies pre-serialised",
            lambda: baselines.httpx_post_parallel(url, bodies, CONCURRENCY),
            expected,
            warmup=lambda: baselines.httpx_post_parallel(url, bodies[:2], CONCURRENCY),
        ),
        http_variant(
            ctx,
            log,
            "sequential",
            "httpx.Client loop, bodies pre-serialised, one at a time",
            lambda: baselines.httpx_post(url, bodies),
            expected,
            warmup=lambda: baselines.httpx_post(url, bodies[:1]),
        ),
    ]
    result.variants = run_variants(variants, rows, ctx.times(3), ctx.log)
    floe = result.variant("floe")
    rate = floe.rows_per_second if floe and floe.ok else None
    result.targets += [
        Target(
            "floe >= 50,000 rows/s",
            rate,
            50_000,
            ">=",
            "rows/s",
            "" if rate else (floe.status if floe else "did not run"),
        ),
        result.ratio_target(
            "floe", "httpx16", 0.8, f"floe >= 0.8x httpx with {CONCURRENCY} workers"
        ),
    ]
    ratio, _ = result.ratio("floe", "sequential")
    if ratio:
        result.notes.append(f"floe vs the sequential loop: {ratio:.1f}x.")
    result.notes += [log.note(v.name) for v in variants]
    return result


CASE = Case("rest_slow", "REST push, slow API", run)
