"""floe as a user runs it: a project directory (floe.yaml, manifest.yaml, mounted-style secrets,
an embedded Iceberg catalog) and ``floe egress run NAME`` in a fresh process, timed from outside,
with its peak resident memory (see ``procs``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from benchmarks.floe_lib import check_sink_type
from benchmarks.harness import Unavailable
from benchmarks.procs import run_measured

__all__ = ["EgressRun", "FloeProject", "check_cli", "floe_executable"]


def floe_executable() -> Path:
    """The ``floe`` console script of the interpreter running the benchmarks."""
    return Path(sys.executable).parent / "floe"


def check_cli(sink_type: str) -> None:
    """Raise ``Unavailable`` unless ``floe egress run`` exists and can use ``sink_type``."""
    check_sink_type(sink_type)
    exe = floe_executable()
    if not exe.exists():
        raise Unavailable(f"{exe} is missing (run `uv sync`)")
    proc = subprocess.run(
        [str(exe), "egress", "run", "--help"], capture_output=True, text=True, timeout=60
    )
    if proc.returncode != 0:
        said = (proc.stderr or proc.stdout).strip().splitlines()
        raise Unavailable(
            "`floe egress run` is not available yet" + (f" ({said[-1][:200]})" if said else "")
        )


@dataclass
class EgressRun:
    """One measured ``floe egress run``."""

    seconds: float
    peak_rss_mb: float
    receipt: dict[str, Any]

    def figures(self) -> dict[str, float]:
        """Wall time, peak RSS, and the write time floe itself reports in its receipt."""
        out = {"seconds": self.seconds, "peak_rss_mb": self.peak_rss_mb}
        receipts = self.receipt.get("receipts") or [self.receipt]
        reported = receipts[0].get("duration_seconds") if receipts else None
        if isinstance(reported, int | float):
            out["reported_s"] = float(reported)
        return out


class FloeProject:
    """A floe project directory with one catalog and any number of destinations."""

    def __init__(
        self, root: Path, catalog: dict[str, str], executor: dict[str, Any] | None = None
    ) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.catalog = catalog
        self.executor = executor  # the manifest's executor: section, when not the default
        self.destinations: list[dict[str, Any]] = []

    def add_secret(self, ref: str, values: dict[str, str]) -> None:
        """A Secret as Kubernetes mounts it: ``secrets/<ref>/<key>``, one file per key."""
        folder = self.root / "secrets" / ref
        folder.mkdir(parents=True, exist_ok=True)
        for key, value in values.items():
            (folder / key).write_text(value)

    def add_destination(self, **fields: Any) -> None:
        """One entry of ``destinations:`` in floe.yaml (name, sink_type, ...)."""
        self.destinations = [d for d in self.destinations if d["name"] != fields["name"]]
        self.destinations.append(fields)
        self._write()

    def _write(self) -> None:
        spec = {
            "apiVersion": "floe.dev/v1",
            "kind": "FloeSpec",
            "metadata": {"name": "floe-bench", "version": "1.0.0"},
            "destinations": self.destinations,
        }
        manifest = {
            "apiVersion": "floe.dev/v1",
            "kind": "Manifest",
            "metadata": {"name": "floe-bench"},
            "scope": "none",
            "catalog": self.catalog,
            "plugins": {"ingestion": "dlt"},
            "secrets": {"dir": "secrets"},
        }
        if self.executor is not None:
            manifest["executor"] = self.executor
        (self.root / "floe.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        (self.root / "manifest.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))

    def run(self, name: str, timeout: float = 900, *extra: str) -> EgressRun:
        """``floe egress run NAME --json [extra]`` in a fresh process; raise unless it succeeds."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        cmd = [str(floe_executable()), "egress", "run", name, "--json", *extra]
        done = run_measured(cmd, self.root, env, timeout)
        if done.returncode != 0:
            raise RuntimeError(f"floe egress run {name} exited {done.returncode}: {done.tail()}")
        return EgressRun(done.seconds, done.peak_rss_mb, _receipt(done.stdout))


def _receipt(stdout: str) -> dict[str, Any]:
    text = stdout.strip()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        # tolerate log lines before the JSON document
        start = text.find("{")
        try:
            doc = json.loads(text[start:]) if start >= 0 else {}
        except json.JSONDecodeError:
            doc = {}
    return doc if isinstance(doc, dict) else {"receipts": doc}
