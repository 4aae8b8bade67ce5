"""Iceberg catalogs, configured the pyiceberg way, from the manifest's ``catalog`` section.

Two kinds are supported:

* ``type: sql`` -- an embedded SQL catalog. ``uri`` is a SQLite file path (or ``sqlite:///``
  URL) or any SQLAlchemy URL such as ``postgresql+psycopg://user@host/db``; ``warehouse`` is
  where table files live (a local path becomes a ``file://`` URL).
* ``type: rest`` -- a REST catalog such as Apache Polaris. ``uri`` is the catalog endpoint,
  ``warehouse`` the catalog (warehouse) name, and OAuth2 client credentials come from a secret
  as ``client_id`` + ``client_secret`` (sent to pyiceberg as ``credential``), with optional
  ``scope`` and ``oauth2_server_uri`` (default: the REST spec's ``<uri>/v1/oauth/tokens``).

``properties`` passes further pyiceberg catalog properties through unchanged (``s3.endpoint``,
``header.X-Iceberg-Access-Delegation``, ...). Nothing in this module imports pyiceberg until a
catalog is actually opened, and no message it produces contains the client secret or a
password embedded in a URL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe_core.errors import SourceError
from floe_core.iceberg.errors import catalog_call, catalog_errors
from floe_core.secrets.redact import credential_values, redact

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

__all__ = [
    "CATALOG_KEYS",
    "DEFAULT_CATALOG_NAME",
    "catalog_call",
    "catalog_errors",
    "catalog_name",
    "catalog_properties",
    "catalog_secrets",
    "describe_catalog",
    "open_catalog",
]

DEFAULT_CATALOG_NAME = "default"

#: Keys a catalog config may hold. ``credential_secret_ref`` is resolved by the caller into
#: ``client_id`` / ``client_secret`` before the config reaches this module.
CATALOG_KEYS = frozenset(
    {
        "type",
        "name",
        "uri",
        "warehouse",
        "client_id",
        "client_secret",
        "oauth2_server_uri",
        "scope",
        "properties",
        "credential_secret_ref",
    }
)
_CATALOG_TYPES = ("sql", "rest")
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_INSTALL_HINT = "install floe with Iceberg support: pip install 'floe-core[iceberg]'"


def catalog_name(catalog_config: Mapping[str, Any]) -> str:
    """The catalog's name (``name`` key, default ``"default"``).

    For a SQL catalog the name is part of every row pyiceberg stores, so two names in one
    database are two separate catalogs.
    """
    name = catalog_config.get("name") or DEFAULT_CATALOG_NAME
    if not isinstance(name, str) or not name.strip():
        raise SourceError(
            f"catalog name {name!r} is not a non-empty string",
            hint="set catalog.name in manifest.yaml to a short name such as 'floe'",
        )
    return name


def catalog_properties(catalog_config: Mapping[str, Any]) -> dict[str, str]:
    """Translate floe's catalog config into keyword arguments for pyiceberg's ``load_catalog``.

    Args:
        catalog_config: ``type`` (``"sql"`` or ``"rest"``), ``name``, ``uri``, ``warehouse``,
            ``client_id``, ``client_secret``, ``oauth2_server_uri``, ``scope`` and ``properties``
            (passed through). Secrets must already be resolved to plain strings.

    Returns:
        Properties such that ``load_catalog(catalog_name(cfg), **props)`` opens the catalog.
        For a REST catalog with client credentials the result holds the secret (as
        ``credential``), so treat it as secret material.

    Raises:
        SourceError: A key is unknown, required keys are missing, or values conflict.
    """
    unknown = sorted(set(catalog_config) - CATALOG_KEYS)
    if unknown:
        raise SourceError(
            f"unknown catalog setting(s): {', '.join(unknown)}",
            hint=f"the catalog section accepts: {', '.join(sorted(CATALOG_KEYS))}",
        )
    kind = catalog_config.get("type")
    if kind not in _CATALOG_TYPES:
        raise SourceError(
            f"catalog type {kind!r} is not supported",
            hint="set catalog.type to 'sql' (embedded SQLite/PostgreSQL) or 'rest' (Polaris)",
        )
    uri = catalog_config.get("uri")
    if not isinstance(uri, str) or not uri.strip():
        raise SourceError(
            f"the {kind} catalog has no uri",
            hint="set catalog.uri: a SQLite path or database URL for 'sql', "
            "the catalog endpoint for 'rest'",
        )
    props = (
        _sql_properties(uri, catalog_config)
        if kind == "sql"
        else _rest_properties(uri, catalog_config)
    )
    return _merge_passthrough(props, catalog_config.get("properties"))


def _sql_properties(uri: str, config: Mapping[str, Any]) -> dict[str, str]:
    if config.get("client_id") or config.get("client_secret"):
        raise SourceError(
            "client_id/client_secret are only used by a 'rest' catalog",
            hint="put database credentials into the SQL catalog uri, or set catalog.type: rest",
        )
    uri = uri.strip()
    if uri.startswith("postgres://"):
        uri = "postgresql://" + uri[len("postgres://") :]
    elif not _URL_SCHEME.match(uri):
        uri = "sqlite:///" + str(Path(uri).expanduser().resolve())
    props = {"type": "sql", "uri": uri}
    warehouse = config.get("warehouse")
    if warehouse:
        props["warehouse"] = _warehouse_url(str(warehouse))
    return props


def _rest_properties(uri: str, config: Mapping[str, Any]) -> dict[str, str]:
    uri = uri.strip()
    if not uri.startswith(("http://", "https://")):
        raise SourceError(
            f"REST catalog uri {redact(uri)!r} is not an http(s) URL",
            hint="set catalog.uri to the catalog endpoint, e.g. http://polaris:8181/api/catalog",
        )
    props = {"type": "rest", "uri": uri}
    if config.get("warehouse"):
        props["warehouse"] = str(config["warehouse"])
    client_id, client_secret = config.get("client_id"), config.get("client_secret")
    if client_id and client_secret:
        props["credential"] = f"{client_id}:{client_secret}"
    elif client_id or client_secret:
        missing = "client_secret" if client_id else "client_id"
        raise SourceError(
            f"the REST catalog credentials lack {missing}",
            hint="the catalog secret needs both client_id and client_secret keys",
        )
    elif config.get("credential_secret_ref"):
        raise SourceError(
            f"catalog secret {config['credential_secret_ref']!r} was not resolved into "
            "client_id/client_secret",
            hint="resolve credential_secret_ref before opening the catalog",
        )
    if config.get("oauth2_server_uri"):
        props["oauth2-server-uri"] = str(config["oauth2_server_uri"])
    elif "credential" in props:
        # The Iceberg REST spec's token endpoint, which Polaris serves; pyiceberg's own
        # fallback is deprecated and drops the slash between uri and path.
        props["oauth2-server-uri"] = uri.rstrip("/") + "/v1/oauth/tokens"
    if config.get("scope"):
        props["scope"] = str(config["scope"])
    return props


def _warehouse_url(warehouse: str) -> str:
    if _URL_SCHEME.match(warehouse):
        return warehouse
    return Path(warehouse).expanduser().resolve().as_uri()


def _merge_passthrough(props: dict[str, str], extra: object) -> dict[str, str]:
    if extra is None:
        return props
    if not isinstance(extra, Mapping):
        raise SourceError(
            "catalog.properties must be a mapping of pyiceberg property names to values",
            hint="e.g. properties: {s3.endpoint: 'http://minio:9000'}",
        )
    clashes = sorted(str(key) for key in extra if key in props)
    if clashes:
        raise SourceError(
            f"catalog.properties sets {', '.join(clashes)}, which the catalog section already sets",
            hint="set these with the dedicated catalog keys (uri, warehouse, client_id, ...) only",
        )
    merged = dict(props)
    for key, value in extra.items():
        merged[str(key)] = str(value).lower() if isinstance(value, bool) else str(value)
    return merged


def describe_catalog(catalog_config: Mapping[str, Any]) -> str:
    """A short, secret-free description such as ``sql catalog 'floe' (sqlite:///.../c.db)``;
    a REST catalog's names its warehouse too: ``rest catalog 'polaris' (https://..., warehouse
    'gold')``."""
    uri = redact(str(catalog_config.get("uri") or "?"), catalog_secrets(catalog_config))
    kind = catalog_config.get("type", "?")
    warehouse = catalog_config.get("warehouse")
    if kind == "rest":
        uri += f", warehouse '{warehouse}'" if warehouse else ", no warehouse"
    return f"{kind} catalog '{catalog_name(catalog_config)}' ({uri})"


def open_catalog(catalog_config: Mapping[str, Any], *, create: bool = False) -> Catalog:
    """Open the catalog described by ``catalog_config``.

    Args:
        catalog_config: See :func:`catalog_properties`.
        create: Allow creating an embedded SQLite catalog (and its folder) that does not exist
            yet. Readers leave this off so a wrong path is reported instead of silently
            creating an empty catalog.

    Raises:
        SourceError: pyiceberg is missing, the catalog is unreachable, refuses the credentials,
            does not know the warehouse, or (with ``create=False``) the SQLite catalog file
            does not exist. Transient failures (5xx, a reset connection) are retried first.
    """
    props = catalog_properties(catalog_config)
    name = catalog_name(catalog_config)
    where = describe_catalog(catalog_config)
    sqlite_path = _sqlite_path(props["uri"]) if props["type"] == "sql" else None
    if sqlite_path is not None:
        if create:
            sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        elif not sqlite_path.exists():
            raise SourceError(
                f"the {where} does not exist: no file at {sqlite_path}",
                hint=_missing_catalog_hint(name),
            )
    try:
        from pyiceberg.catalog import load_catalog
    except ImportError as exc:
        raise SourceError("reading Iceberg tables needs pyiceberg", hint=_INSTALL_HINT) from exc
    return catalog_call(
        lambda: load_catalog(name, **props),
        where,
        catalog_secrets(catalog_config),
        config=catalog_config,
    )


#: The catalog name of the quickstart's manifest (examples/quickstart/manifest.yaml), whose
#: catalog ``floe demo`` creates.
QUICKSTART_CATALOG_NAME = "quickstart"


def _missing_catalog_hint(name: str) -> str:
    """How to get the SQLite catalog that is not there: the demo makes the quickstart's; any
    other project points at its catalog, or creates one."""
    if name == QUICKSTART_CATALOG_NAME:
        return (
            "run `floe demo` to create the quickstart catalog, or check catalog.uri in "
            "manifest.yaml"
        )
    return (
        "point catalog.uri in manifest.yaml at the SQLite file of an existing catalog (a "
        "relative path is relative to the project directory; catalog.name is the name its "
        "tables were created under), or create the catalog first: writing a table with "
        "pyiceberg's SqlCatalog creates the file"
    )


def _sqlite_path(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///") or ":memory:" in uri:
        return None
    return Path(uri[len("sqlite:///") :].split("?", 1)[0])


def catalog_secrets(catalog_config: Mapping[str, Any]) -> list[str]:
    """The catalog's secret values (client secret, URL password), to redact from messages."""
    return credential_values(catalog_config)
