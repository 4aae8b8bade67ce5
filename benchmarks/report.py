"""The report: Markdown for people, JSON for machines, with the versions of everything measured."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.harness import CaseResult, Target, VariantResult
from benchmarks.settings import REPO_ROOT

__all__ = ["environment", "git_commit", "merge_previous", "write_report"]

_PACKAGES = (
    "floe-core",
    "floe-ingestion-dlt",
    "pyarrow",
    "dlt",
    "psycopg",
    "sqlalchemy",
    "adbc-driver-postgresql",
    "adbc-driver-manager",
    "httpx",
    "orjson",
    "pyiceberg",
)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git(*args: str) -> str:
    try:
        out = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return "?"
    return out.stdout.strip()


def git_commit() -> str:
    """Short hash of HEAD, with ``+`` when floe's packages have uncommitted changes."""
    dirty = bool(_git("status", "--porcelain", "--", "packages", "plugins"))
    return _git("rev-parse", "--short", "HEAD") + ("+" if dirty else "")


def environment(extra: dict[str, str]) -> dict[str, Any]:
    """Machine, interpreter, package and server versions for the report."""
    versions = {"python": platform.python_version()}
    versions.update({name: _version(name) for name in _PACKAGES})
    versions.update(extra)
    return {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--", "packages", "plugins")),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "command": " ".join(["python -m benchmarks", *sys.argv[1:]]),
        "versions": versions,
    }


def _fmt_rate(v: VariantResult) -> str:
    rate = v.rows_per_second
    return f"{rate:,.0f}" if rate else "-"


def _fmt_secs(v: VariantResult) -> str:
    med = v.median_seconds
    if med is None:
        return "-"
    spread = f" ({min(v.seconds):.3f}-{max(v.seconds):.3f})" if len(v.seconds) > 1 else ""
    return f"{med:.3f}{spread}"


def _fmt_target(t: Target) -> str:
    mark = {True: "met", False: "**NOT met**", None: "not measured"}[t.met]
    if t.value is None:
        return f"| {t.description} | - | {mark}: {t.reason} |"
    # Near the bar, two decimals could round a miss up to the threshold: show three.
    close = abs(t.value - t.threshold) < 0.01
    if t.unit == "x":
        value = f"{t.value:.3f}x" if close else f"{t.value:.2f}x"
    elif t.unit == "rows/s":
        value = f"{t.value:,.0f} rows/s"
    else:
        value = f"{t.value:,.2f} {t.unit}"
    return f"| {t.description} | {value} | {mark} |"


def _extras(v: VariantResult) -> str:
    keys = sorted({k for e in v.extras for k in e})
    parts = []
    for key in keys:
        med = v.median_extra(key)
        if med is not None:
            parts.append(f"{key} {med:.3f}" if key.endswith("_s") else f"{key} {med:,.1f}")
    return ", ".join(parts)


def _case_md(case: CaseResult) -> list[str]:
    lines = [f"## {case.title}", ""]
    if case.measured:
        lines += [f"Measured {case.measured}; {case.seconds_total:.0f} s for the case.", ""]
    lines += [
        "| variant | status | median s (min-max) | rows/s | runs | other medians |",
        "|---|---|---|---|---|---|",
    ]
    for v in case.variants:
        name = f"**{v.label}**" if v.is_floe else v.label
        status = "ok" if v.ok else v.status.replace("|", "/")
        lines.append(
            f"| {name} | {status} | {_fmt_secs(v)} | {_fmt_rate(v)} | {len(v.seconds)} "
            f"| {_extras(v)} |"
        )
    if case.targets:
        lines += ["", "| target | measured | |", "|---|---|---|"]
        lines += [_fmt_target(t) for t in case.targets]
    if case.notes:
        lines.append("")
        lines += [f"- {note}" for note in case.notes]
    lines.append("")
    return lines


def _summary_md(cases: list[CaseResult]) -> list[str]:
    lines = ["| case | target | measured | |", "|---|---|---|---|"]
    for case in cases:
        for t in case.targets:
            lines.append(f"| {case.name} " + _fmt_target(t))
    return [*lines, ""]


def merge_previous(
    cases: list[CaseResult], out_dir: Path, order: tuple[str, ...]
) -> list[CaseResult]:
    """``cases`` plus the cases of the report already in ``out_dir`` that were not re-run."""
    previous = out_dir / "latest.json"
    if not previous.exists():
        return cases
    doc = json.loads(previous.read_text())
    fresh = {c.name for c in cases}
    kept = [CaseResult.from_json(c) for c in doc.get("cases", []) if c["name"] not in fresh]
    rank = {name: i for i, name in enumerate(order)}
    return sorted(kept + cases, key=lambda c: rank.get(c.name, len(rank)))


def write_report(cases: list[CaseResult], env: dict[str, Any], out_dir: Path) -> Path:
    """Write ``latest.md`` and ``latest.json`` into ``out_dir``; return the Markdown path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = {"environment": env, "cases": [c.to_json() for c in cases]}
    (out_dir / "latest.json").write_text(json.dumps(doc, indent=2, default=str) + "\n")
    lines = [
        "# floe benchmarks",
        "",
        f"Last run {env['timestamp']} on {env['platform']}, {env['cpu_count']} CPUs, "
        f"git {env['git_commit']}{' (uncommitted floe changes)' if env['git_dirty'] else ''}.",
        f"Last command: `{env['command']}`; each case says when it was measured (`+` after "
        "a commit: with uncommitted floe changes). Every time below was counted only after the "
        "destination held exactly the rows sent (count and checksum of every column). Variants "
        "ran interleaved; figures are medians; ratios compare medians measured in the same run.",
        "The machine is shared: other engineers' test runs load its CPUs while the benchmarks "
        "run (each case gives the load average over its run). Interleaving and medians keep "
        "the ratios fair; absolute times are slower than on an idle machine.",
        "",
        "## Targets",
        "",
        *_summary_md(cases),
    ]
    for case in cases:
        lines += _case_md(case)
    lines += ["## Versions", "", "| component | version |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in env["versions"].items()]
    md = out_dir / "latest.md"
    md.write_text("\n".join(lines) + "\n")
    return md
