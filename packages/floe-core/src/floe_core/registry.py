"""Find installed plugins and answer which of them can send data to a sink type.

Plugins are discovered from entry points:

* ``floe.ingestion``: ingestion plugins, which may also be sink connectors
  (``dlt = "floe_ingestion_dlt.plugin:DltIngestionPlugin"``);
* ``floe.sinks``: standalone sink connectors that are not ingestion plugins.

An entry point names a plugin class (instantiated without arguments) or a ready instance.
A plugin that cannot be imported, cannot be instantiated, or declares bad metadata is
recorded in :attr:`PluginRegistry.problems` and skipped; the others are still discovered.
Whether a plugin can sink is decided by ``isinstance(plugin, SinkConnector)``, and which types
it can sink to by its ``list_available_sinks()``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from floe_core.plugins.metadata import PluginMetadata
from floe_core.plugins.sink import SinkConnector

__all__ = [
    "ENTRY_POINT_GROUPS",
    "SUPPORTED_API_MAJOR",
    "PluginInfo",
    "PluginProblem",
    "PluginRegistry",
]

#: Entry point groups searched by :meth:`PluginRegistry.discover`.
ENTRY_POINT_GROUPS: tuple[str, ...] = ("floe.ingestion", "floe.sinks")

#: Major version of the plugin API this floe implements; plugins declare ``floe_api_version``.
SUPPORTED_API_MAJOR = 1

_API_VERSION_RE = re.compile(r"^(\d+)(\.\d+)*$")


@dataclass(frozen=True)
class PluginProblem:
    """A plugin that could not be loaded.

    Attributes:
        name: Entry point (or plugin) name.
        source: Where it came from: ``module:attribute`` of the entry point, or ``registered``.
        message: What went wrong.
        hint: What to do about it.
    """

    name: str
    source: str
    message: str
    hint: str

    def __str__(self) -> str:
        return f"plugin {self.name!r} ({self.source}) {self.message} (hint: {self.hint})"


@dataclass(frozen=True)
class PluginInfo:
    """A loaded plugin and what it declares.

    Attributes:
        name: Plugin name (``PluginMetadata.name``, or the entry point name for a standalone
            sink connector).
        plugin: The plugin instance.
        version: Plugin version, ``""`` when it declares none.
        floe_api_version: Plugin API version it was written against, ``""`` when undeclared.
        sink_types: Sink types it provides; empty unless it is a ``SinkConnector``.
        source: Where it came from.
    """

    name: str
    plugin: object
    version: str
    floe_api_version: str
    sink_types: tuple[str, ...]
    source: str

    @property
    def is_sink_connector(self) -> bool:
        """True when the plugin can push data out."""
        return isinstance(self.plugin, SinkConnector)


class PluginRegistry:
    """Loaded plugins by name, plus the problems met while loading others.

    Build one with :meth:`discover`, or empty and :meth:`register` plugins yourself (tests,
    embedding floe in an application).
    """

    def __init__(self) -> None:
        self._plugins: dict[str, PluginInfo] = {}
        self._problems: list[PluginProblem] = []

    @classmethod
    def discover(
        cls,
        *,
        groups: Iterable[str] = ENTRY_POINT_GROUPS,
        extra_entry_points: Iterable[EntryPoint] = (),
        plugins: Iterable[object] = (),
    ) -> PluginRegistry:
        """Load every plugin registered under ``groups``, then ``extra_entry_points``/``plugins``.

        Args:
            groups: Entry point groups to search.
            extra_entry_points: More entry points to load, as if installed.
            plugins: Plugin instances to add, as if discovered.
        """
        registry = cls()
        for group in groups:
            for entry_point in sorted(entry_points(group=group), key=lambda ep: ep.name):
                registry.load_entry_point(entry_point)
        for entry_point in extra_entry_points:
            registry.load_entry_point(entry_point)
        for plugin in plugins:
            registry.register(plugin)
        return registry

    @property
    def plugins(self) -> list[PluginInfo]:
        """Loaded plugins, by name."""
        return [self._plugins[name] for name in sorted(self._plugins)]

    @property
    def problems(self) -> list[PluginProblem]:
        """Plugins that could not be loaded, in discovery order."""
        return list(self._problems)

    def get(self, name: str) -> object | None:
        """The plugin instance called ``name``, or ``None``."""
        info = self._plugins.get(name)
        return info.plugin if info else None

    def info(self, name: str) -> PluginInfo | None:
        """What is known about the plugin called ``name``, or ``None``."""
        return self._plugins.get(name)

    def sink_plugins_for(self, sink_type: str) -> list[SinkConnector]:
        """Plugins that can sink to ``sink_type``, by plugin name."""
        return [
            info.plugin
            for info in self.plugins
            if isinstance(info.plugin, SinkConnector) and sink_type in info.sink_types
        ]

    def sink_providers(self, sink_type: str) -> list[str]:
        """Names of the plugins that can sink to ``sink_type``, sorted."""
        return [info.name for info in self.plugins if sink_type in info.sink_types]

    def sink_types(self) -> dict[str, list[str]]:
        """Every available sink type -> names of the plugins providing it."""
        types: dict[str, list[str]] = {}
        for info in self.plugins:
            for sink_type in info.sink_types:
                types.setdefault(sink_type, []).append(info.name)
        return dict(sorted(types.items()))

    def load_entry_point(self, entry_point: EntryPoint) -> PluginInfo | None:
        """Import, instantiate and register the plugin ``entry_point`` names.

        Returns:
            The loaded plugin, or ``None`` when it is broken (see :attr:`problems`).
        """
        source = entry_point.value
        dist = getattr(entry_point, "dist", None)
        package = f"'{dist.name}'" if dist is not None else "the package that provides it"
        try:
            target = entry_point.load()
        except Exception as exc:  # a plugin's import may fail in any way; report, go on
            return self._broken(
                entry_point.name,
                source,
                f"cannot be imported: {type(exc).__name__}: {exc}",
                f"reinstall or upgrade {package}, or uninstall it; other plugins still work",
            )
        if isinstance(target, type):
            if not issubclass(target, PluginMetadata | SinkConnector):
                return self._broken(
                    entry_point.name,
                    source,
                    f"is {target.__name__}, which is neither a PluginMetadata nor a SinkConnector",
                    f"point the entry point at the plugin class, or uninstall {package}",
                )
            try:
                plugin = target()
            except Exception as exc:  # a plugin's constructor may fail in any way
                return self._broken(
                    entry_point.name,
                    source,
                    f"cannot be instantiated: {type(exc).__name__}: {exc}",
                    f"a plugin class must be constructible without arguments; report this to "
                    f"the maintainers of {package}",
                )
        else:
            plugin = target
        return self.register(plugin, name=entry_point.name, source=source)

    def register(
        self, plugin: object, *, name: str | None = None, source: str = "registered"
    ) -> PluginInfo | None:
        """Check ``plugin``'s metadata and add it.

        Args:
            plugin: A ``PluginMetadata`` and/or ``SinkConnector`` instance.
            name: Name for a standalone ``SinkConnector``, which declares none; ignored
                for a ``PluginMetadata``, whose ``name`` is used.
            source: Where it came from, shown in problems.

        Returns:
            The registered plugin, or ``None`` when it is broken (see :attr:`problems`).
        """
        label = name or type(plugin).__name__
        if not isinstance(plugin, PluginMetadata | SinkConnector):
            return self._broken(
                label,
                source,
                f"is of type {type(plugin).__name__}, neither a PluginMetadata nor a SinkConnector",
                "implement floe_core.plugins.PluginMetadata and/or SinkConnector",
            )
        try:
            info = _describe(plugin, label, source)
        except _BadMetadata as exc:
            return self._broken(label, source, exc.message, exc.hint)
        if info.name in self._plugins:
            other = self._plugins[info.name]
            return self._broken(
                info.name,
                source,
                f"has the same name as the plugin from {other.source}",
                "uninstall one of the two packages",
            )
        self._plugins[info.name] = info
        return info

    def _broken(self, name: str, source: str, message: str, hint: str) -> PluginInfo | None:
        """Record a broken plugin; returns ``None`` so callers can ``return self._broken(...)``."""
        self._problems.append(PluginProblem(name=name, source=source, message=message, hint=hint))
        return None


class _BadMetadata(Exception):
    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def _describe(plugin: PluginMetadata | SinkConnector, label: str, source: str) -> PluginInfo:
    name, version, api_version = label, "", ""
    if isinstance(plugin, PluginMetadata):
        name = _declared(plugin, "name")
        version = _declared(plugin, "version")
        api_version = _declared(plugin, "floe_api_version")
        match = _API_VERSION_RE.match(api_version)
        if match is None or int(match.group(1)) != SUPPORTED_API_MAJOR:
            raise _BadMetadata(
                f"is written for floe plugin API {api_version!r}; this floe supports "
                f"{SUPPORTED_API_MAJOR}.x",
                "install a version of the plugin made for this floe",
            )
    sink_types: tuple[str, ...] = ()
    if isinstance(plugin, SinkConnector):
        try:
            listed = plugin.list_available_sinks()
        except Exception as exc:  # plugin code: report, do not crash discovery
            raise _BadMetadata(
                f"failed in list_available_sinks(): {type(exc).__name__}: {exc}",
                "report this to the plugin's maintainers",
            ) from exc
        if not isinstance(listed, list | tuple) or not all(
            isinstance(item, str) and item.strip() for item in listed
        ):
            raise _BadMetadata(
                "list_available_sinks() did not return a list of sink type names",
                "report this to the plugin's maintainers",
            )
        sink_types = tuple(dict.fromkeys(listed))
    return PluginInfo(
        name=name,
        plugin=plugin,
        version=version,
        floe_api_version=api_version,
        sink_types=sink_types,
        source=source,
    )


def _declared(plugin: PluginMetadata, attribute: str) -> str:
    try:
        value = getattr(plugin, attribute)
    except Exception as exc:  # plugin code: report, do not crash discovery
        raise _BadMetadata(
            f"failed to report its {attribute}: {type(exc).__name__}: {exc}",
            "report this to the plugin's maintainers",
        ) from exc
    if not isinstance(value, str) or not value.strip():
        raise _BadMetadata(
            f"declares an invalid {attribute} ({value!r}); it must be a non-blank string",
            "report this to the plugin's maintainers",
        )
    return value
