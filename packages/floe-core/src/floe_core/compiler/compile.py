"""Compile a project: read ``floe.yaml`` and ``manifest.yaml``, check everything, build a plan.

Every problem is collected, not just the first: syntax, schema, credentials, governance
(``approved_sinks``), plugin availability and each destination's ``config:``, checked against
its sink's settings model by the plugin that provides it (a ``SinkPlugin``; see
``floe_core.sinks.settings``). A plan is returned only when there are none.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from floe_core.compiler.plan import CompiledDestination, EgressPlan, resolve_catalog
from floe_core.compiler.plan import resolve_sqlite_url as _resolve_sqlite_url
from floe_core.compiler.problems import (
    InvalidProjectError,
    Problem,
    format_path,
    make_problem,
    problems_from_validation_error,
)
from floe_core.plugins.sink import split_field_path
from floe_core.registry import PluginRegistry
from floe_core.schemas.floe_spec import SINK_TYPE_PATTERN, FloeSpec, find_duplicate_names
from floe_core.schemas.manifest import PlatformManifest
from floe_core.schemas.plugins import SinkWhitelistError, validate_sink_whitelist
from floe_core.yamlio import ConfigFileError, LoadedYaml, load_yaml

if TYPE_CHECKING:
    from floe_core.sinks.base import Sink
    from floe_core.sinks.plugin import SinkPlugin

__all__ = ["CompileResult", "compile_project"]

_SINK_TYPE = re.compile(SINK_TYPE_PATTERN)


@dataclass(frozen=True)
class CompileResult:
    """Outcome of :func:`compile_project`.

    Attributes:
        plan: The compiled plan; ``None`` when there are problems.
        problems: Everything wrong, ordered by file and line.
        warnings: What a run on this machine would stop on although the files are right: a
            Secret no local source holds (in a cluster it may come from the Kubernetes API).
        spec_path: The ``floe.yaml`` that was read.
        manifest_path: The ``manifest.yaml`` that was read (or looked for).
    """

    plan: EgressPlan | None
    problems: list[Problem] = field(default_factory=list)
    spec_path: Path | None = None
    manifest_path: Path | None = None
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the project compiled without problems."""
        return self.plan is not None and not self.problems

    def unwrap(self) -> EgressPlan:
        """The plan.

        Raises:
            InvalidProjectError: The project has problems.
        """
        if self.plan is None or self.problems:
            raise InvalidProjectError(self.problems)
        return self.plan


@dataclass
class _Document:
    label: str
    path: Path
    loaded: LoadedYaml | None = None
    model: BaseModel | None = None
    problems: list[Problem] = field(default_factory=list)

    def problem(self, path: tuple[str | int, ...], message: str, hint: str) -> None:
        if self.loaded is None:
            self.problems.append(Problem(self.label, "", message, hint))
        else:
            self.problems.append(make_problem(self.loaded, self.label, path, message, hint))


def compile_project(
    spec_path: str | os.PathLike[str] = "floe.yaml",
    manifest_path: str | os.PathLike[str] | None = None,
    *,
    registry: PluginRegistry | None = None,
) -> CompileResult:
    """Read, validate and compile a data product for egress.

    Args:
        spec_path: The product's ``floe.yaml``.
        manifest_path: The governing ``manifest.yaml``. Default: ``platform.manifest`` of
            ``floe.yaml`` when set, else ``manifest.yaml`` beside ``floe.yaml``.
        registry: Installed plugins; discovered from entry points when omitted.

    Returns:
        The plan, or every problem found.
    """
    spec_file = Path(spec_path)
    spec = _Document(str(spec_file), spec_file)
    _load(spec)
    manifest_file = _manifest_path(spec, manifest_path)
    manifest = _Document(str(manifest_file), manifest_file)
    _load(manifest)
    _validate(spec, FloeSpec)
    _validate(manifest, PlatformManifest)
    if registry is None:
        registry = PluginRegistry.discover()

    approved = _approved_sinks(manifest)
    bindings = _check_destinations(spec, manifest, approved, registry)
    _check_plugin_selection(manifest, registry)
    _check_catalog_needed(spec, manifest)

    problems = _ordered([*spec.problems, *manifest.problems], [spec.label, manifest.label])
    if problems:
        return CompileResult(None, problems, spec_file, manifest_file)
    assert isinstance(spec.model, FloeSpec) and isinstance(manifest.model, PlatformManifest)
    plan = _plan(spec.model, manifest.model, spec_file, manifest_file, bindings, registry)
    warnings = _missing_secrets(plan, spec, manifest)
    return CompileResult(plan, [], spec_file, manifest_file, warnings)


