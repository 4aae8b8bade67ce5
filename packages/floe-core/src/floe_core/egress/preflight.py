"""``floe check``: everything a run checks before it sends, for every selected destination,
with every problem listed rather than the first.

A run prepares a destination step by step and stops at the first failure
(:mod:`floe_core.egress.prepare`); a preflight takes the same steps as separate checks
(:data:`CHECKS`), each of which passes with a one-line account of what it found, fails with
the error a run would end with, or is skipped when it needs what a failed check would have
given it (no sink to ask about its table when the destination refused the credentials).
Nothing is sent, no table is created or changed, no lease is taken and nothing is stored.

A new check is a function of a :class:`Subject` and one more entry in :data:`CHECKS` (or in
the ``checks`` given to :func:`preflight`). The egress policy (:mod:`floe_core.egress.gate`)
is one: a destination it refuses is not connected to.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from floe_core.egress import prepare as steps
from floe_core.egress.destinations import catalog_config, required_secret_keys, sink_config
from floe_core.egress.observability import redactor, run_context
from floe_core.errors import FloeError

if TYPE_CHECKING:
    from floe_core.compiler import CompiledDestination, EgressPlan
    from floe_core.egress.gate import EgressGate
    from floe_core.iceberg.source import IcebergSource
    from floe_core.plugins.sink import SinkConfig, SinkConnector
    from floe_core.registry import PluginRegistry
    from floe_core.secrets.resolver import ResolvedSecret, SecretResolver
    from floe_core.sinks.shaping import FieldMapping

__all__ = [
    "CHECKS",
    "Check",
    "DestinationReport",
    "Finding",
    "Outcome",
    "Subject",
    "Warned",
    "preflight",
]


class Outcome(StrEnum):
    """How one check of one destination came out."""

    PASSED = "passed"
    WARNING = "warning"  # passed, but a run would deliver only part of what it sends
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Finding:
    """One check of one destination: what was found, or what is wrong and how to fix it."""

    check: str
    outcome: Outcome
    detail: str
    hint: str = ""

    def to_dict(self) -> dict[str, str]:
        """The finding as JSON-ready data."""
        return {
            "check": self.check,
            "outcome": self.outcome.value,
            "detail": self.detail,
            "hint": self.hint,
        }


@dataclass
class DestinationReport:
    """Every check of one destination."""

    destination: str
    sink_type: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no check failed (skipped checks follow from a failed one)."""
        return all(f.outcome is not Outcome.FAILED for f in self.findings)

    @property
    def problems(self) -> list[Finding]:
        """The checks that failed."""
        return [f for f in self.findings if f.outcome is Outcome.FAILED]

    @property
    def warnings(self) -> list[Finding]:
        """The checks that passed with a warning."""
        return [f for f in self.findings if f.outcome is Outcome.WARNING]

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "destination": self.destination,
            "sink_type": self.sink_type,
            "ok": self.ok,
            "checks": [f.to_dict() for f in self.findings],
        }


@dataclass
class Subject:
    """One destination being checked, and what the checks passed so far found out about it.

    A check reads what it needs and may fill in one more fact for the checks after it.
    """

    plan: EgressPlan
    destination: CompiledDestination
    registry: PluginRegistry
    secrets: SecretResolver
    gate: EgressGate
    plugin: SinkConnector | None = None
    secret: ResolvedSecret | None = None
    config: SinkConfig | None = None  # the sink's settings, once the egress policy allows them
    source: IcebergSource | None = None
    mapping: FieldMapping | None = None
    sink: Any = None

    def close(self) -> None:
        """Release what the checks opened."""
        dispose = getattr(self.sink, "dispose", None)
        if callable(dispose):  # releasing must not hide what the checks found
            with contextlib.suppress(Exception):
                dispose()
        if self.source is not None:
            self.source.close()


@dataclass(frozen=True)
class Check:
    """One check: its name, the facts it needs (``Subject`` attributes) and what it does.

    ``run`` returns a line saying what it found (a :class:`Warned` when the run would go
    ahead but not deliver everything), or raises the ``FloeError`` a run would stop with.
    """

    name: str
    needs: tuple[str, ...]
    run: Callable[[Subject], str | Warned]


@dataclass(frozen=True)
class Warned:
    """What a check found that a run would go ahead with, and what the run would not deliver.

    Attributes:
        detail: What was found, and the warnings.
        hint: How to deliver everything.
    """

    detail: str
    hint: str


def _plugin(subject: Subject) -> str:
    subject.plugin = steps.sink_connector(subject.registry, subject.destination)
    return f"plugin {subject.destination.plugin_name} provides {subject.destination.sink_type}"


def _secret(subject: Subject) -> str:
    assert subject.plugin is not None
    destination = subject.destination
    try:
        subject.secret = steps.destination_secret(subject.secrets, destination, subject.plugin)
    except FloeError as exc:
        needed = required_secret_keys(subject.plugin, destination.sink_type, destination.config)
        if needed:
            exc.hint = (
                f"{exc.hint}; the {destination.sink_type} sink needs the key(s) "
                + " or ".join(", ".join(group) for group in needed)
            )
        raise
    keys = ", ".join(subject.secret.keys) or "none"
    return f"Secret '{destination.connection_secret_ref}' found, keys: {keys}"


