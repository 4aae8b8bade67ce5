"""Run the variants of one case interleaved, verify each run, and keep every time measured.

A case is a set of variants moving the same rows to the same kind of destination (floe and
its baselines). Each repeat runs every variant once, in an order rotated per repeat so no
variant always runs first or last; a run counts only after its destination has been verified.
Figures are medians, and comparisons are ratios of medians measured in the same process run
(or, where a case says so, medians of the ratios of each repeat's runs: ``paired_ratio``).
"""

from __future__ import annotations

import gc
import statistics
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.verify import VerificationError

__all__ = [
    "CaseResult",
    "Target",
    "Unavailable",
    "Variant",
    "VariantResult",
    "run_variants",
]


class Unavailable(Exception):
    """A variant cannot run on this machine or at this state of the code (the reason says why)."""


@dataclass
class Variant:
    """One way of doing the job.

    Attributes:
        name: Short key used in ratios and JSON (``floe``, ``adbc``, ``dlt`` ...).
        label: What it is, for the report.
        run: The measured work. Returns extra figures (e.g. ``{"peak_rss_mb": 120.0}``) or
            ``None``; a ``"seconds"`` entry replaces the harness's own timing (a subprocess
            timed from outside the benchmark process).
        verify: Checks the destination after a run; raises ``VerificationError``.
        prepare: Untimed set-up before every run (fresh table, server reset ...).
        cleanup: Untimed tear-down after every run.
        check: Raises ``Unavailable`` when the variant cannot run at all.
        warmup: Untimed run before the first measurement (imports, connection caches).
        is_floe: Marks floe's own variants in the report.
    """

    name: str
    label: str
    run: Callable[[], dict[str, float] | None]
    verify: Callable[[], None]
    prepare: Callable[[], None] | None = None
    cleanup: Callable[[], None] | None = None
    check: Callable[[], None] | None = None
    warmup: Callable[[], None] | None = None
    is_floe: bool = False