def _missing_secrets(plan: EgressPlan, spec: _Document, manifest: _Document) -> list[Problem]:
    """Secrets that neither the mounted directory nor the environment holds, found without
    connecting anywhere (a run would stop on them before sending)."""
    from floe_core.secrets.resolver import SecretResolver

    resolver = SecretResolver.for_project(plan.project_dir, secrets_dir=plan.secrets_dir)
    wanted: list[tuple[_Document, tuple[str | int, ...], str, str]] = [
        (spec, ("destinations", index, "connection_secret_ref"), d.connection_secret_ref, d.name)
        for index, d in enumerate(plan.spec.destinations or ())
    ]
    if plan.catalog_secret_ref:
        wanted.append((manifest, ("catalog", "credential_secret_ref"), plan.catalog_secret_ref, ""))
    found = []
    for document, path, ref, destination in wanted:
        looked = resolver.missing_here(ref)
        if looked is None or document.loaded is None:
            continue
        who = f"destination '{destination}'" if destination else "the catalog"
        message = (
            f"Secret '{ref}' of {who} is not on this machine (looked in: {looked}); a run here "
            "would stop before sending"
        )
        found.append(
            make_problem(document.loaded, document.label, path, message, resolver.how_to_add(ref))
        )
    return found


def _load(document: _Document) -> None:
    try:
        document.loaded = load_yaml(document.path)
    except ConfigFileError as exc:
        line = exc.location.line if exc.location else None
        column = exc.location.column if exc.location else None
        document.problems.append(
            Problem(document.label, "", exc.message, exc.hint, line=line, column=column)
        )
        return
    for path, location in document.loaded.duplicate_keys:
        document.problems.append(
            Problem(
                document.label,
                format_path(path),
                f"key `{path[-1]}` is written twice in the same mapping",
                "keep one of them; YAML would silently use the last",
                line=location.line,
                column=location.column,
            )
        )
    if not isinstance(document.loaded.data, Mapping):
        kind = "empty" if document.loaded.data is None else "not a mapping of keys to values"
        document.problems.append(
            Problem(
                document.label,
                "",
                f"is {kind}",
                "start from the example in examples/quickstart/ (apiVersion, kind, metadata, ...)",
                line=1 if document.loaded.data is not None else None,
            )
        )


def _validate(document: _Document, model: type[BaseModel]) -> None:
    loaded = document.loaded
    if loaded is None or not isinstance(loaded.data, Mapping):
        return
    try:
        document.model = model.model_validate(loaded.data)
    except ValidationError as exc:
        document.problems.extend(problems_from_validation_error(exc, loaded, document.label, model))


def _manifest_path(spec: _Document, given: str | os.PathLike[str] | None) -> Path:
    if given is not None:
        return Path(given)
    data = spec.loaded.data if spec.loaded is not None else None
    platform = data.get("platform") if isinstance(data, Mapping) else None
    declared = platform.get("manifest") if isinstance(platform, Mapping) else None
    if isinstance(declared, str) and declared.strip():
        if "://" in declared:
            spec.problem(
                ("platform", "manifest"),
                "reading a manifest from a URI is not supported",
                "download the manifest and pass it with --manifest, or set a local path",
            )
        else:
            return spec.path.parent / declared
    return spec.path.parent / "manifest.yaml"


def _approved_sinks(manifest: _Document) -> list[str] | None:
    if isinstance(manifest.model, PlatformManifest):
        return manifest.model.approved_sinks
    return None


def _raw_destinations(spec: _Document) -> list[Any]:
    data = spec.loaded.data if spec.loaded is not None else None
    destinations = data.get("destinations") if isinstance(data, Mapping) else None
    return destinations if isinstance(destinations, list) else []


def _check_destinations(
    spec: _Document,
    manifest: _Document,
    approved: list[str] | None,
    registry: PluginRegistry,
) -> dict[str, str]:
    """Governance and plugin checks per destination; returns destination -> plugin name.

    Runs on the raw document so that these problems are reported together with schema
    problems elsewhere in the file.
    """
    raw = _raw_destinations(spec)
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
        # A misspelt installed type gets a did-you-mean, not advice to have the typo approved.
        if providers or not _close_sink_type(sink_type, registry):
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
            _check_settings(spec, index, destination, registry.get(chosen))
            if isinstance(name, str):
                bindings[name] = chosen
    return bindings


