"""Shared by the HTTP cases: variants that post to the local server and verify what it got."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from benchmarks import floe_lib, verify
from benchmarks.cases import Context
from benchmarks.harness import Variant

__all__ = ["ServerLog", "floe_rest_variant", "http_variant"]


class ServerLog:
    """What the server saw in the last verified run of each variant (requests, concurrency)."""

    def __init__(self) -> None:
        self.seen: dict[str, dict[str, Any]] = {}

    def note(self, name: str) -> str:
        """One line for the report."""
        s = self.seen.get(name)
        if not s:
            return f"{name}: no verified run"
        return (
            f"{name}: {s['requests']} requests, {s['bytes'] / 2**20:.1f} MiB, "
            f"{s['idempotency_keys']} distinct Idempotency-Keys, "
            f"peak {s['max_in_flight']} concurrent requests"
        )


def http_variant(
    ctx: Context,
    log: ServerLog,
    name: str,
    label: str,
    run: Callable[[], None],
    expected: verify.Checksum,
    *,
    is_floe: bool = False,
    check: Callable[[], None] | None = None,
    warmup: Callable[[], None] | None = None,
    cleanup: Callable[[], None] | None = None,
) -> Variant:
    """A variant whose destination is the benchmark server: reset before, checksum after;
    ``cleanup`` runs after each run, off the clock."""

    def verify_server() -> None:
        stats = ctx.server.stats()
        verify.check(expected, stats["checksum"], f"HTTP server ({name})")
        log.seen[name] = stats

    def warm() -> None:
        if warmup is not None:
            warmup()
        ctx.server.reset()

    def measured() -> dict[str, float]:
        # The client's own CPU time: what floe spends, whatever else the machine runs.
        start = time.process_time()
        run()
        return {"client_cpu_seconds": time.process_time() - start}

    return Variant(
        name,
        label,
        run=measured,
        verify=verify_server,
        prepare=ctx.server.reset,
        cleanup=cleanup,
        check=check,
        warmup=warm,
        is_floe=is_floe,
    )


def floe_rest_variant(
    ctx: Context,
    log: ServerLog,
    name: str,
    label: str,
    data: pa.Table,
    path: str,
    expected: verify.Checksum,
    **settings: Any,
) -> Variant:
    """floe's ``rest_api`` sink posting JSON arrays of 500 records to ``path``."""

    def config() -> dict[str, Any]:
        return {"base_url": ctx.server.base_url, "path": path, "body": "array", **settings}

    return http_variant(
        ctx,
        log,
        name,
        label,
        lambda: floe_lib.write("rest_api", config(), data, batch_size=500),
        expected,
        is_floe=True,
        check=lambda: floe_lib.check_sink_type("rest_api"),
        warmup=lambda: floe_lib.write("rest_api", config(), data.slice(0, 1000), batch_size=500),
    )
