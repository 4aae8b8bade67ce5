"""The egress policy at the door of a run: each destination, and the catalog, are checked
before anything is opened, and watched while they connect.

:class:`EgressGate` is what the runner calls: ``admit`` a destination once its Secret is
resolved and before its sink is built (where the sink connects comes from the sink itself,
``Sink.endpoints``), ``admit_catalog`` before the catalog is opened, and ``with gate:`` around
the run, which keeps checking the addresses names resolve to
(:mod:`floe_core.egress.address_guard`).
:func:`check_destinations` does the same checks for a whole project without running anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from floe_core.egress.address_guard import AddressGuard
from floe_core.egress.policy import EgressPolicy, Resolve
from floe_core.sinks.endpoints import Endpoint, endpoints_from_settings
from floe_core.sinks.errors import EgressPolicyError

if TYPE_CHECKING:
    from pathlib import Path

    from floe_core.compiler import CompiledDestination, EgressPlan
    from floe_core.egress.receipt import Receipt
    from floe_core.plugins.sink import SinkConfig, SinkConnector
    from floe_core.registry import PluginRegistry
    from floe_core.schemas.egress_policy import EgressPolicyConfig
    from floe_core.secrets.resolver import SecretResolver

__all__ = ["EgressGate", "check_destinations", "describe_endpoints"]

#: The catalog settings that name where the catalog is reached.
_CATALOG_URLS = ("uri", "oauth2_server_uri")


def describe_endpoints(endpoints: list[Endpoint]) -> str:
    """Where a destination connects, for receipts: ``host:port`` or file, comma-separated."""
    return ", ".join(dict.fromkeys(str(endpoint) for endpoint in endpoints))


def sink_endpoints(
    plugin: SinkConnector, sink_type: str, values: Mapping[str, Any]
) -> list[Endpoint]:
    """Where a destination connects, as its sink declares it (``Sink.endpoints``); for a sink
    connector not built on floe's SDK, the URLs among its settings."""
    from floe_core.sinks.plugin import SinkPlugin

    if isinstance(plugin, SinkPlugin):
        return plugin.endpoints(sink_type, values)
    return endpoints_from_settings(values)


class EgressGate:
    """The egress policy of one compiled project, applied to its destinations and catalog.

    Args:
        plan: The compiled project (its manifest's ``egress_policy``).
        resolve: Resolves names for the prepare-time check (``socket.getaddrinfo``).
    """

    def __init__(self, plan: EgressPlan, *, resolve: Resolve | None = None) -> None:
        self.policy = EgressPolicy(
            plan.manifest.egress_policy,
            project_dir=plan.project_dir,
            manifest_path=plan.manifest_path,
            resolve=resolve,
        )
        self.guard = AddressGuard(self.policy)

    @classmethod
    def for_policy(
        cls,
        config: EgressPolicyConfig | None,
        *,
        project_dir: Path,
        manifest_path: Path | None = None,
    ) -> EgressGate:
        """The gate of a project's ``egress_policy`` where the compiled project is not at hand
        (a Ray worker delivering one task of a run: the policy travels with the task)."""
        gate = cls.__new__(cls)
        gate.policy = EgressPolicy(config, project_dir=project_dir, manifest_path=manifest_path)
        gate.guard = AddressGuard(gate.policy)
        return gate

    def __enter__(self) -> EgressGate:
        self.guard.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.guard.__exit__(*exc)

    def admit(
        self,
        receipt: Receipt,
        plugin: SinkConnector,
        destination: CompiledDestination,
        config: SinkConfig,
    ) -> None:
        """Record where the destination connects in ``receipt``, then refuse it unless the
        policy allows every endpoint; watch its hosts while the run lasts.

        Raises:
            EgressPolicyError: An endpoint is refused (nothing was opened).
        """
        endpoints = sink_endpoints(plugin, destination.sink_type, config.connection_config)
        receipt.destination_host = describe_endpoints(endpoints)
        self.check(endpoints, destination.name, destination.sink_type)

    def check(self, endpoints: list[Endpoint], destination: str, sink_type: str) -> None:
        """Refuse the endpoints of one destination unless the policy allows each of them.

        Raises:
            EgressPolicyError: An endpoint is refused, or none is declared under rules that
                allow listed hosts only.
        """
        rules = self.policy.for_sink(sink_type)
        if not endpoints and rules.restricts:
            raise self.policy.undeclared(rules, destination, sink_type)
        for endpoint in endpoints:
            self.policy.check(endpoint, rules, destination=destination, sink_type=sink_type)
            if endpoint.host is not None:
                self.guard.watch(endpoint.host, rules, destination=destination, sink_type=sink_type)

    def admit_catalog(self, config: dict[str, Any]) -> dict[str, Any]:
        """``config`` (the catalog's settings), once the hosts it names are allowed.

        Raises:
            EgressPolicyError: The catalog's ``uri`` or token endpoint is refused.
        """
        rules = self.policy.for_catalog()
        for key in _CATALOG_URLS:
            value = config.get(key)
            endpoint = Endpoint.from_url(value, setting=key) if isinstance(value, str) else None
            if endpoint is None or endpoint.host is None:
                continue  # a local SQLite catalog: nothing leaves the machine
            self.policy.check(endpoint, rules, destination="catalog")
            self.guard.watch(endpoint.host, rules, destination="catalog")
        return config


def check_destinations(
    plan: EgressPlan, *, registry: PluginRegistry, secrets: SecretResolver
) -> list[EgressPolicyError]:
    """Check the catalog and every destination of ``plan`` against its ``egress_policy``, as
    ``floe egress run`` does before building sinks; nothing is connected to or sent.

    Each destination's Secret is resolved (its host is in it) and names are resolved (a name
    resolving to a denied network is refused). A Secret or plugin that cannot be found is left
    to ``floe validate`` and ``floe egress run`` to report.

    Returns:
        One refusal per destination (or catalog) refused; empty when all may go ahead.
    """
    from floe_core.egress.destinations import sink_config
    from floe_core.errors import FloeError
    from floe_core.plugins.sink import SinkConnector

    gate = EgressGate(plan)
    refusals: list[EgressPolicyError] = []
    try:
        gate.admit_catalog(dict(plan.catalog or {}))
    except EgressPolicyError as exc:
        refusals.append(exc)
    for destination in plan.destinations:
        try:
            plugin = registry.get(destination.plugin_name)
            if not isinstance(plugin, SinkConnector):
                continue
            secret = secrets.resolve(
                destination.connection_secret_ref, destination=destination.name
            )
            config = sink_config(plan, plugin, destination, secret)
            endpoints = sink_endpoints(plugin, destination.sink_type, config.connection_config)
            gate.check(endpoints, destination.name, destination.sink_type)
        except EgressPolicyError as exc:
            refusals.append(exc)
        except (FloeError, KeyError):
            continue
    return refusals
