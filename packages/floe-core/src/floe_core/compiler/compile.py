"""Compile a project: read ``floe.yaml`` and ``manifest.yaml``, check everything, build a plan.

Every problem is collected, not just the first: syntax, schema, credentials, governance
(``approved_sinks``), plugin availability and each destination's ``config:``, checked against
its sink's settings model by the plugin that provides it (a ``SinkPlugin``; see
``floe_core.sinks.settings``). A plan is returned only when there are none.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from floe_core.compiler import manifest_sections
from floe_core.compiler.document import Document, raw_destinations
from floe_core.compiler.plan import CompiledDestination, EgressPlan, resolve_catalog
from floe_core.compiler.plan import resolve_sqlite_url as _resolve_sqlite_url
from floe_core.compiler.plugins import check_destinations, check_plugin_selection
from floe_core.compiler.problems import (
    InvalidProjectError,
    Problem,
    format_path,
    problems_from_validation_error,
)
from floe_core.registry import PluginRegistry
from floe_core.schemas.floe_spec import FloeSpec
from floe_core.schemas.manifest import PlatformManifest
from floe_core.yamlio import ConfigFileError, load_yaml

__all__ = ["CompileResult", "compile_project"]


@dataclass(frozen=True)
class CompileResult:
    """Outcome of :func:`compile_project`.

    Attributes:
        plan: The compiled plan; ``None`` when there are problems.
        problems: Everything wrong, ordered by file and line.
        warnings: What a run on this machine would stop on although the files are right: a
            Secret no local source holds (in a cluster it may come from the Kubernetes API),
            or one that lacks a key its sink needs. Reported with the problems, too; only
            worked out when asked for (``compile_project(..., secret_warnings=True)``).
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


def compile_project(
    spec_path: str | os.PathLike[str] = "floe.yaml",
    manifest_path: str | os.PathLike[str] | None = None,
    *,
    registry: PluginRegistry | None = None,
    secret_warnings: bool = False,
) -> CompileResult:
    """Read, validate and compile a data product for egress.

    Args:
        spec_path: The product's ``floe.yaml``.
        manifest_path: The governing ``manifest.yaml``. Default: ``platform.manifest`` of
            ``floe.yaml`` when set, else ``manifest.yaml`` beside ``floe.yaml``.
        registry: Installed plugins; discovered from entry points when omitted.
        secret_warnings: Also look at the Secrets on this machine (``floe validate``): a run
            reads them itself, with its own errors, so it need not look twice.

    Returns:
        The plan, or every problem found.
    """
    spec_file = Path(spec_path)
    if not spec_file.parent.is_dir():
        manifest_file = Path(manifest_path or spec_file.parent / "manifest.yaml")
        return CompileResult(None, [_no_directory(spec_file.parent)], spec_file, manifest_file)
    spec = Document(str(spec_file), spec_file)
    _load(spec)
    manifest_file = _manifest_path(spec, manifest_path)
    manifest = Document(str(manifest_file), manifest_file)
    _load(manifest)
    _validate(spec, FloeSpec)
    _validate(manifest, PlatformManifest)
    if registry is None:
        registry = PluginRegistry.discover()

    bindings = check_destinations(spec, manifest, registry)
    check_plugin_selection(manifest, registry)
    _check_source_tables(spec)
    _check_fields_agree(spec)
    _check_catalog_needed(spec, manifest)

    files = [spec.label, manifest.label]
    problems = _ordered([*spec.problems, *manifest.problems], files)
    warnings = []
    if secret_warnings:
        from floe_core.compiler.secrets_check import check_secrets

        warnings = _ordered(check_secrets(spec, manifest, bindings, registry), files)
    if problems:
        return CompileResult(None, problems, spec_file, manifest_file, warnings)
    assert isinstance(spec.model, FloeSpec) and isinstance(manifest.model, PlatformManifest)
    plan = _plan(spec.model, manifest.model, spec_file, manifest_file, bindings, registry)
    return CompileResult(plan, [], spec_file, manifest_file, warnings)


def _no_directory(directory: Path) -> Problem:
    """The one problem of a project whose directory is not there (its files cannot be either)."""
    return Problem(
        str(directory),
        "",
        f"directory {directory} does not exist",
        "check the path (a relative one is from the current directory), or create a project "
        f"there with `floe init {directory}`",
    )


def _load(document: Document) -> None:
    try:
        document.loaded = load_yaml(document.path)
    except ConfigFileError as exc:
        line = exc.location.line if exc.location else None
        column = exc.location.column if exc.location else None
        document.problems.append(
            Problem(document.label, "", exc.message, exc.hint, line=line, column=column)
        )
        return
    for path, where in document.loaded.duplicate_keys:
        lines = [str(location.line) for location in where]
        times = "twice" if len(where) == 2 else f"{len(where)} times"
        document.problems.append(
            Problem(
                document.label,
                format_path(path),
                f"key `{path[-1]}` is given {times} (lines {', '.join(lines[:-1])} and "
                f"{lines[-1]})",
                f"keep one of them; YAML silently uses the last (line {lines[-1]})",
                line=where[-1].line,
                column=where[-1].column,
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


def _validate(document: Document, model: type[BaseModel]) -> None:
    loaded = document.loaded
    if loaded is None or not isinstance(loaded.data, Mapping):
        return
    try:
        document.model = model.model_validate(loaded.data)
    except ValidationError as exc:
        document.problems.extend(problems_from_validation_error(exc, loaded, document.label, model))


def _manifest_path(spec: Document, given: str | os.PathLike[str] | None) -> Path:
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


def _check_source_tables(spec: Document) -> None:
    """Every destination names the Iceberg table it sends.

    The schema keeps ``source_table`` optional, as its published contract (and JSON Schema)
    says, but every way a project runs needs it: ``floe egress run``, ``floe check`` and the
    Dagster assets all open the table first, so a project without one is not valid.
    """
    for index, destination in enumerate(raw_destinations(spec)):
        if isinstance(destination, Mapping) and destination.get("source_table") is None:
            spec.problem(
                ("destinations", index, "source_table"),
                "required key `source_table` is missing: the Iceberg table this destination sends",
                f"add `source_table: namespace.table` (e.g. gold.customers) under "
                f"`destinations[{index}]`",
            )


def _check_fields_agree(spec: Document) -> None:
    """The checks between a destination's fields, for a destination with a wrong field.

    pydantic runs a model's own cross-field checks only when every field is valid, so a
    wrong ``config`` must not hide that ``columns`` and ``exclude_columns`` are both set:
    they are run here on the fields as written.
    """
    from floe_core.schemas.floe_spec import DestinationConfig, destination_disagreements

    for index, destination in enumerate(raw_destinations(spec)):
        if not isinstance(destination, Mapping):
            continue
        try:
            DestinationConfig.model_validate(destination)
        except ValidationError as exc:
            if all(not error["loc"] for error in exc.errors()):
                continue  # only the model's own checks failed: reported with the schema's
            for problem in destination_disagreements(destination):
                spec.problem(("destinations", index, *problem.path), problem.message, problem.hint)


def _check_catalog_needed(spec: Document, manifest: Document) -> None:
    if manifest_sections.declares_catalog(manifest) is not False:
        return
    for index, destination in enumerate(raw_destinations(spec)):
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
        key=lambda p: (
            rank.get(p.file, len(files)),
            p.line if p.line else math.inf,
            p.column if p.column else math.inf,
            p.path,
        ),
    )
