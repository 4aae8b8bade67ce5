"""Check each destination's ``config:`` against its sink, asked of the plugin that provides it.

A ``SinkPlugin`` declares its sink's settings model, its key setting (derived from the
destination's ``primary_key``), the operations its settings allow and whether it takes nested
records; the checks here ask it, so core names no sink type.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from floe_core.compiler.document import Document
from floe_core.compiler.problems import format_path
from floe_core.plugins.sink import split_field_path

if TYPE_CHECKING:
    from floe_core.sinks.base import Sink
    from floe_core.sinks.plugin import SinkPlugin

__all__ = ["check_settings"]


def check_settings(
    spec: Document, index: int, destination: Mapping[str, Any], plugin: object
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
        wrong = {problem.path[0] for problem in problems if problem.path}
        _check_sync_mode(spec, index, destination, plugin, config, wrong)
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
    # The key setting comes from primary_key: a wrong primary_key is reported as such.
    key_setting = plugin.key_setting(sink_type)
    key_is_wrong = destination.get("primary_key") is not None and not _key_columns(destination)
    for problem in problems:
        if key_is_wrong and key_setting is not None and problem.path[:1] == (key_setting,):
            continue
        path = (*where, *problem.path)
        text = format_path(path)
        if not any(_overlaps(text, other) for other in reported):
            spec.problem(path, problem.message, problem.suggestion)


def _with_key_setting(
    spec: Document,
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
    primary_key = _key_columns(destination)
    mapping = destination.get("field_mapping")
    mapping = mapping if isinstance(mapping, Mapping) else None
    if primary_key is None:
        if setting is not None and destination.get("primary_key") is None:
            _check_declared_key(spec, index, destination, setting, config.get(setting))
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


def _key_columns(destination: Mapping[str, Any]) -> list[str] | None:
    """The destination's ``primary_key`` when it is a usable one: a non-empty list of names."""
    primary_key = destination.get("primary_key")
    if (
        isinstance(primary_key, list)
        and primary_key
        and all(isinstance(c, str) for c in primary_key)
    ):
        return primary_key
    return None


def _check_declared_key(
    spec: Document, index: int, destination: Mapping[str, Any], setting: str, given: object
) -> None:
    """The sink's key setting written in ``config:`` (no ``primary_key``) names destination
    fields: each must come from a source column that is sent.

    ``columns`` / ``exclude_columns`` must keep those columns, as they must keep the
    ``primary_key``'s, and a column that ``field_mapping`` renames is no longer there under
    its own name.
    """
    from floe_core.plugins.sink import split_field_path
    from floe_core.schemas.floe_spec import columns_left_out

    written = [given] if isinstance(given, str) else given if isinstance(given, list) else []
    if not written or not all(isinstance(name, str) for name in written):
        return
    mapping = destination.get("field_mapping")
    mapping = mapping if isinstance(mapping, Mapping) else {}
    sources = {str(target): str(source) for source, target in mapping.items()}
    where = ("destinations", index, "config", setting)
    needed: dict[str, str] = {}
    for name in written:
        if name in sources:
            needed[sources[name]] = f"config.{setting}"
        elif name in mapping:
            spec.problem(
                where,
                f"config.{setting} names {name!r}, which field_mapping renames to "
                f"{mapping[name]!r}",
                f"name the destination field ({mapping[name]!r}) in config.{setting}, or set "
                "`primary_key:` (source columns) on the destination instead",
            )
        else:
            try:
                parts = split_field_path(name)
            except ValueError:
                continue  # the sink's settings check reports it
            if len(parts) == 1:
                needed[parts[0]] = f"config.{setting}"
    columns = _names(destination.get("columns"))
    excluded = _names(destination.get("exclude_columns"))
    problem = columns_left_out(columns, excluded if columns is None else None, needed)
    if problem is not None:
        spec.problem(("destinations", index, *problem.path), problem.message, problem.hint)


def _names(value: object) -> list[str] | None:
    """``value`` when it is a list of names (``columns:``), else ``None``."""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    return None


def _check_sync_mode(
    spec: Document,
    index: int,
    destination: Mapping[str, Any],
    plugin: SinkPlugin,
    config: Mapping[str, Any],
    wrong: Collection[str | int],
) -> None:
    """Refuse a ``sync_mode`` whose operations the sink, with these settings, cannot do; the
    fix names the settings that would let it (found by asking the plugin, for each value of
    each setting with a closed choice of values) and the sync modes these settings allow.

    ``wrong``: settings already reported; the check waits for them when one of them, fixed,
    could be what makes the sync mode possible (``mode: upsrt`` for ``mode: upsert``).
    """
    from floe_core.sync.modes import SYNC_MODES, lacking_operations, needs_operations

    written = destination.get("sync_mode")
    mode = written or ("upsert" if _key_columns(destination) else "full")
    if mode not in SYNC_MODES or mode == "full":
        return
    sink_type = str(destination["sink_type"])
    supported = plugin.operations_for(sink_type, config)
    lacking = lacking_operations(str(mode), supported)
    if lacking is None:
        return
    fixes = _settings_allowing(plugin, sink_type, config, str(mode))
    if any(key in wrong for key, _ in fixes):
        return
    if written:
        where = "sync_mode"
        message = f"sync_mode {mode!r} {needs_operations(lacking, supported)}"
    else:
        where = "primary_key"
        message = (
            "a primary_key makes the destination sync in upsert mode by default (each run "
            f"sends only new and changed rows), which {needs_operations(lacking, supported)}"
        )
    modes = [
        other
        for other in SYNC_MODES
        if other not in ("full", mode) and lacking_operations(other, supported) is None
    ]
    choices = [f"`config.{key}: {value}`" for key, value in fixes]
    choices += [f"`sync_mode: {other}` ({_MODE_SENDS[other]})" for other in modes]
    hint = (
        "set " + ", or ".join(choices)
        if choices
        else f"change the destination's config: so that its {sink_type} sink can "
        f"{' or '.join(op.value for op in lacking)} rows, or use sync_mode: full"
    )
    spec.problem(("destinations", index, where), message, hint)


#: What each sync mode sends, for a hint offering it.
_MODE_SENDS = {
    "insert": "sends only the rows of keys never synced",
    "update": "sends only the changed rows of keys synced before",
    "upsert": "sends new and changed rows",
    "mirror": "sends new and changed rows, and deletes the keys gone from the source",
}


def _settings_allowing(
    plugin: SinkPlugin, sink_type: str, config: Mapping[str, Any], mode: str
) -> list[tuple[str, object]]:
    """The settings (key, value) of the sink's closed choices that let it do what ``mode``
    needs, each changed alone in ``config``."""
    from floe_core.sinks.settings import closed_choices
    from floe_core.sync.modes import lacking_operations

    model = plugin.settings_model(sink_type)
    if model is None:
        return []
    found: list[tuple[str, object]] = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        for value in closed_choices(field.annotation):
            if value == config.get(key):
                continue
            supported = plugin.operations_for(sink_type, {**config, key: value})
            if lacking_operations(mode, supported) is None:
                found.append((key, value))
    return found


def _check_nesting(
    spec: Document, index: int, destination: Mapping[str, Any], sink_class: type[Sink]
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
