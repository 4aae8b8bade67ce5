"""``python -m benchmarks``: run the cases, print progress, write the report."""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import cases, report
from benchmarks.harness import CaseResult
from benchmarks.settings import RESULTS_DIR, WORK_DIR


def stamp() -> str:
    """Now, UTC, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _LoadSampler:
    """The 1-minute load average every few seconds while a case runs."""

    def __init__(self, every: float = 5.0) -> None:
        self.samples = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)
        self._thread.start()

    def _run(self, every: float) -> None:
        while not self._stop.wait(every):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> str:
        """Stop sampling; the summary for the report."""
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])
        mean = sum(self.samples) / len(self.samples)
        cpus = os.cpu_count() or 1
        return (
            f"load average {mean:.1f} on {cpus} CPUs during the case (max {max(self.samples):.1f})"
        )


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="floe against its baselines, side by side; writes a Markdown + JSON report.",
    )
    parser.add_argument(
        "--case",
        action="append",
        choices=cases.CASE_NAMES,
        help="run only this case (repeatable); default: all, in order",
    )
    parser.add_argument("--rows", type=int, help="rows per case (overrides each case's size)")
    parser.add_argument("--repeats", type=int, help="measured runs per variant")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes and 2 repeats: a smoke run"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"report directory (default {RESULTS_DIR}, or a scratch dir with --quick)",
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help="keep the other cases of the existing report and replace only the ones run now",
    )
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    args = parser.parse_args(argv)
    if args.rows is not None and args.rows < 1:
        parser.error("--rows must be at least 1")
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the selected cases; exit 0 when every case ran (targets met or not)."""
    args = _parse(argv)
    if args.list:
        for name in cases.CASE_NAMES:
            print(f"{name:<10} {cases.load(name).title}")
        return 0
    out_dir = args.out or (WORK_DIR / "results-quick" if args.quick else RESULTS_DIR)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    ctx = cases.Context(args.rows, args.repeats, args.quick, WORK_DIR, _log)
    results: list[CaseResult] = []
    extra_versions: dict[str, str] = {}
    from benchmarks import pg

    try:
        extra_versions["postgresql server"] = pg.server_version()
    except RuntimeError as exc:
        _log(str(exc))
        return 2
    try:
        for name in args.case or cases.CASE_NAMES:
            case = cases.load(name)
            _log(f"== {name}: {case.title}")
            start = time.perf_counter()
            sampler = _LoadSampler()
            try:
                result = case.run(ctx)
            except Exception as exc:  # one broken case must not lose the others' figures
                result = CaseResult(name, case.title, notes=[f"case failed: {exc!r}"[:500]])
                _log(f"  case failed: {exc!r}")
            result.seconds_total = time.perf_counter() - start
            result.measured = f"{stamp()}, git {report.git_commit()}, {sampler.stop()}"
            results.append(result)
            for target in result.targets:
                _log(f"  target {target.description}: {target.value} -> {target.met}")
    finally:
        ctx.close()
        from benchmarks import drt_env

        extra_versions["drt-core"] = drt_env.installed_version() or "not installed"
    if args.update:
        results = report.merge_previous(results, out_dir, cases.CASE_NAMES)
    path = report.write_report(results, report.environment(extra_versions), out_dir)
    _log(f"report: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
