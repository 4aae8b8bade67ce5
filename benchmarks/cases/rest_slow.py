"""REST push to a slow API (50 ms per request): floe with concurrent requests vs sequential.

The server sleeps 50 ms in every request before answering, as a remote API with that round
trip would. Sequential posting is bounded by requests x 50 ms whatever the client does;
floe's ``max_concurrent_requests`` keeps several batches in flight.
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
        result.ratio_target("floe", "sequential", 5.0, "floe >= 5x sequential"),
    ]
    result.notes += [log.note(v.name) for v in variants]
    return result


CASE = Case("rest_slow", "REST push, slow API", run)
