"""Governance and plugin checks: which installed plugin provides each destination's sink type,
whether ``approved_sinks`` allows it, and whether the manifest's plugin selection exists.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from floe_core.compiler import manifest_sections as sections
from floe_core.compiler.document import Document, raw_destinations
from floe_core.compiler.manifest_sections import Unknown
from floe_core.compiler.settings_check import check_settings
from floe_core.registry import PluginRegistry
from floe_core.schemas.floe_spec import SINK_TYPE_PATTERN, find_duplicate_names
from floe_core.schemas.manifest import PluginsConfig
from floe_core.schemas.plugins import SinkWhitelistError, validate_sink_whitelist

__all__ = ["check_destinations", "check_plugin_selection"]

_SINK_TYPE = re.compile(SINK_TYPE_PATTERN)


def check_destinations(
    spec: Document, manifest: Document, registry: PluginRegistry
) -> dict[str, str]:
    """Governance and plugin checks per destination; returns destination -> plugin name.

    Runs on the raw documents so that these problems are reported together with schema
    problems elsewhere in either file: a manifest section that is valid on its own is used
    even when another is not (``manifest_sections``).
    """
    raw = raw_destinations(spec)
    if spec.model is None:
        # The schema's own uniqueness check only runs when every destination is valid.
        names = [d.get("name") if isinstance(d, Mapping) else None for d in raw]
        for item in find_duplicate_names(names, "destination"):
            spec.problem(("destinations", *item.path), item.message, item.hint)
    approved = sections.approved_sinks(manifest)
    misspelt = _check_approved_sinks(manifest, approved, registry)
    chosen_plugins = sections.plugins(manifest)
    selection = chosen_plugins if isinstance(chosen_plugins, PluginsConfig) else None
    bindings: dict[str, str] = {}
    for index, destination in enumerate(raw):
        if not isinstance(destination, Mapping):
            continue
        sink_type = destination.get("sink_type")
        if not isinstance(sink_type, str) or not _SINK_TYPE.match(sink_type):
            continue
        name = destination.get("name")
        label = name if isinstance(name, str) else f"destinations[{index}]"
        where = ("destinations", index, "sink_type")
        providers = registry.sink_providers(sink_type)
        # A type no installed plugin provides is reported as that alone (with a did-you-mean),
        # not with advice to have it approved: approval would not make it work.
        if providers and not isinstance(approved, Unknown):
            try:
                validate_sink_whitelist(sink_type, approved, destination_name=label)
            except SinkWhitelistError as exc:
                spec.problem(where, *_unapproved(exc, misspelt.get(sink_type), manifest))
        if not providers:
            spec.problem(where, *_no_provider(sink_type, registry))
            continue
        chosen = _choose_provider(sink_type, providers, selection)
        if chosen is None:
            spec.problem(
                where,
                f"sink type {sink_type!r} is provided by several plugins: {', '.join(providers)}",
                f"choose one in manifest.yaml: plugins: {{sinks: {{{sink_type}: <plugin>}}}}",
            )
        else:
            check_settings(spec, index, destination, registry.get(chosen))
            if isinstance(name, str):
                bindings[name] = chosen
    return bindings


def _check_approved_sinks(
    manifest: Document, approved: list[str] | Unknown | None, registry: PluginRegistry
) -> dict[str, tuple[int, str]]:
    """An ``approved_sinks`` entry that no installed plugin provides but that is close to an
    installed sink type is a misspelling: reported at its line, with a did-you-mean.

    An entry far from every installed type is not reported: it may be provided by a plugin
    installed where the data products run, not here.

    Returns:
        Installed sink type -> (index, entry) of the entry that misspells it.
    """
    from floe_core.sinks.settings import closest

    if not isinstance(approved, list):
        return {}
    installed = list(registry.sink_types())
    misspelt: dict[str, tuple[int, str]] = {}
    for index, entry in enumerate(approved):
        close = closest(entry, installed) if entry not in installed else None
        if close is None or close in approved:
            continue
        misspelt.setdefault(close, (index, entry))
        manifest.problem(
            ("approved_sinks", index),
            f"approves sink type {entry!r}, which no installed plugin provides (installed: "
            f"{', '.join(installed)})",
            f"did you mean {close!r}? `floe sinks` lists what is installed",
        )
    return misspelt


def _unapproved(
    error: SinkWhitelistError, misspelling: tuple[int, str] | None, manifest: Document
) -> tuple[str, str]:
    """The message and hint of a destination whose sink type is not approved: when an entry of
    ``approved_sinks`` is a misspelling of it, the manifest is to be fixed, not floe.yaml."""
    if misspelling is None:
        return error.message, error.hint
    index, entry = misspelling
    where = f"{manifest.label}:{line}" if (line := _line(manifest, index)) else manifest.label
    return (
        f"{error.message}; its {entry!r} ({where}) is likely a misspelling of {error.sink_type!r}",
        f"correct {entry!r} to {error.sink_type!r} in approved_sinks of {manifest.label} "
        "(reported there too); this destination is then approved",
    )


def _line(manifest: Document, index: int) -> int | None:
    location = manifest.loaded.locate(("approved_sinks", index)) if manifest.loaded else None
    return location.line if location else None


def _close_sink_type(sink_type: str, registry: PluginRegistry) -> str | None:
    """The installed sink type ``sink_type`` is probably a misspelling of, if any."""
    from floe_core.sinks.settings import closest

    return closest(sink_type, list(registry.sink_types()))


def _no_provider(sink_type: str, registry: PluginRegistry) -> tuple[str, str]:
    available = ", ".join(registry.sink_types()) or "none"
    message = f"no installed plugin provides sink type {sink_type!r} (available: {available})"
    close = _close_sink_type(sink_type, registry)
    hint = (
        f"did you mean {close!r}? `floe sinks` lists what is installed"
        if close
        else "use one of the available sink types, or install a plugin that provides "
        f"{sink_type!r}; `floe sinks` lists what is installed"
    )
    broken = registry.problems
    if broken:
        names = ", ".join(sorted({p.name for p in broken}))
        hint += f". Plugins that failed to load: {names} (see `floe sinks`)"
    return message, hint


def _choose_provider(sink_type: str, providers: list[str], selection: Any) -> str | None:
    if len(providers) == 1:
        return providers[0]
    if selection is None:
        return None
    pinned = (selection.sinks or {}).get(sink_type)
    if pinned in providers:
        return str(pinned)
    if selection.ingestion in providers:
        return str(selection.ingestion)
    return None


def check_plugin_selection(manifest: Document, registry: PluginRegistry) -> None:
    """The plugins the manifest's ``plugins:`` chooses are installed and provide their types."""
    chosen = sections.plugins(manifest)
    if not isinstance(chosen, PluginsConfig):
        return
    if chosen.ingestion is not None:
        _check_selected_plugin(manifest, registry, chosen.ingestion, ("plugins", "ingestion"), None)
    for sink_type, plugin_name in (chosen.sinks or {}).items():
        _check_selected_plugin(
            manifest, registry, plugin_name, ("plugins", "sinks", sink_type), sink_type
        )


def _check_selected_plugin(
    manifest: Document,
    registry: PluginRegistry,
    plugin_name: str,
    where: tuple[str | int, ...],
    sink_type: str | None,
) -> None:
    info = registry.info(plugin_name)
    if info is None:
        broken = next((p for p in registry.problems if p.name == plugin_name), None)
        if broken is not None:
            manifest.problem(where, f"plugin {plugin_name!r} {broken.message}", broken.hint)
        else:
            from floe_core.plugins.packages import install_hint, plugin_package

            installed = ", ".join(i.name for i in registry.plugins) or "none"
            package = plugin_package(plugin_name)
            manifest.problem(
                where,
                f"plugin {plugin_name!r} is not installed (installed: {installed})",
                f"{install_hint(package)}; or name an installed plugin"
                if package
                else f"install the package that provides {plugin_name!r}, or name an "
                "installed plugin",
            )
    elif sink_type is not None and sink_type not in info.sink_types:
        manifest.problem(
            where,
            f"plugin {plugin_name!r} does not provide sink type {sink_type!r}",
            f"choose one of: {', '.join(registry.sink_providers(sink_type)) or 'none installed'}",
        )