def _check_settings(
    spec: _Document, index: int, destination: Mapping[str, Any], plugin: object
) -> None:
    """Check the destination's ``config:`` against its sink's settings, asked of the plugin.

    Only a ``SinkPlugin`` declares settings; any other sink connector checks its config when
    it builds the sink. A key already reported (a credential, say) is not reported again.
    """
    from floe_core.sinks.errors import SinkConfigurationError
    from floe_core.sinks.plugin import SinkPlugin

    config = destination.get("config")
    if not isinstance(plugin, SinkPlugin) or not isinstance(config, Mapping | None):
        return
    sink_type = str(destination["sink_type"])
    where: tuple[str | int, ...] = ("destinations", index, "config")
    try:
        _check_nesting(spec, index, destination, plugin.sink_class(sink_type))
        config = _with_key_setting(spec, index, destination, plugin, config or {})
        problems = plugin.validate_settings(sink_type, config)
        _check_sync_mode(spec, index, destination, plugin, config)
    except SinkConfigurationError as exc:
        spec.problem(("destinations", index, "sink_type"), exc.message, exc.hint)
        return
    except Exception as exc:  # a plugin's bug must not stop validation with a traceback
        spec.problem(
            ("destinations", index, "sink_type"),
            f"the plugin failed checking the {sink_type} settings ({type(exc).__name__})",
            "report a bug to the plugin's maintainers; `floe egress run` may still work",
        )
        return
    reported = [p.path for p in spec.problems]
    for problem in problems:
        path = (*where, *problem.path)
        text = format_path(path)
        if not any(_overlaps(text, other) for other in reported):
            spec.problem(path, problem.message, problem.suggestion)


def _with_key_setting(
    spec: _Document,
    index: int,
    destination: Mapping[str, Any],
    plugin: SinkPlugin,
    config: Mapping[str, Any],
) -> dict[str, Any]:
    """``config`` with the settings the destination's ``primary_key`` gives the sink.

    The sink's key setting is derived from it: one written in ``config:`` is kept when it
    names the same (mapped) columns and reported when it does not. Settings the sink takes
    from the key when ``config:`` leaves them out are added (``settings_from_key``).
    """
    from floe_core.plugins.sink import key_field_names
    from floe_core.sinks.errors import SinkConfigurationError
    from floe_core.sync.modes import derive_key_setting

    sink_type = str(destination["sink_type"])
    setting = plugin.key_setting(sink_type)
    primary_key = destination.get("primary_key")
    mapping = destination.get("field_mapping")
    mapping = mapping if isinstance(mapping, Mapping) else None
    if not isinstance(primary_key, list) or not all(
        isinstance(column, str) for column in primary_key
    ):
        return dict(config)
    try:
        config = {
            **plugin.settings_from_key(sink_type, config, key_field_names(primary_key, mapping)),
            **config,
        }
    except SinkConfigurationError as exc:
        # Reported on config: as a whole, so the setting's own "missing" is not said twice.
        spec.problem(("destinations", index, "config"), exc.message, exc.hint)
    if setting is None:
        return dict(config)
    derived, problem = derive_key_setting(primary_key, mapping, config.get(setting))
    if problem is not None:
        spec.problem(
            ("destinations", index, "config", setting),
            f"config.{setting} {problem}",
            f"remove config.{setting}: floe derives it from primary_key",
        )
    return {**config, setting: derived}


def _check_sync_mode(
    spec: _Document,
    index: int,
    destination: Mapping[str, Any],
    plugin: SinkPlugin,
    config: Mapping[str, Any],
) -> None:
    """Refuse a ``sync_mode`` whose operations the sink, with these settings, cannot do."""
    from floe_core.sync.modes import SYNC_MODES, mode_operations

    mode = destination.get("sync_mode") or ("upsert" if destination.get("primary_key") else "full")
    if mode not in SYNC_MODES or mode == "full":
        return
    supported = plugin.operations_for(str(destination["sink_type"]), config)
    outcome = mode_operations(str(mode), supported)
    if isinstance(outcome, str):
        spec.problem(
            ("destinations", index, "sync_mode" if "sync_mode" in destination else "primary_key"),
            outcome,
            "choose a sync_mode these operations allow, or change the destination's settings "
            "(its sink's documentation says which settings allow which operations)",
        )


