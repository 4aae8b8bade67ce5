"""Governance and plugin checks: which installed plugin provides each destination's sink type,
whether ``approved_sinks`` allows it, and whether the manifest's plugin selection exists.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from floe_core.compiler.document import Document, raw_destinations
from floe_core.compiler.settings_check import check_settings
from floe_core.registry import PluginRegistry
from floe_core.schemas.floe_spec import SINK_TYPE_PATTERN, find_duplicate_names
from floe_core.schemas.manifest import PlatformManifest
from floe_core.schemas.plugins import SinkWhitelistError, validate_sink_whitelist

__all__ = ["check_destinations", "check_plugin_selection"]

_SINK_TYPE = re.compile(SINK_TYPE_PATTERN)


def check_destinations(
    spec: Document,
    manifest: Document,
    approved: list[str] | None,
    registry: PluginRegistry,
) -> dict[str, str]:
    """Governance and plugin checks per destination; returns destination -> plugin name.

    Runs on the raw document so that these problems are reported together with schema
    problems elsewhere in the file.
    """
    raw = raw_destinations(spec)
    if spec.model is None:
        # The schema's own uniqueness check only runs when every destination is valid.
        names = [d.get("name") if isinstance(d, Mapping) else None for d in raw]
        for item in find_duplicate_names(names, "destination"):
            spec.problem(("destinations", *item.path), item.message, item.hint)
    selection = manifest.model.plugins if isinstance(manifest.model, PlatformManifest) else None
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
        if providers:
            try:
                validate_sink_whitelist(sink_type, approved, destination_name=label)
            except SinkWhitelistError as exc:
                spec.problem(where, exc.message, exc.hint)
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
    model = manifest.model
    if not isinstance(model, PlatformManifest):
        return
    if model.plugins.ingestion is not None:
        _check_selected_plugin(
            manifest, registry, model.plugins.ingestion, ("plugins", "ingestion"), None
        )
    for sink_type, plugin_name in (model.plugins.sinks or {}).items():
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
