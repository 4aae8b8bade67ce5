"""REST push to a fast local server, batches of 500: floe vs the transport ceiling vs dlt.

The ceiling is one ``httpx.Client`` posting bodies serialised before the clock starts: what
the client and server can move when the JSON costs nothing. The plain ``@dlt.destination``
function is what a dlt user writes to post batches (rows to dicts, orjson, httpx).
"""

from __future__ import annotations

import pyarrow as pa

from benchmarks import baselines, floe_lib, profiling, verify
from benchmarks.cases import Case, Context
from benchmarks.cases.http_common import ServerLog, floe_rest_variant, http_variant
from benchmarks.data import customers
from benchmarks.harness import CaseResult, run_variants


def run(ctx: Context) -> CaseResult:
    """Measure, verify, compare."""
    rows = ctx.size(100_000, 20_000)
    result = CaseResult("rest_push", f"REST push, {rows:,} rows, batches of 500, fast server")
    data = customers(rows)
    expected = verify.from_arrow(data)
    bodies = baselines.serialize_batches(data, 500)
    url = ctx.server.base_url + "/fast/customers"
    dlt_dir = ctx.work_dir / "dlt_rest_push"
    runs = iter(range(10_000))
    log = ServerLog()

    def dlt_push(part: pa.Table = data) -> None:
        baselines.dlt_function_push(dlt_dir, f"bench_push_{next(runs)}", url, part)

    def dlt_warmup() -> None:
        dlt_push(data.slice(0, 1000))
        baselines.drop_dlt_pipelines(dlt_dir)

    variants = [
        floe_rest_variant(
            ctx,
            log,
            "floe",
            "floe rest_api (default settings: 4 concurrent requests)",
            data,
            "/fast/customers",
            expected,
        ),
        http_variant(
            ctx,
            log,
            "ceiling",
            "httpx.Client loop, bodies pre-serialised (transport ceiling)",
            lambda: baselines.httpx_post(url, bodies),
            expected,
            warmup=lambda: baselines.httpx_post(url, bodies[:2]),
        ),
        http_variant(
            ctx,
            log,
            "dlt_fn",
            "plain @dlt.destination function, httpx + orjson per batch",
            dlt_push,
            expected,
            warmup=dlt_warmup,
            cleanup=lambda: baselines.drop_dlt_pipelines(dlt_dir),
        ),
    ]
    result.variants = run_variants(variants, rows, ctx.times(5), ctx.log)
    result.targets += [
        result.ratio_target("floe", "ceiling", 0.6, "floe >= 0.6x transport ceiling"),
        result.ratio_target("floe", "dlt_fn", 2.5, "floe >= 2.5x plain dlt function"),
    ]
    result.notes += [log.note(v.name) for v in variants]
    floe = result.variant("floe")
    if floe is not None and floe.ok:
        config = {"base_url": ctx.server.base_url, "path": "/fast/profile", "body": "array"}
        lines = profiling.self_time_profile(
            lambda: floe_lib.write("rest_api", config, data, batch_size=500)
        )
        ctx.server.reset()
        result.notes.append(
            "Where floe's time goes (one more write under cProfile, top self time): "
            + "; ".join(lines)
        )
    return result


CASE = Case("rest_push", "REST push, fast server", run)