def _egress_policy(subject: Subject) -> str:
    from floe_core.egress.gate import describe_endpoints, sink_endpoints

    assert subject.plugin is not None and subject.secret is not None
    destination = subject.destination
    config = sink_config(subject.plan, subject.plugin, destination, subject.secret)
    endpoints = sink_endpoints(subject.plugin, destination.sink_type, config.connection_config)
    subject.gate.check(endpoints, destination.name, destination.sink_type)
    subject.config = config
    return f"may connect to {describe_endpoints(endpoints) or 'nothing it declares'}"


def _source(subject: Subject) -> str:
    catalog = subject.gate.admit_catalog(catalog_config(subject.plan, subject.secrets))
    source = steps.open_source(catalog, subject.destination)
    subject.source = source
    snapshot = source.snapshot_id if source.snapshot_id is not None else "none (empty table)"
    total, sent = len(source.table.schema().fields), len(source.columns)
    columns = f"{total} column{'s' if total != 1 else ''}"
    if sent != total:
        left_out = (
            f"{total - sent} excluded"
            if subject.destination.exclude_columns
            else "the ones named by columns"
        )
        columns += f", {sent} sent ({left_out})"
    return (
        f"table '{source.table_name}' in catalog '{source.catalog_name}', snapshot {snapshot}, "
        f"{columns}"
    )


def _columns(subject: Subject) -> str:
    assert subject.source is not None
    destination, schema = subject.destination, subject.source.schema
    mapping = steps.field_mapping(destination, schema)
    steps.check_key_columns(destination, subject.source.table_name, schema)
    subject.mapping = mapping
    told = []
    if destination.field_mapping:
        told.append(f"field_mapping: {len(destination.field_mapping)} column(s)")
    if destination.primary_key:
        told.append(f"primary_key: {', '.join(destination.primary_key)}")
    return "; ".join(told) + " found in the table" if told else "every column is sent as is"


def _destination(subject: Subject) -> str:
    assert subject.plugin is not None and subject.config is not None
    subject.sink = steps.create_sink(subject.plugin, subject.destination, subject.config)
    where = getattr(subject.sink, "description", "") or getattr(subject.sink, "identity", "")
    return f"reachable, credentials accepted{f': {where}' if where else ''}"


def _destination_table(subject: Subject) -> str | Warned:
    from floe_core.sinks.base import Sink

    assert subject.source is not None
    sink = subject.sink
    if not isinstance(sink, Sink):
        return "not checked: the plugin's sink does not say what it would accept"
    schema = subject.source.schema
    nested = sink.effective_capabilities.nested_fields
    target = steps.field_mapping(subject.destination, schema, nested=nested).target_schema(schema)
    warnings = sink.check(target)
    accepts = f"accepts the {len(target.names)} field(s) sent: {', '.join(target.names)}"
    if warnings:
        return Warned(
            f"{accepts}; but {'; '.join(warnings)}",
            "change those column types, or send other columns there (field_mapping); "
            "a run refuses the rows that do not fit, and sends the others",
        )
    return accepts


#: The checks of one destination, in order: what a run checks before it sends.
CHECKS: list[Check] = [
    Check("sink plugin", (), _plugin),
    Check("secret", ("plugin",), _secret),
    Check("egress policy", ("plugin", "secret"), _egress_policy),
    Check("source table", (), _source),
    Check("columns", ("source",), _columns),
    Check("destination", ("plugin", "config"), _destination),
    Check("destination table", ("sink", "source", "mapping"), _destination_table),
]

#: Which check gives each fact, to say why a check that needs it was skipped.
_GIVEN_BY = {
    "plugin": "sink plugin",
    "secret": "secret",
    "source": "source table",
    "config": "egress policy",
    "mapping": "columns",
    "sink": "destination",
}


def preflight(
    plan: EgressPlan,
    destinations: Sequence[CompiledDestination],
    *,
    registry: PluginRegistry,
    secrets: SecretResolver,
    checks: Sequence[Check] = CHECKS,
) -> list[DestinationReport]:
    """Check every destination with every check; one report per destination, in order."""
    from floe_core.egress.gate import EgressGate

    reports = []
    # As in a run, every name a check resolves is held to the egress policy while it connects.
    with EgressGate(plan) as gate:
        for destination in destinations:
            report = DestinationReport(destination.name, destination.sink_type)
            subject = Subject(plan, destination, registry, secrets, gate)
            with run_context(destination=destination.name):
                try:
                    for check in checks:
                        report.findings.append(_run_check(check, subject))
                finally:
                    subject.close()
            reports.append(report)
    return reports


def _run_check(check: Check, subject: Subject) -> Finding:
    missing = [fact for fact in check.needs if getattr(subject, fact) is None]
    if missing:
        before = list(dict.fromkeys(_GIVEN_BY.get(fact, fact) for fact in missing))
        which = " and ".join(before) + (" checks" if len(before) > 1 else " check")
        return Finding(check.name, Outcome.SKIPPED, f"not checked: needs the {which} to pass")
    try:
        detail = check.run(subject)
    except FloeError as exc:
        return Finding(
            check.name, Outcome.FAILED, redactor.text(exc.message), redactor.text(exc.hint)
        )
    except Exception as exc:  # a plugin's bug is this destination's problem, not the end
        return Finding(
            check.name,
            Outcome.FAILED,
            redactor.text(f"{type(exc).__name__}: {exc}"),
            "report this to the plugin's maintainers",
        )
    if isinstance(detail, Warned):
        return Finding(
            check.name, Outcome.WARNING, redactor.text(detail.detail), redactor.text(detail.hint)
        )
    return Finding(check.name, Outcome.PASSED, redactor.text(detail))