@dataclass
class VariantResult:
    """Every time measured for one variant, and why it stopped if it did."""

    name: str
    label: str
    rows: int
    is_floe: bool = False
    seconds: list[float] = field(default_factory=list)
    extras: list[dict[str, float]] = field(default_factory=list)
    status: str = "ok"  # ok | unavailable: ... | failed: ... | wrong: ...

    @property
    def ok(self) -> bool:
        """At least one verified run and no failure."""
        return self.status == "ok" and bool(self.seconds)

    @property
    def median_seconds(self) -> float | None:
        """Median wall time of the verified runs."""
        return statistics.median(self.seconds) if self.seconds else None

    @property
    def rows_per_second(self) -> float | None:
        """Rows divided by the median time."""
        med = self.median_seconds
        return self.rows / med if med else None

    def median_extra(self, key: str) -> float | None:
        """Median of an extra figure across runs (e.g. ``peak_rss_mb``)."""
        values = [e[key] for e in self.extras if key in e]
        return statistics.median(values) if values else None

    def to_json(self) -> dict[str, Any]:
        """Plain data for the JSON report."""
        return {
            "name": self.name,
            "label": self.label,
            "rows": self.rows,
            "is_floe": self.is_floe,
            "status": self.status,
            "seconds": [round(s, 4) for s in self.seconds],
            "median_seconds": self.median_seconds,
            "rows_per_second": self.rows_per_second,
            "extras": self.extras,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> VariantResult:
        """Back from ``to_json`` (to merge a re-run case into an earlier report)."""
        return cls(
            doc["name"],
            doc["label"],
            doc["rows"],
            doc["is_floe"],
            list(doc["seconds"]),
            list(doc["extras"]),
            doc["status"],
        )


@dataclass
class Target:
    """A bar the report checks: ``value`` against ``threshold`` (``>=`` or ``<=``)."""

    description: str
    value: float | None
    threshold: float
    op: str = ">="
    unit: str = "x"
    reason: str = ""  # why there is no value

    @property
    def met(self) -> bool | None:
        """True/False, or None when it could not be measured."""
        if self.value is None:
            return None
        return self.value >= self.threshold if self.op == ">=" else self.value <= self.threshold

    def to_json(self) -> dict[str, Any]:
        """Plain data for the JSON report."""
        return {
            "description": self.description,
            "value": self.value,
            "threshold": self.threshold,
            "op": self.op,
            "unit": self.unit,
            "met": self.met,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Target:
        """Back from ``to_json``."""
        return cls(
            doc["description"],
            doc["value"],
            doc["threshold"],
            doc["op"],
            doc["unit"],
            doc["reason"],
        )


@dataclass
class CaseResult:
    """One case: its variants' results, the targets checked and notes for the reader."""

    name: str
    title: str
    variants: list[VariantResult] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds_total: float = 0.0
    measured: str = ""  # when and at which commit, for a report merged from several runs

    def variant(self, name: str) -> VariantResult | None:
        """The result of variant ``name``, if it ran."""
        return next((v for v in self.variants if v.name == name), None)

    def ratio(self, a: str, b: str) -> tuple[float | None, str]:
        """Throughput of ``a`` over throughput of ``b`` (median times), or why not."""
        va, vb = self.variant(a), self.variant(b)
        for v, n in ((va, a), (vb, b)):
            if v is None:
                return None, f"{n} did not run"
            if not v.ok:
                return None, f"{n} {v.status}"
        assert va is not None and vb is not None
        ra, rb = va.rows_per_second, vb.rows_per_second
        if not ra or not rb:
            return None, "no verified run"
        return ra / rb, ""

    def paired_ratio(self, a: str, b: str) -> tuple[float | None, str]:
        """Throughput of ``a`` over ``b``: the median of the ratios of each repeat's two runs.

        The two runs of one repeat are seconds apart, so they see about the same load from
        whatever else the machine runs; the median of those ratios moves far less from one
        benchmark run to the next than the ratio of the two medians. When a run of either
        failed (the repeats no longer pair up), this is the ratio of medians.
        """
        va, vb = self.variant(a), self.variant(b)
        if va is None or vb is None or not va.ok or not vb.ok:
            return self.ratio(a, b)
        if not va.seconds or len(va.seconds) != len(vb.seconds) or not all(va.seconds):
            return self.ratio(a, b)
        return statistics.median(tb / ta for ta, tb in zip(va.seconds, vb.seconds, strict=True)), ""

    def paired_ratio_target(self, a: str, b: str, threshold: float, description: str) -> Target:
        """A ``>=`` target on :meth:`paired_ratio`."""
        value, reason = self.paired_ratio(a, b)
        return Target(description, value, threshold, ">=", "x", reason)

    def time_ratio(self, a: str, b: str, key: str) -> tuple[float | None, str]:
        """How many times less ``a`` took than ``b``, by the median of extra figure ``key``."""
        va, vb = self.variant(a), self.variant(b)
        ta = va.median_extra(key) if va is not None and va.ok else None
        tb = vb.median_extra(key) if vb is not None and vb.ok else None
        if not ta or not tb:
            return None, f"no {key} for both {a} and {b}"
        return tb / ta, ""

    def ratio_target(self, a: str, b: str, threshold: float, description: str) -> Target:
        """A ``>=`` target on the throughput ratio of ``a`` to ``b``."""
        value, reason = self.ratio(a, b)
        return Target(description, value, threshold, ">=", "x", reason)

    def to_json(self) -> dict[str, Any]:
        """Plain data for the JSON report."""
        return {
            "name": self.name,
            "title": self.title,
            "seconds_total": round(self.seconds_total, 1),
            "variants": [v.to_json() for v in self.variants],
            "targets": [t.to_json() for t in self.targets],
            "notes": self.notes,
            "measured": self.measured,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> CaseResult:
        """Back from ``to_json``."""
        return cls(
            doc["name"],
            doc["title"],
            [VariantResult.from_json(v) for v in doc["variants"]],
            [Target.from_json(t) for t in doc["targets"]],
            list(doc["notes"]),
            doc["seconds_total"],
            doc.get("measured", ""),
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:400]


def _call(fn: Callable[[], Any] | None) -> Any:
    return fn() if fn is not None else None


def run_variants(
    variants: list[Variant], rows: int, repeats: int, log: Callable[[str], None]
) -> list[VariantResult]:
    """Run ``variants`` ``repeats`` times each, interleaved; return what was measured."""
    results = {v.name: VariantResult(v.name, v.label, rows, v.is_floe) for v in variants}
    live: list[Variant] = []
    for v in variants:
        try:
            _call(v.check)
            _call(v.warmup)
            live.append(v)
        except Unavailable as exc:
            results[v.name].status = f"unavailable: {exc}"
            log(f"  {v.name}: unavailable: {exc}")
        except Exception as exc:  # a broken variant must not stop the others
            results[v.name].status = f"failed: {_first_line(exc)}"
            log(f"  {v.name}: failed in warm-up: {_first_line(exc)}")
            log(traceback.format_exc(limit=6))
    for rep in range(repeats):
        shift = rep % len(live) if live else 0
        for v in live[shift:] + live[:shift]:
            res = results[v.name]
            if res.status != "ok":
                continue
            try:
                _call(v.prepare)
                gc.collect()
                start = time.perf_counter()
                extra = v.run() or {}
                elapsed = time.perf_counter() - start
                v.verify()
            except Unavailable as exc:
                res.status = f"unavailable: {exc}"
            except VerificationError as exc:
                res.status = f"wrong: {exc}"[:600]
            except Exception as exc:
                res.status = f"failed: {_first_line(exc)}"
                log(traceback.format_exc(limit=8))
            else:
                seconds = extra.pop("seconds", elapsed)
                res.seconds.append(seconds)
                res.extras.append(extra)
                rate = rows / seconds if seconds else float("inf")
                log(f"  [{rep + 1}/{repeats}] {v.name:<14} {seconds:8.3f} s  {rate:12,.0f} rows/s")
            finally:
                try:
                    _call(v.cleanup)
                except Exception as exc:  # keep going; the next prepare starts clean
                    log(f"  {v.name}: cleanup failed: {_first_line(exc)}")
            if res.status != "ok":
                log(f"  {v.name}: {res.status}")
    return [results[v.name] for v in variants]
