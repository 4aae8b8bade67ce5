"""REST push with payload shaping (nested objects, static fields, a key copy) vs flat rows.

Both post 100k rows in batches of 500 to the same fast server. The shaped variant sends what
a HubSpot-style batch upsert wants: every column but ``id`` inside ``properties`` (built in
Arrow as a struct column), static ``idProperty`` and ``attributes.type`` (written as literal
text), in an ``{"inputs": [...]}`` envelope: about 25% more bytes than the flat rows. Shaping
is column-wise, so it should cost little: the target is >= 0.8x the flat speed, same run,
as the median of the nine repeats' ratios (each repeat runs both, seconds apart, so they see
the same load from the rest of the machine). The client's CPU time is reported beside it.
"""

from __future__ import annotations

from typing import Any

from benchmarks import floe_lib, verify
from benchmarks.cases import Case, Context
from benchmarks.cases.http_common import ServerLog, floe_rest_variant, http_variant
from benchmarks.data import SCHEMA, customers
from benchmarks.harness import CaseResult, run_variants

NESTED = {name: f"properties.{name}" for name in SCHEMA.names if name != "id"}
STATIC: dict[str, Any] = {"idProperty": "email", "attributes.type": "Contact"}
SHAPED = {"body": "envelope", "envelope_key": "inputs"}
# The same bytes per record as STATIC and the objects' braces and names add, flat.
FLAT_STATIC: dict[str, Any] = {
    "idProperty": "email",
    "attributes_type": "Contact",
    "props": "x" * 9,
}


def run(ctx: Context) -> CaseResult:
    """Measure, verify, compare."""
    rows = ctx.size(100_000, 20_000)
    result = CaseResult(
        "rest_shaped", f"REST push, {rows:,} rows, batches of 500: nested + static vs flat"
    )
    data = customers(rows)
    expected = verify.from_arrow(data)
    log = ServerLog()

    def shaped(part: Any = data) -> None:
        config = {"base_url": ctx.server.base_url, "path": "/fast/contacts", **SHAPED}
        floe_lib.write(
            "rest_api", config, part, batch_size=500, field_mapping=NESTED, static_fields=STATIC
        )

    def flat_static(part: Any = data) -> None:
        # about the shaped variant's bytes, without objects: what nesting itself costs
        config = {"base_url": ctx.server.base_url, "path": "/fast/contacts", "body": "array"}
        floe_lib.write("rest_api", config, part, batch_size=500, static_fields=FLAT_STATIC)

    variants = [
        floe_rest_variant(
            ctx, log, "flat", "floe rest_api, flat rows", data, "/fast/customers", expected
        ),
        http_variant(
            ctx,
            log,
            "shaped",
            "floe rest_api, 9 columns nested in properties, 2 static fields, envelope",
            shaped,
            expected,
            is_floe=True,
            check=lambda: floe_lib.check_sink_type("rest_api"),
            warmup=lambda: shaped(data.slice(0, 1000)),
        ),
        http_variant(
            ctx,
            log,
            "flat_static",
            "floe rest_api, flat rows with static fields of the same size (no objects)",
            flat_static,
            expected,
            is_floe=True,
            warmup=lambda: flat_static(data.slice(0, 1000)),
        ),
    ]
    result.variants = run_variants(variants, rows, ctx.times(9), ctx.log)
    result.targets += [
        result.paired_ratio_target(
            "shaped", "flat", 0.8, "shaped >= 0.8x flat (median of per-repeat ratios)"
        ),
    ]
    for (ratio, why), what in (
        (result.ratio("shaped", "flat"), "shaped vs flat, ratio of medians"),
        (
            result.paired_ratio("shaped", "flat_static"),
            "shaped vs flat rows of about its size (what objects cost)",
        ),
        (
            result.time_ratio("shaped", "flat", "client_cpu_seconds"),
            "client CPU time, flat over shaped (what shaping costs floe itself, whatever the load)",
        ),
    ):
        result.notes.append(f"{what}: {f'{ratio:.2f}x' if ratio is not None else why}")
    result.notes += [log.note(v.name) for v in variants]
    return result


CASE = Case("rest_shaped", "REST push with nested targets and static fields vs flat", run)
