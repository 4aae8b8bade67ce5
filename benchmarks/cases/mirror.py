"""Mirror deletes: 1% of the keys deleted from a 1M-row table, into PostgreSQL and REST.

One Iceberg table of ``rows`` customers in 10 data files, synced once (untimed) with
``sync_mode: mirror`` into PostgreSQL (``sql_database``, upsert on ``id``) and into the HTTP
server (``rest_api``: upserts ``POST /fast/mirror/rows``, deletes as batches of keys ``POST
/fast/mirror/deleted``, a HubSpot-archive-shaped request). Then 1% of the keys are deleted
from one data file (a new snapshot) and each destination runs once more, a whole process:

- PostgreSQL must hold exactly the table's rows after it (count and checksum of every
  column: the deleted keys, and only they, are gone);
- the HTTP server must have received exactly the deleted keys as deletes (the set of ids) and
  no upsert.
"""

from __future__ import annotations

from benchmarks import pg, verify
from benchmarks.cases import Case, Context
from benchmarks.cases.sync_common import byte_compile, delete_ids, own_table, sync_of
from benchmarks.floe_cli import FloeProject, check_cli
from benchmarks.harness import CaseResult, Target, Unavailable, VariantResult
from benchmarks.settings import PG_SQLALCHEMY_URL

_FILES = 10
_TIMEOUT = 1800.0
_ROWS_PATH = "/fast/mirror/rows"
_DELETED_PATH = "/fast/mirror/deleted"


def run(ctx: Context) -> CaseResult:
    """Measure, verify, compare."""
    rows = ctx.size(1_000_000, 50_000)
    gone = max(1, rows // 100)
    result = CaseResult("mirror", f"Mirror: {gone:,} of {rows:,} keys deleted, whole processes")
    try:
        check_cli("sql_database")
        check_cli("rest_api")
    except Unavailable as exc:
        result.notes.append(f"unavailable: {exc}")
        return result
    name = f"mirror_{rows}"
    table = own_table(ctx, name, rows, _FILES)
    floe = FloeProject(ctx.scratch("floe_mirror"), ctx.warehouse.properties)
    floe.add_secret("bench-pg", {"url": PG_SQLALCHEMY_URL})
    floe.add_secret("bench-http", {"base_url": ctx.server.base_url})
    byte_compile(ctx)
    pg_run = VariantResult("floe_pg", "floe egress run, mirror into PostgreSQL", rows, True)
    rest_run = VariantResult("floe_rest", "floe egress run, mirror into REST", rows, True)
    with pg.scratch_schema("bench_mirror") as schema:
        common = {"source_table": f"bench.{name}", "primary_key": ["id"], "sync_mode": "mirror"}
        floe.add_destination(
            name="mirror_pg",
            sink_type="sql_database",
            connection_secret_ref="bench-pg",
            batch_size=50_000,
            config={"schema": schema, "table": "mirrored", "mode": "upsert"},
            **common,
        )
        floe.add_destination(
            name="mirror_rest",
            sink_type="rest_api",
            connection_secret_ref="bench-http",
            batch_size=500,
            config={
                "path": _ROWS_PATH,
                "body": "array",
                "operations": {
                    "delete": {
                        "method": "POST",
                        "path": _DELETED_PATH,
                        "body": "array",
                        "fields": ["id"],
                    }
                },
            },
            **common,
        )
        qualified = f'"{schema}"."mirrored"'
        try:
            floe.run("mirror_pg", _TIMEOUT)
            floe.run("mirror_rest", _TIMEOUT)
            first = 1 + 4 * (rows // _FILES)
            deleted = delete_ids(table, first, gone)
            expected = verify.from_arrow(table.refresh().scan().to_arrow_batch_reader())
            wanted = deleted.column("id").to_pylist()
        except Exception as exc:
            result.notes.append(f"failed before the measured runs: {str(exc)[:300]}")
            return result
        try:
            done = floe.run("mirror_pg", _TIMEOUT)
            pg.verify_table(qualified, expected)
            _record(pg_run, done.seconds, done.peak_rss_mb, sync_of(done)[1])
        except verify.VerificationError as exc:
            pg_run.status = f"wrong: {exc}"[:600]
        except Exception as exc:
            pg_run.status = f"failed: {str(exc)[:300]}"
        try:
            ctx.server.reset()
            done = floe.run("mirror_rest", _TIMEOUT)
            received = ctx.server.stats(_DELETED_PATH)["ids"]
            upserts = ctx.server.stats(_ROWS_PATH)["ids"]
            if received != wanted or upserts:
                raise verify.VerificationError(
                    f"the server received {len(received):,} deleted ids (expected the "
                    f"{len(wanted):,} deleted keys; equal: {received == wanted}) and "
                    f"{len(upserts):,} upserts (expected none)"
                )
            _record(rest_run, done.seconds, done.peak_rss_mb, sync_of(done)[1])
        except verify.VerificationError as exc:
            rest_run.status = f"wrong: {exc}"[:600]
        except Exception as exc:
            rest_run.status = f"failed: {str(exc)[:300]}"
    result.variants = [pg_run, rest_run]
    for run_, where in ((pg_run, "PostgreSQL"), (rest_run, "the REST server")):
        result.targets.append(
            Target(
                f"mirror into {where}: exactly the {gone:,} deleted keys deleted (rows off)",
                abs((run_.median_extra("deleted") or 0) - gone) if run_.ok else None,
                0,
                "<=",
                "rows",
            )
        )
    result.notes.append(
        "Verified: PostgreSQL's checksum equals the Iceberg table's after the deletes (so the "
        "deleted keys and only they are gone); the HTTP server received exactly the deleted "
        "ids on the delete path and nothing on the upsert path."
    )
    return result


def _record(into: VariantResult, seconds: float, rss: float, sync: dict[str, float]) -> None:
    into.seconds.append(seconds)
    into.extras.append(
        {
            "peak_rss_mb": rss,
            "deleted": float(sync.get("deleted", -1)),
            "rows_sent": float(sync.get("sent", -1)),
            "files_read": float(sync.get("files_read", -1)),
        }
    )


CASE = Case("mirror", "Mirror: 1% of the keys deleted, PostgreSQL and REST", run)
