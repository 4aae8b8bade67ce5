"""Errors of an ingestion run, mapped once from dlt, pyiceberg, pyarrow and database drivers.

dlt wraps whatever fails inside a step (an HTTP error while extracting, a driver error while
reading a table, floe's own error while loading) in ``PipelineStepFailed``; the root cause
decides the message and the hint.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from floe_core.plugins.ingestion import IngestionConfig
from floe_core.secrets.redact import redact
from floe_core.sinks.errors import PluginError

__all__ = ["IngestionError", "mapped_errors", "source_errors"]


class IngestionError(PluginError):
    """An ingestion pipeline failed (a ``PluginError`` with category ``permanent``)."""


@contextmanager
def mapped_errors(
    config: IngestionConfig, catalog_label: str, secrets: list[str]
) -> Iterator[None]:
    """Turn dlt, pyiceberg, pyarrow and driver errors raised inside into ``IngestionError``.

    An ``IngestionError`` raised by floe's own code inside dlt's steps is unwrapped and raised
    as it is. Messages never contain the values in ``secrets``.
    """
    from dlt.pipeline.exceptions import PipelineStepFailed

    table = config.destination_table
    source_type = config.source_type
    try:
        yield
    except PluginError:
        raise
    except PipelineStepFailed as exc:
        inner = _find_plugin_error(exc)
        if inner is not None:
            raise inner from exc
        cause = _root_cause(exc)
        raise IngestionError(
            f"the {source_type} source failed in dlt's {exc.step} step: "
            f"{_describe(cause, secrets)}",
            destination=table,
            hint=_hint_for(cause, source_type),
        ) from exc
    except Exception as exc:
        raise IngestionError(
            f"writing to Iceberg table '{table}' in the {catalog_label} failed: "
            f"{_describe(exc, secrets)}",
            destination=table,
            hint="nothing was committed; check the table's schema against the source data",
        ) from exc


@contextmanager
def source_errors(config: IngestionConfig, secrets: list[str]) -> Iterator[None]:
    """Map errors raised while setting up the source (before dlt runs) to ``IngestionError``."""
    try:
        yield
    except PluginError:
        raise
    except Exception as exc:
        cause = _root_cause(exc)
        raise IngestionError(
            f"the {config.source_type} source could not be opened: {_describe(cause, secrets)}",
            destination=config.destination_table,
            hint=_hint_for(cause, config.source_type),
        ) from exc


def _find_plugin_error(exc: BaseException) -> PluginError | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, PluginError):
            return current
        seen.add(id(current))
        current = _next_cause(current)
    return None


def _root_cause(exc: BaseException) -> BaseException:
    seen: set[int] = set()
    current = exc
    while id(current) not in seen:
        seen.add(id(current))
        following = _next_cause(current)
        if following is None:
            break
        current = following
    return current


def _next_cause(exc: BaseException) -> BaseException | None:
    wrapped = getattr(exc, "exception", None)
    if isinstance(wrapped, BaseException):
        return wrapped
    return exc.__cause__ or exc.__context__


def _describe(exc: BaseException, secrets: list[str]) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return redact(f"{type(exc).__name__}: {text}"[:400], secrets)


def _hint_for(cause: BaseException, source_type: str) -> str:
    status = getattr(getattr(cause, "response", None), "status_code", None)
    if status in (401, 403):
        return "the API refused the credentials: check token / username+password / api_key"
    if isinstance(status, int):
        return f"the API answered HTTP {status}: check base_url, path and params"
    if isinstance(cause, OSError | ConnectionError):
        return "the source could not be reached: check that it is running and the URL is right"
    if source_type == "sql_database":
        return "check the database URL, that the database is running, and the table name"
    if source_type == "filesystem":
        return "check the folder, file_glob and format, and that the files are well formed"
    return "check the source settings"