def _check_nesting(
    spec: _Document, index: int, destination: Mapping[str, Any], sink_class: type[Sink]
) -> None:
    """A dotted field (``properties.ltv``) for a sink type that writes flat rows only."""
    if sink_class.capabilities.nested_fields:
        return
    for section in ("field_mapping", "static_fields"):
        fields = destination.get(section)
        if not isinstance(fields, Mapping):
            continue
        for key, value in fields.items():
            name = value if section == "field_mapping" else key
            try:
                nested = isinstance(name, str) and len(split_field_path(name)) > 1
            except ValueError:
                continue  # the schema reports it
            if nested:
                spec.problem(
                    ("destinations", index, section, str(key)),
                    f"{name!r} is a nested field, but sink type "
                    f"{destination['sink_type']!r} writes flat rows",
                    "escape the dots to name a flat column (`a\\.b` is the column 'a.b'), or "
                    "use a sink type that takes nested records",
                )


def _overlaps(path: str, other: str) -> bool:
    """True when one path is the other or lies below it (``a.b`` and ``a.b.c``)."""
    short, long = sorted((path, other), key=len)
    return long == short or long.startswith((f"{short}.", f"{short}["))


def _close_sink_type(sink_type: str, registry: PluginRegistry) -> str | None:
    """The installed sink type ``sink_type`` is probably a misspelling of, if any."""
    import difflib

    close = difflib.get_close_matches(sink_type, list(registry.sink_types()), n=1)
    return close[0] if close else None


def _no_provider(sink_type: str, registry: PluginRegistry) -> tuple[str, str]:
    available = ", ".join(registry.sink_types()) or "none"
    message = f"no installed plugin provides sink type {sink_type!r} (available: {available})"
    close = _close_sink_type(sink_type, registry)
    hint = (
        f"did you mean {close!r}?"
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


def _check_plugin_selection(manifest: _Document, registry: PluginRegistry) -> None:
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
    manifest: _Document,
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


def _check_catalog_needed(spec: _Document, manifest: _Document) -> None:
    model = manifest.model
    if not isinstance(model, PlatformManifest) or model.catalog is not None:
        return
    for index, destination in enumerate(_raw_destinations(spec)):
        if isinstance(destination, Mapping) and destination.get("source_table"):
            spec.problem(
                ("destinations", index, "source_table"),
                f"reads an Iceberg table, but {manifest.label} declares no catalog",
                "add a catalog: section to manifest.yaml (see examples/quickstart/manifest.yaml)",
            )


def _plan(
    spec: FloeSpec,
    manifest: PlatformManifest,
    spec_path: Path,
    manifest_path: Path,
    bindings: dict[str, str],
    registry: PluginRegistry,
) -> EgressPlan:
    from floe_core.plugins.sink import key_field_names
    from floe_core.sinks.plugin import SinkPlugin

    project_dir = spec_path.parent.absolute()
    destinations = []
    for destination in spec.destinations or ():
        plugin = registry.get(bindings[destination.name])
        key_setting = None
        key_settings: dict[str, Any] = {}
        if isinstance(plugin, SinkPlugin):
            key_setting = plugin.key_setting(destination.sink_type)
            if destination.primary_key:
                key_settings = plugin.settings_from_key(
                    destination.sink_type,
                    destination.config or {},
                    key_field_names(destination.primary_key, destination.field_mapping),
                )
        destinations.append(
            CompiledDestination.from_config(
                destination,
                bindings[destination.name],
                key_setting=key_setting,
                key_settings=key_settings,
            )
        )
    catalog = manifest.catalog
    secrets_dir = manifest.secrets.dir
    state_url = manifest.state.url
    return EgressPlan(
        project_dir=project_dir,
        spec=spec,
        manifest=manifest,
        destinations=destinations,
        spec_path=spec_path,
        manifest_path=manifest_path,
        catalog=resolve_catalog(catalog, project_dir) if catalog is not None else None,
        catalog_secret_ref=catalog.credential_secret_ref if catalog is not None else None,
        secrets_dir=project_dir / secrets_dir if secrets_dir is not None else None,
        state_url=_resolve_sqlite_url(state_url, project_dir) if state_url else None,
    )


def _ordered(problems: list[Problem], files: list[str]) -> list[Problem]:
    unique = list(dict.fromkeys(problems))
    rank = {name: index for index, name in enumerate(files)}
    return sorted(
        unique,
        key=lambda p: (rank.get(p.file, len(files)), p.line if p.line else math.inf, p.path),
    )
