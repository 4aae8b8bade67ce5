"""``make mutate``: mutation testing of the engine and the SQL write paths, within a time budget.

mutmut (pinned in the root ``pyproject.toml``) runs once per workspace member, from the
member's directory, with the ``[tool.mutmut]`` table of the member's ``pyproject.toml``: which
modules to mutate and which tests to run against them. mutmut copies the member into its
``mutants/`` directory, runs the selected tests once to learn which tests reach which function,
then runs only those tests against each mutant.

Environment:
    MUTATE_BUDGET: seconds for the whole run (default 1800). Each member gets a share of what
        is left; a member cut short keeps its results, and the next run goes on from there.
        ``0`` only rewrites the report from earlier results.
    MUTATE_FRESH: ``1`` to forget earlier results (delete ``mutants/``) and start over.
    MUTATE_ONLY: comma-separated mutant name patterns, e.g.
        ``floe_core.sinks.idempotency.*,floe_ingestion_dlt.sinks.sql.tables.*``.
    MUTATE_JOBS: mutants tested at once in floe-core (default 2; the SQL tests always run one
        at a time, because they share the databases).

Results are written to ``docs/mutation-report.md``: counts per module and every surviving
mutant as a diff. Mutants that survived an earlier run are tested again on every run, so a
test added to kill one shows in the next report.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "mutation-report.md"
MUTMUT = Path(sys.executable).with_name("mutmut")


@dataclass(frozen=True)
class Member:
    """A workspace member to mutate: directory, import name, mutants at once, budget share."""

    path: str
    package: str
    jobs: int
    share: float


MEMBERS = (
    Member(
        "packages/floe-core", "floe_core", jobs=int(os.environ.get("MUTATE_JOBS", "2")), share=0.4
    ),
    Member("plugins/floe-ingestion-dlt", "floe_ingestion_dlt", jobs=1, share=0.6),
)

# Statuses mutmut gives a mutant (from its exit code) that a later run should test again.
_RECHECK = {"survived", "timeout", "suspicious", "not checked", "check was interrupted by user"}

_REPORT_SNIPPET = r"""
import json, sys
from mutmut.__main__ import get_diff_for_mutant
from mutmut.mutation.data import SourceFileMutationData
from mutmut.stats import status_by_exit_code
from mutmut.utils.file_utils import walk_mutatable_files

out = []
for path in walk_mutatable_files():
    data = SourceFileMutationData(path=path)
    data.load()
    for name, code in data.exit_code_by_key.items():
        status = status_by_exit_code[code]
        diff = get_diff_for_mutant(name, path=path) if status != "killed" else ""
        out.append({"name": name, "status": status, "diff": diff})
