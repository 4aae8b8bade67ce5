"""Catalog failures, mapped once into ``SourceError``, and retried when they are transient.

Third-party errors raised while talking to a catalog (pyiceberg's REST errors, ``requests``
connection errors, SQLAlchemy errors, a missing driver) become one ``SourceError`` each, whose
message names the catalog (its URI without secrets, and for a REST catalog the warehouse) and
whose hint says what to fix. Which errors are retried is decided by their type:

* transient, retried with exponential backoff (:data:`CATALOG_RETRY`): HTTP 5xx and 429
  (``ServerError``, ``ServiceUnavailableError``, ``TooManyRequestsError``), a refused, reset or
  timed-out connection;
* permanent, raised at once: refused credentials (401, OAuth errors), missing privileges (403),
  unknown warehouse, namespace or table (404), bad requests and configuration, and a host
  name that does not resolve (unless the resolver says to try again, ``EAI_AGAIN``).

pyiceberg itself refreshes an expired OAuth2 token and repeats the request once on a 401;
a 401 that reaches this module survived that refresh. A commit is never retried here (its
outcome is unknown after a 5xx), only reads.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from floe_core.errors import SourceError
from floe_core.schemas.floe_spec import RetryConfig
from floe_core.secrets.redact import redact

__all__ = [
    "CATALOG_RETRY",
    "catalog_call",
    "catalog_errors",
    "is_transient",
    "map_catalog_error",
]

T = TypeVar("T")

#: Retries of a transient catalog failure: three attempts, waits from half a second, doubling.
CATALOG_RETRY = RetryConfig(
    max_attempts=3, initial_backoff_seconds=0.5, max_backoff_seconds=4.0, jitter=True
)
_INSTALL_HINT = "install floe with Iceberg support: pip install 'floe-core[iceberg]'"
_log = logging.getLogger("floe.iceberg")


def is_transient(exc: BaseException) -> bool:
    """True for a catalog error worth retrying: HTTP 5xx or 429, or a failed connection."""
    from pyiceberg import exceptions as ice
    from requests import exceptions as http

    if isinstance(exc, ice.CommitStateUnknownException | http.SSLError):
        return False
    lookup = _failed_lookup(exc)
    if lookup is not None:
        return lookup.errno == socket.EAI_AGAIN
    return isinstance(
        exc,
        ice.ServerError
        | ice.ServiceUnavailableError
        | ice.TooManyRequestsError
        | http.ConnectionError
        | http.Timeout
        | ConnectionError,
    )


def catalog_call(
    call: Callable[[], T],
    where: str,
    secrets: Iterable[str] = (),
    *,
    config: Mapping[str, Any] | None = None,
    retry: RetryConfig = CATALOG_RETRY,
) -> T:
    """``call()``, retried while it fails transiently, its errors mapped to ``SourceError``.

    Args:
        call: One request to the catalog (opening it, loading a table, ...).
        where: The catalog, as ``describe_catalog`` names it; goes into messages.
        secrets: Values to blank out of any text taken from an underlying error.
        config: The catalog section, for hints naming its Secret, warehouse and scope.
        retry: Attempts and backoff for transient failures.

    Raises:
        SourceError: The last error, mapped (see :func:`map_catalog_error`).
        Exception: An error this module does not map (e.g. ``NoSuchTableError``), unchanged.
    """
    from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

    from floe_core.sinks.retry import RetryPolicy

    secrets = list(secrets)
    policy = RetryPolicy.model_validate(retry.model_dump())

    def wait(state: RetryCallState) -> float:
        return policy.backoff(state.attempt_number)

    def log_retry(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        _log.warning(
            "catalog request failed (%s), retry %d of %d in %.1fs: %s",
            where,
            state.attempt_number,
            retry.max_attempts - 1,
            state.upcoming_sleep,
            _detail(error, secrets) if error is not None else "?",
        )

    retrying = Retrying(
        stop=stop_after_attempt(retry.max_attempts),
        wait=wait,
        retry=retry_if_exception(is_transient),
        before_sleep=log_retry,
        reraise=True,
    )
    try:
        return retrying(call)
    except Exception as exc:
        attempts = int(retrying.statistics.get("attempt_number", 1))
        mapped = map_catalog_error(exc, where, secrets, config=config, attempts=attempts)
        if mapped is None:
            raise
        raise mapped from _safe_cause(exc, secrets)


@contextmanager
def catalog_errors(
    where: str, secrets: Iterable[str] = (), *, config: Mapping[str, Any] | None = None
) -> Iterator[None]:
    """Turn catalog errors raised inside the block into ``SourceError`` (no retry).

    Args:
        where: What was being talked to, e.g. ``describe_catalog(cfg)``; goes into the message.
        secrets: Values to blank out of any text taken from the underlying error.
        config: The catalog section, for hints naming its Secret, warehouse and scope.
    """
    secrets = list(secrets)
    try:
        yield
    except Exception as exc:
        mapped = map_catalog_error(exc, where, secrets, config=config)
        if mapped is None:
            raise
        raise mapped from _safe_cause(exc, secrets)


def map_catalog_error(
    exc: BaseException,
    where: str,
    secrets: Iterable[str] = (),
    *,
    config: Mapping[str, Any] | None = None,
    attempts: int = 1,
) -> SourceError | None:
    """The ``SourceError`` for a catalog failure, or ``None`` for an error left to the caller.

    Args:
        exc: What the catalog client raised.
        where: The catalog, as ``describe_catalog`` names it.
        secrets: Values to blank out of text taken from ``exc``.
        config: The catalog section (for hints).
        attempts: How many times the request was made.
    """
    from pyiceberg import exceptions as ice

    config = config or {}
    secrets = list(secrets)
    detail = _detail(exc, secrets)
    tried = f" (tried {attempts} times)" if attempts > 1 else ""
    secret_ref = config.get("credential_secret_ref")
    in_secret = f"in the Secret '{secret_ref}'" if secret_ref else "in the catalog Secret"
    status, path = _http_status_and_path(exc)
    if isinstance(exc, ImportError):
        return SourceError(
            f"the {where} needs a module that is not installed: {exc.name or exc}",
            hint="install the catalog's database driver (for PostgreSQL: psycopg2-binary, or "
            f"use a postgresql+psycopg:// uri); {_INSTALL_HINT}",
        )
    if isinstance(exc, ice.OAuthError | ice.UnauthorizedError | ice.AuthorizationExpiredError):
        return SourceError(
            f"the {where} refused the credentials: {detail}",
            hint=f"check client_id and client_secret {in_secret} (catalog.credential_secret_ref "
            "in manifest.yaml) and that the principal's credentials were not rotated",
        )
    if isinstance(exc, ice.ForbiddenError):
        scope = config.get("scope") or "PRINCIPAL_ROLE:ALL"
        return SourceError(
            f"the {where} denied access: {detail}",
            hint="grant the principal a catalog role that may list namespaces and read the "
            f"table (Polaris: TABLE_READ_DATA, NAMESPACE_LIST) through a principal role "
            f"its scope ({scope}) requests",
        )
    if isinstance(exc, ice.RESTError) and path.endswith("/v1/config") and status in {400, 404}:
        warehouse = config.get("warehouse")
        if warehouse:
            return SourceError(
                f"the {where} has no warehouse '{warehouse}': {detail}",
                hint="set catalog.warehouse in manifest.yaml to a warehouse the catalog "
                "serves (in Polaris: the name of a catalog, see `polaris catalogs list`)",
            )
        return SourceError(
            f"the {where} needs a warehouse: {detail}",
            hint="set catalog.warehouse in manifest.yaml (in Polaris: the catalog name)",
        )
    if is_transient(exc) and isinstance(exc, ice.RESTError):
        code = f"HTTP {status}" if status else "an error"
        return SourceError(
            f"the {where} answered with {code}{tried}: {detail}",
            hint="the catalog service is failing or overloaded: check its health and logs, "
            "then run again",
        )
    if isinstance(exc, ice.RESTError):
        return SourceError(
            f"the {where} answered with an error: {detail}",
            hint="check catalog.uri and catalog.warehouse in manifest.yaml, and that the "
            "catalog service is healthy",
        )
    lookup = _failed_lookup(exc)
    if lookup is not None:
        host = _unresolved_host(exc, config)
        return SourceError(
            f"the host name {host!r} of the {where} does not resolve{tried}: "
            f"{lookup.strerror or lookup}",
            hint="check the host name in catalog.uri in manifest.yaml (misspelt, or not known "
            "to this machine's DNS: a name inside a cluster or a VPN resolves only there)",
        )
    if isinstance(exc, OSError):
        return SourceError(
            f"cannot reach the {where}{tried}: {detail}",
            hint="check that the catalog is running and reachable from here, and that "
            "catalog.uri in manifest.yaml is right",
        )
    if isinstance(exc, ice.NoSuchPropertyException | ice.NotInstalledError):
        return SourceError(
            f"the {where} is misconfigured: {detail}",
            hint="check the catalog section of manifest.yaml",
        )
    if _is_sqlalchemy_error(exc):
        return SourceError(
            f"cannot use the {where}: {detail}",
            hint="check that the catalog database is running, reachable and that the uri "
            "(user, database name) is right",
        )
    return None


def _failed_lookup(exc: BaseException) -> socket.gaierror | None:
    """The failed host-name lookup behind ``exc`` (requests wraps urllib3's
    ``NameResolutionError``, which wraps the resolver's ``gaierror``), if that is what it is."""
    seen: set[int] = set()
    links: list[Any] = [exc]
    while links:
        link = links.pop()
        if not isinstance(link, BaseException) or id(link) in seen:
            continue
        seen.add(id(link))
        if isinstance(link, socket.gaierror):
            return link
        links.extend((link.__cause__, link.__context__, getattr(link, "reason", None)))
        links.extend((getattr(link, "_reason", None), *link.args[:1]))
    return None


def _unresolved_host(exc: BaseException, config: Mapping[str, Any]) -> str:
    """The host name that did not resolve: urllib3 names it, else the catalog uri's."""
    from urllib.parse import urlsplit

    link: Any = exc.args[0] if exc.args else None
    host = getattr(getattr(link, "reason", None), "_host", None)
    if isinstance(host, str) and host:
        return host
    return urlsplit(str(config.get("uri") or "")).hostname or "?"


def _safe_cause(exc: BaseException, secrets: Iterable[str]) -> BaseException | None:
    """``exc``, to chain to the floe error, unless its text or its causes' carry a secret
    (a catalog that repeats the request's credentials in its answer): then nothing, so no
    traceback prints it."""
    secrets = list(secrets)
    link: BaseException | None = exc
    while link is not None:
        if redact(str(link), secrets) != str(link):
            return None
        link = link.__cause__ or link.__context__
    return exc


def _is_sqlalchemy_error(exc: BaseException) -> bool:
    try:
        from sqlalchemy.exc import SQLAlchemyError
    except ImportError:
        return False
    return isinstance(exc, SQLAlchemyError)


def _http_status_and_path(exc: BaseException) -> tuple[int | None, str]:
    """The HTTP status and request path behind a pyiceberg REST error (its ``__cause__``)."""
    response = getattr(exc.__cause__, "response", None)
    if response is None:
        return None, ""
    from urllib.parse import urlsplit

    return getattr(response, "status_code", None), urlsplit(str(response.url)).path


def _detail(exc: BaseException, secrets: Iterable[str]) -> str:
    # Drivers put the interesting part first; SQLAlchemy appends SQL and a docs link after it.
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()[0] if str(original).strip() else type(exc).__name__
    return redact(text[:300], secrets)
