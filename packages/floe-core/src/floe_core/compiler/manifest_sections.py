"""The sections of ``manifest.yaml`` that the checks of ``floe.yaml`` against it read, each taken
on its own when the manifest as a whole is not valid.

A mistake in one section (a bad ``metadata.version``, say) must not hide what ``floe.yaml`` does
wrong against the others: a destination whose sink type ``approved_sinks`` does not list is
reported as well. A section that is itself wrong is :data:`UNKNOWN`: the checks that need it
wait for it to be fixed (its own problem is reported in the manifest).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from functools import cache
from typing import Any

from pydantic import BaseModel, ValidationError, create_model

from floe_core.compiler.document import Document
from floe_core.schemas.manifest import PlatformManifest, PluginsConfig

__all__ = [
    "UNKNOWN",
    "Unknown",
    "approved_sinks",
    "catalog_secret_ref",
    "catalog_type",
    "declares_catalog",
    "plugins",
    "secrets_dir",
]


class Unknown(enum.Enum):
    """A section that could not be read: the manifest is missing, or the section is wrong."""

    UNKNOWN = "unknown"


UNKNOWN = Unknown.UNKNOWN


def approved_sinks(manifest: Document) -> list[str] | Unknown | None:
    """``approved_sinks`` (``None``: every installed sink type is allowed)."""
    value = _section(manifest, "approved_sinks")
    return value if value is UNKNOWN or value is None else list(value)


def plugins(manifest: Document) -> PluginsConfig | Unknown:
    """``plugins``: the plugin chosen for each sink type, if any."""
    value = _section(manifest, "plugins")
    return value if isinstance(value, PluginsConfig) else UNKNOWN


def secrets_dir(manifest: Document) -> str | Unknown | None:
    """``secrets.dir``, as written (``None``: the default directories)."""
    value = _section(manifest, "secrets")
    return value if value is UNKNOWN else value.dir


def declares_catalog(manifest: Document) -> bool | Unknown:
    """Whether the manifest has a ``catalog:`` (valid or not: a wrong one is reported there)."""
    if isinstance(manifest.model, PlatformManifest):
        return manifest.model.catalog is not None
    data = _data(manifest)
    if data is None:
        return UNKNOWN
    return data.get("catalog") is not None


def catalog_secret_ref(manifest: Document) -> str | None:
    """``catalog.credential_secret_ref`` as written, when it is text (a wrong name is reported
    in the manifest; the Secret is looked for all the same)."""
    data = _data(manifest)
    catalog = data.get("catalog") if data is not None else None
    ref = catalog.get("credential_secret_ref") if isinstance(catalog, Mapping) else None
    return ref if isinstance(ref, str) else None


def catalog_type(manifest: Document) -> str | None:
    """``catalog.type`` as written, when it is text."""
    data = _data(manifest)
    catalog = data.get("catalog") if data is not None else None
    kind = catalog.get("type") if isinstance(catalog, Mapping) else None
    return kind if isinstance(kind, str) else None


def _section(manifest: Document, name: str) -> Any:
    """The validated value of the top-level field ``name``, its default when it is not written,
    or ``UNKNOWN``."""
    if isinstance(manifest.model, PlatformManifest):
        return getattr(manifest.model, name)
    data = _data(manifest)
    if data is None:
        return UNKNOWN
    field = PlatformManifest.model_fields[name]
    key = field.alias or name
    if key not in data:
        return field.get_default(call_default_factory=True)
    try:
        return getattr(_section_model(name).model_validate({key: data[key]}), name)
    except ValidationError:
        return UNKNOWN


def _data(manifest: Document) -> Mapping[str, Any] | None:
    data = manifest.loaded.data if manifest.loaded is not None else None
    return data if isinstance(data, Mapping) else None


@cache
def _section_model(name: str) -> type[BaseModel]:
    """A model of the one field ``name`` of the manifest, with its type and constraints."""
    field = PlatformManifest.model_fields[name]
    fields: dict[str, Any] = {name: (field.annotation, field)}
    return create_model(f"ManifestSection_{name}", __base__=BaseModel, **fields)
