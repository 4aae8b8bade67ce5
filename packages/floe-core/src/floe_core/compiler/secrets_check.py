"""Warnings about the Secrets a project names, found on this machine without connecting anywhere.

A Secret that neither the mounted directory nor the environment holds, or one that lacks a key
its destination's sink needs, is what a run here would stop on before sending, although the
files are right (in a cluster the Secret may come from the Kubernetes API, which ``floe
validate`` does not ask). These are warnings, reported with the problems of the files: each
destination whose ``connection_secret_ref`` is readable is checked, valid or not otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from floe_core.compiler import manifest_sections as sections
from floe_core.compiler.document import Document, raw_destinations
from floe_core.compiler.problems import Problem, make_problem
from floe_core.registry import PluginRegistry

if TYPE_CHECKING:
    from floe_core.secrets.resolver import ResolvedSecret, SecretResolver

__all__ = ["check_secrets"]

_STOPS = "a run here would stop before sending"

#: The keys a catalog's ``credential_secret_ref`` Secret must hold, by catalog type (what
#: ``floe_core.egress.destinations.catalog_config`` takes from it).
_CATALOG_KEYS = {"rest": [["client_id", "client_secret"]], "sql": [["uri"]]}


@dataclass(frozen=True)
class _Wanted:
    """One Secret the project names, and who needs which keys of it."""

    document: Document
    path: tuple[str | int, ...]
    ref: str
    who: str
    needs: list[list[str]]
    needer: str = ""


def check_secrets(
    spec: Document, manifest: Document, bindings: Mapping[str, str], registry: PluginRegistry
) -> list[Problem]:
    """Warnings for the destinations' and the catalog's Secrets, as this machine holds them.

    Args:
        spec: ``floe.yaml``, as far as it was read.
        manifest: ``manifest.yaml``, as far as it was read (``secrets.dir``, the catalog's
            ``credential_secret_ref``).
        bindings: Destination name -> the plugin that provides its sink type (the keys its
            Secret needs are asked of it).
        registry: The installed plugins.
    """
    from floe_core.secrets.errors import SecretBackendError

    resolver = _resolver(spec, manifest)
    if resolver is None:
        return []
    found: list[Problem] = []
    for wanted in _wanted(spec, manifest, bindings, registry):
        if wanted.document.loaded is None:
            continue
        try:
            message, hint = _check(resolver, wanted) or (None, None)
        except SecretBackendError as exc:
            message, hint = f"{exc.message}; {_STOPS}", exc.hint
        if message is not None and hint is not None:
            found.append(
                make_problem(
                    wanted.document.loaded, wanted.document.label, wanted.path, message, hint
                )
            )
    return found


def _resolver(spec: Document, manifest: Document) -> SecretResolver | None:
    """The resolver a run of this project would use; ``None`` when where it looks is not known
    (``secrets:`` of the manifest is itself wrong)."""
    from floe_core.secrets.resolver import SecretResolver

    directory = sections.secrets_dir(manifest)
    if isinstance(directory, sections.Unknown):
        return None
    project_dir = spec.path.parent.absolute()
    secrets_dir = project_dir / directory if directory is not None else None
    return SecretResolver.for_project(project_dir, secrets_dir=secrets_dir)


def _wanted(
    spec: Document, manifest: Document, bindings: Mapping[str, str], registry: PluginRegistry
) -> list[_Wanted]:
    wanted: list[_Wanted] = []
    for index, destination in enumerate(raw_destinations(spec)):
        if not isinstance(destination, Mapping):
            continue
        ref, name = destination.get("connection_secret_ref"), destination.get("name")
        if not isinstance(ref, str):
            continue
        label = f"destination '{name}'" if isinstance(name, str) else f"destinations[{index}]"
        sink_type = destination.get("sink_type")
        plugin = bindings.get(name) if isinstance(name, str) else None
        needs = (
            _needed_keys(registry.get(plugin), sink_type, destination.get("config"))
            if plugin is not None and isinstance(sink_type, str)
            else []
        )
        where = ("destinations", index, "connection_secret_ref")
        wanted.append(_Wanted(spec, where, ref, label, needs, f"the {sink_type} sink"))
    catalog_ref = sections.catalog_secret_ref(manifest)
    if catalog_ref is not None:
        kind = sections.catalog_type(manifest)
        needs = _CATALOG_KEYS.get(kind or "", [])
        wanted.append(
            _Wanted(
                manifest,
                ("catalog", "credential_secret_ref"),
                catalog_ref,
                "the catalog",
                needs,
                f"a {kind} catalog",
            )
        )
    return wanted


def _needed_keys(plugin: object, sink_type: str, config: object) -> list[list[str]]:
    """The groups of Secret keys the sink needs with ``config`` (one group of them), as a
    ``SinkPlugin`` declares them; none when the plugin cannot say (a plain sink connector
    checks its keys when it builds the sink)."""
    from floe_core.sinks.plugin import SinkPlugin

    if not isinstance(plugin, SinkPlugin):
        return []
    settings: dict[str, Any] = dict(config) if isinstance(config, Mapping) else {}
    try:
        return plugin.secret_keys(sink_type, settings)
    except Exception:  # a plugin's bug must not stop validation; the settings check says so
        return []


def _check(resolver: SecretResolver, wanted: _Wanted) -> tuple[str, str] | None:
    """What is wrong with ``wanted``'s Secret on this machine, as a message and a hint."""
    looked = resolver.missing_here(wanted.ref)
    if looked is not None:
        return (
            f"Secret '{wanted.ref}' of {wanted.who} is not on this machine (looked in: "
            f"{looked}); {_STOPS}",
            resolver.how_to_add(wanted.ref, wanted.needs[0] if wanted.needs else ()),
        )
    secret = resolver.held_here(wanted.ref)
    if secret is None or not wanted.needs:
        return None
    return _missing_keys(secret, wanted)


def _missing_keys(secret: ResolvedSecret, wanted: _Wanted) -> tuple[str, str] | None:
    from floe_core.sinks.settings import closest

    groups = wanted.needs
    if any(all(key in secret.values for key in group) for group in groups):
        return None
    lacking = [key for key in groups[0] if key not in secret.values]
    has = ", ".join(secret.keys) or "none"
    needs = " or ".join(", ".join(group) for group in groups)
    names = ", ".join(f"'{key}'" for key in lacking)
    message = (
        f"Secret '{wanted.ref}' of {wanted.who} has no key{'s' if len(lacking) > 1 else ''} "
        f"{names} (found in {secret.source}, keys: {has}); {wanted.needer} needs "
        f"{needs}, so {_STOPS}"
    )
    hint = _how_to_add(secret, lacking)
    extra = [key for key in secret.keys if not any(key in group for group in groups)]
    close = closest(lacking[0], extra)
    if close is not None:
        hint = f"its key '{close}' is likely a misspelling of '{lacking[0]}': rename it, or {hint}"
    return message, hint


def _how_to_add(secret: ResolvedSecret, keys: Sequence[str]) -> str:
    return "; ".join(secret.how_to_add(key) for key in keys)
