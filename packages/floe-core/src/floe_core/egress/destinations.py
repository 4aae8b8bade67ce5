"""What a run needs to know before it opens anything: which destinations, which Secret keys
their sinks need, and the catalog settings with the catalog's own credentials filled in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from floe_core.egress.errors import EgressConfigError
from floe_core.egress.observability import redactor
from floe_core.spelling import did_you_mean

if TYPE_CHECKING:
    from floe_core.compiler import CompiledDestination, EgressPlan
    from floe_core.plugins.sink import SinkConfig, SinkConnector
    from floe_core.secrets.resolver import ResolvedSecret, SecretResolver

__all__ = [
    "catalog_config",
    "did_you_mean",
    "require_secret_keys",
    "required_secret_keys",
    "select_destinations",
    "sink_config",
    "worker_sink_config",
]


def worker_sink_config(
    plugin: SinkConnector,
    destination: CompiledDestination,
    secret: Mapping[str, str],
    project_dir: str,
) -> SinkConfig:
    """The destination's ``SinkConfig`` from its config merged with ``secret``'s values (what
    :func:`sink_config` gives the driver, for a worker holding the Secret's values only; its
    sink is built with ``floe_core.egress.prepare.create_sink``)."""
    return _merged_config(plugin, destination, secret, project_dir)


def required_secret_keys(
    plugin: SinkConnector, sink_type: str, config: Mapping[str, Any]
) -> list[list[str]]:
    """Groups of Secret keys, one of which the sink needs (empty: nothing required).

    A ``SinkPlugin`` says what its sink needs; any other sink connector checks its keys
    itself when it builds the sink.
    """
    from floe_core.sinks.plugin import SinkPlugin

    if isinstance(plugin, SinkPlugin):
        return plugin.secret_keys(sink_type, dict(config))
    return []


def require_secret_keys(
    secret: ResolvedSecret, destination: CompiledDestination, plugin: SinkConnector
) -> None:
    """Raise ``SecretKeyMissingError`` when ``secret`` lacks what the destination's sink needs."""
    groups = required_secret_keys(plugin, destination.sink_type, destination.config)
    if len(groups) == 1:
        secret.require(groups[0], destination=destination.name)
    elif groups:
        secret.require_one_of(groups, destination=destination.name)


def sink_config(
    plan: EgressPlan,
    plugin: SinkConnector,
    destination: CompiledDestination,
    secret: ResolvedSecret,
) -> SinkConfig:
    """The destination's ``SinkConfig``: its ``config`` merged with its Secret's keys, and a
    ``SinkPlugin``'s relative paths made relative to the project directory."""
    return _merged_config(plugin, destination, secret.reveal(), str(plan.project_dir))


def _merged_config(
    plugin: SinkConnector,
    destination: CompiledDestination,
    secret: Mapping[str, str],
    project_dir: str,
) -> SinkConfig:
    import dataclasses

    from floe_core.sinks.plugin import SinkPlugin

    config = destination.to_sink_config(secret)
    if isinstance(plugin, SinkPlugin):
        values = plugin.project_paths(destination.sink_type, config.connection_config, project_dir)
        config = dataclasses.replace(config, connection_config=values)
    return config


def select_destinations(
    plan: EgressPlan, names: Sequence[str], run_all: bool
) -> list[CompiledDestination]:
    """The destinations to run, in the order asked (``run_all``: file order).

    Raises:
        EgressConfigError: No name and not ``run_all``, both, or a name that does not exist.
    """
    available = plan.destination_names
    listing = ", ".join(available) or "none (floe.yaml declares no destinations)"
    if run_all and names:
        raise EgressConfigError(
            "give destination names or --all, not both",
            hint=f"destinations in {plan.spec_path}: {listing}",
        )
    if run_all:
        if not available:
            raise EgressConfigError(
                f"{plan.spec_path} declares no destinations",
                hint="add a destinations: section to floe.yaml",
            )
        return list(plan.destinations)
    if not names:
        raise EgressConfigError(
            "no destination given", hint=f"name one (floe egress run NAME) or use --all: {listing}"
        )
    chosen: list[CompiledDestination] = []
    for name in dict.fromkeys(names):
        destination = plan.destination(name)
        if destination is None:
            raise EgressConfigError(
                f"destination '{name}' is not declared in {plan.spec_path}",
                hint=did_you_mean(name, available) + f"destinations: {listing}",
            )
        chosen.append(destination)
    return chosen


def catalog_config(plan: EgressPlan, secrets: SecretResolver) -> dict[str, Any]:
    """The plan's catalog settings, with the catalog Secret's credentials filled in.

    A ``rest`` catalog takes ``client_id`` and ``client_secret`` from the Secret named by
    ``credential_secret_ref``; a ``sql`` catalog takes its whole ``uri`` (a relative SQLite
    file is relative to the project directory).

    Raises:
        EgressConfigError: The manifest declares no catalog.
        SecretError: The catalog Secret or one of its keys is missing.
    """
    from floe_core.compiler.plan import resolve_sqlite_url

    if plan.catalog is None:
        raise EgressConfigError(
            f"{plan.manifest_path} declares no catalog to read source tables from",
            hint="add a catalog: section (see examples/quickstart/manifest.yaml)",
        )
    config = dict(plan.catalog)
    ref = plan.catalog_secret_ref
    if ref:
        secret = secrets.resolve(ref, destination="the catalog")
        redactor.add(secret.secret_values())
        values = secret.reveal()
        if config["type"] == "rest":
            secret.require(["client_id", "client_secret"], needed_by="the catalog")
            config["credential_secret_ref"] = ref  # named in error hints
            config["client_id"] = values["client_id"]
            config["client_secret"] = values["client_secret"]
        else:
            secret.require(["uri"], needed_by="the catalog")
            config["uri"] = resolve_sqlite_url(values["uri"], plan.project_dir)
    return config
