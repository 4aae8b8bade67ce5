"""Ray executor: ``floe egress run`` of one table to PostgreSQL append, local vs Ray.

The same table (one data file per million rows), the same destination settings, run by
``--executor local`` and ``--executor ray`` in fresh processes, interleaved. The Ray variant
joins a Ray cluster started once for the case on this machine (``ray start --head``, 2 CPUs,
loopback only), as a deployment would keep its cluster running: the clock covers connecting
to it, planning, the workers' start-up and the delivery. On 2 cores both executors share the
same CPUs, so parity is the best Ray can do here; the ratio measures what Ray adds. Peak RSS
is the driver's (the ``floe`` process): the workers run under the cluster's raylet.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks import pg, verify
from benchmarks.cases import Case, Context
from benchmarks.data import batches
from benchmarks.floe_cli import FloeProject, check_cli, floe_executable
from benchmarks.harness import CaseResult, Target, Unavailable, Variant, run_variants
from benchmarks.settings import PG_SQLALCHEMY_URL

#: The cluster's environment: no token to hand around on a loopback-only cluster, and workers
#: in this interpreter's environment rather than started through `uv run`.
RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def ray_cluster(work: Path) -> Iterator[str]:
    """A Ray head on 127.0.0.1 with 2 CPUs for the case; its address. Stopped afterwards."""
    ray = floe_executable().with_name("ray")
    if not ray.exists():
        raise Unavailable(f"{ray} is missing (uv sync installs floe-core[ray])")
    port = _free_port()
    # Ray's socket paths under its temp dir must fit in 107 bytes: a short one under /tmp,
    # whatever the depth of the checkout.
    session = Path(tempfile.mkdtemp(prefix="floe-ray-"))
    env = {**os.environ, **RAY_ENV, "RAY_agent_register_timeout_ms": "180000"}
    output = (work / "ray-head.log").open("w")
    head = subprocess.Popen(
        [
            str(ray), "start", "--head", "--block", f"--port={port}",
            "--node-ip-address=127.0.0.1", "--num-cpus=2", "--include-dashboard=false",
            "--disable-usage-stats", f"--temp-dir={session}",
        ],
        stdout=output, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while "Ray runtime started" not in (work / "ray-head.log").read_text():
            if head.poll() is not None or time.monotonic() > deadline:
                raise Unavailable(f"ray start failed: {(work / 'ray-head.log').read_text()[-300:]}")
            time.sleep(0.5)
        yield f"127.0.0.1:{port}"
    finally:
        head.terminate()  # `--block`: the head stops the processes it started
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()
        output.close()
        shutil.rmtree(session, ignore_errors=True)


def _variant(
    name: str, label: str, project: FloeProject, schema: str, source: str, rows: int
) -> Variant:
    expected = verify.from_arrow(batches(rows))
    counter = itertools.count()
    current = {"table": ""}
    destination = f"to_pg_{name}"

    def prepare() -> None:
        current["table"] = f"ray_{name}_{next(counter)}"
        project.add_destination(
            name=destination,
            sink_type="sql_database",
            connection_secret_ref="bench-pg",
            source_table=source,
            config={"schema": schema, "table": current["table"], "mode": "append"},
        )

    def run() -> dict[str, float]:
        return project.run(destination, 1800, "--executor", name).figures()

    return Variant(
        name,
        label,
        run=run,
        verify=lambda: pg.verify_table(f'"{schema}"."{current["table"]}"', expected),
        prepare=prepare,
        cleanup=lambda: pg.drop_table(f'"{schema}"."{current["table"]}"'),
        check=lambda: check_cli("sql_database"),
        is_floe=True,
    )


def run(ctx: Context) -> CaseResult:
    """Measure, verify, compare."""
    from floe_core.executors.planning import plan_tasks
    from floe_core.iceberg.source import DataFile

    rows = ctx.size(10_000_000, 200_000)
    result = CaseResult("ray_executor", f"Ray executor vs local, {rows:,} rows to PostgreSQL")
    source = ctx.warehouse.table(rows)
    work = ctx.scratch("floe_ray")
    os.environ.update(RAY_ENV)  # the floe processes the variants start join with these too
    with ray_cluster(work) as address, pg.scratch_schema("bench_ray") as schema:
        executor = {"type": "ray", "address": address, "max_tasks": 64}
        project = FloeProject(work / "project", ctx.warehouse.properties, executor=executor)
        project.add_secret("bench-pg", {"url": PG_SQLALCHEMY_URL})
        variants = [
            _variant("local", "floe egress run --executor local", project, schema, source, rows),
            _variant("ray", "floe egress run --executor ray", project, schema, source, rows),
        ]
        result.variants += run_variants(variants, rows, ctx.times(3, 2), ctx.log)
    files = ctx.warehouse.data_files(source)
    tasks = plan_tasks(
        "to_pg_ray",
        0,
        [DataFile(f"f{n}", size, count) for n, (count, size, _groups) in enumerate(files)],
        64,
    )
    mib = sum(size for _, size, _ in files) / 2**20
    result.notes.append(
        f"{len(files)} data file(s), {mib:.0f} MiB of Parquet: "
        f"{len(tasks)} Ray task(s) (max_tasks 64), the largest {max(t.rows for t in tasks):,} rows"
    )
    peaks = {v.name: v.median_extra("peak_rss_mb") for v in result.variants if v.ok}
    if peaks:
        shown = ", ".join(f"{name} {mb:.0f} MB" for name, mb in peaks.items() if mb)
        result.notes.append(f"peak driver RSS (the floe process): {shown}")
    result.targets.append(
        result.ratio_target("ray", "local", 0.5, "Ray executor >= 0.5x local on 2 cores")
    )
    result.targets.append(
        Target(
            "Ray tasks planned >= 4",
            float(len(tasks)),
            4,
            ">=",
            "",
            "",
        )
    )
    return result


CASE = Case("ray_executor", "Ray executor", run)