json.dump(out, sys.stdout)
"""


def main() -> int:
    budget = float(os.environ.get("MUTATE_BUDGET", "1800"))
    fresh = os.environ.get("MUTATE_FRESH") == "1"
    only = [p.strip() for p in os.environ.get("MUTATE_ONLY", "").split(",") if p.strip()]
    deadline = time.monotonic() + budget
    cut_short: list[str] = []
    results: dict[str, list[dict[str, str]]] = {}
    for index, member in enumerate(MEMBERS):
        cwd = ROOT / member.path
        if fresh:
            shutil.rmtree(cwd / "mutants", ignore_errors=True)
        patterns = [p for p in only if p.startswith(member.package + ".")]
        if budget <= 0 or (only and not patterns):
            # No time (MUTATE_BUDGET=0: only rewrite the report), or not asked for.
            results[member.path] = _results(cwd)
            continue
        left = deadline - time.monotonic()
        shares = sum(m.share for m in MEMBERS[index:])
        allowed = max(left * member.share / shares, 0.0)
        print(f"== {member.path}: mutmut run, {allowed:.0f} s of the budget", flush=True)
        recheck = [r["name"] for r in _results(cwd) if r["status"] in _RECHECK]
        started = time.monotonic()
        finished = _run(cwd, member.jobs, patterns, allowed)
        if finished and recheck:
            # Earlier survivors keep their verdict in mutmut's cache: name them to test again.
            wanted = [n for n in recheck if not patterns or _matches(n, patterns)]
            if wanted:
                spent = time.monotonic() - started
                finished = _run(cwd, member.jobs, wanted, max(allowed - spent, 0.0))
        if not finished:
            cut_short.append(member.path)
        results[member.path] = _results(cwd)
    _write_report(results, budget, cut_short)
    print(f"report: {REPORT.relative_to(ROOT)}")
    return 0


def _matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(name, p) for p in patterns)


def _run(cwd: Path, jobs: int, names: list[str], seconds: float) -> bool:
    """``mutmut run`` in ``cwd`` for at most ``seconds``; False when cut short by the budget."""
    if seconds <= 0:
        return False
    # mutmut runs the tests from mutants/, outside the workspace: give them its conftest.py
    # (the fixtures every test of the workspace shares).
    (cwd / "mutants").mkdir(exist_ok=True)
    shutil.copyfile(ROOT / "conftest.py", cwd / "mutants" / "conftest.py")
    command = ["nice", "-n", "10", str(MUTMUT), "run", "--max-children", str(jobs), *names]
    # Its own process group, so that the budget stops mutmut and the workers it forked.
    with subprocess.Popen(command, cwd=cwd, start_new_session=True) as process:
        try:
            code = process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            print(f"   budget spent: stopping mutmut in {cwd.name}", flush=True)
            _stop(process)
            return False
    if code != 0:
        raise SystemExit(f"mutmut failed in {cwd} (exit {code}); see its output above")
    return True


def _stop(process: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGINT, 20), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _results(cwd: Path) -> list[dict[str, str]]:
    """Every mutant mutmut knows of in ``cwd``, with its status and, unless killed, its diff."""
    if not (cwd / "mutants").is_dir():
        return []
    done = subprocess.run(
        [sys.executable, "-c", _REPORT_SNIPPET],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    results: list[dict[str, str]] = json.loads(done.stdout)
    return results


def _module(name: str) -> str:
    """The module of a mutant: ``floe_core.sinks.delivery.xǁBatchSenderǁdeliver__mutmut_5``."""
    parts = name.split(".")
    for i, part in enumerate(parts):
        if part.startswith(("x_", "xǁ")):
            return ".".join(parts[:i])
    return name.rsplit(".", 1)[0]


def _write_report(results: dict[str, list[dict[str, str]]], budget: float, cut: list[str]) -> None:
    import importlib.metadata

    version = importlib.metadata.version("mutmut")
    statuses = ["killed", "survived", "timeout", "no tests", "not checked"]
    lines = [
        "# Mutation report",
        "",
        f"Written by `make mutate` (mutmut {version}) on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, budget {budget:.0f} s"
        + (f"; cut short by the budget in {', '.join(cut)}." if cut else "."),
        "Why each surviving mutant is acceptable: [testing.md](testing.md#surviving-mutants).",
        "",
        "| module | " + " | ".join(statuses) + " | other |",
        "| --- | " + " | ".join("---:" for _ in statuses) + " | ---: |",
    ]
    by_module: dict[str, list[dict[str, str]]] = {}
    for member_results in results.values():
        for result in member_results:
            by_module.setdefault(_module(result["name"]), []).append(result)
    # A module this checkout has no verdict for (mutants/ is per checkout and not committed, or
    # MUTATE_ONLY left it out) keeps its rows and survivors from the previous report.
    kept_rows, kept_sections = _previous_report()
    checked = {
        m for m, found in by_module.items() if any(r["status"] != "not checked" for r in found)
    }
    carried = sorted(set(kept_rows) - checked)
    if carried:
        lines[3:3] = [
            "Modules marked * were not run this time; their rows and survivors are those of the "
            "previous report.",
        ]
    rows = {m: _row(m, found, statuses) for m, found in by_module.items() if m in checked}
    rows |= {m: kept_rows[m].replace(f"| `{m}` |", f"| `{m}` * |", 1) for m in carried}
    lines += [rows[m] for m in sorted(rows)]
    for module in sorted(rows):
        if module in carried:
            lines += kept_sections.get(module, [])
            continue
        found = by_module[module]
        alive = [r for r in found if r["status"] not in ("killed", "not checked")]
        if not alive:
            continue
        lines += ["", f"## `{module}`", ""]
        for result in alive:
            short = result["name"][len(module) + 1 :]
            lines += [f"### `{short}`: {result['status']}", "", "```diff"]
            lines += [
                line for line in result["diff"].splitlines() if not line.startswith(("---", "+++"))
            ]
            lines += ["```", ""]
    REPORT.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")


def _row(module: str, found: list[dict[str, str]], statuses: list[str]) -> str:
    counts = [sum(r["status"] == s for r in found) for s in statuses]
    other = len(found) - sum(counts)
    return f"| `{module}` | " + " | ".join(map(str, counts)) + f" | {other} |"


def _previous_report() -> tuple[dict[str, str], dict[str, list[str]]]:
    """The table row and the survivors' section of each module in the committed report."""
    if not REPORT.exists():
        return {}, {}
    rows: dict[str, str] = {}
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in REPORT.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            module = line.split("`")[1]
            rows[module] = line.replace(f"| `{module}` * |", f"| `{module}` |", 1)
        elif line.startswith("## `"):
            current = sections.setdefault(line.split("`")[1], ["", line])
        elif current is not None:
            current.append(line)
    for section in sections.values():
        while section[-1] == "":
            section.pop()
    return rows, sections


if __name__ == "__main__":
    sys.exit(main())
