"""What the test REST catalog does with one warehouse's namespaces and tables.

Every request is delegated to a pyiceberg SQL catalog (SQLite, Parquet files): lists, loads,
creates (staged too, as ``create_table_transaction`` asks) and commits, whose
``CommitTableRequest`` (requirements and updates) the SQL catalog applies as it would its own.
pyiceberg's errors become the REST spec's error answers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pyiceberg.catalog.rest import (
    CreateTableRequest,
    ListNamespaceResponse,
    ListTableResponseEntry,
    ListTablesResponse,
    NamespaceResponse,
    TableResponse,
)
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NamespaceAlreadyExistsError,
    NoSuchNamespaceError,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.table import CommitTableRequest

__all__ = ["Warehouse", "error_body"]

_SEPARATOR = "\x1f"  # the REST spec's namespace separator (%1F in a path)


@dataclass(frozen=True)
class Warehouse:
    """The namespaces and tables of one warehouse, kept in ``catalog``."""

    catalog: SqlCatalog

    def serve(
        self, method: str, rest: list[str], raw: bytes, vended: dict[str, str]
    ) -> tuple[int, Any]:
        """Status and JSON body for ``method /v1/<prefix>/<rest...>``.

        Args:
            method: HTTP method.
            rest: The decoded path segments after the prefix.
            raw: The request body.
            vended: Storage config to vend with a loaded table (empty: none asked for).
        """
        try:
            return self._resource(method, rest, raw, vended)
        except NoSuchNamespaceError as exc:
            return 404, error_body(404, str(exc), "NoSuchNamespaceException")
        except NoSuchTableError as exc:
            return 404, error_body(404, str(exc), "NoSuchTableException")
        except (NamespaceAlreadyExistsError, TableAlreadyExistsError) as exc:
            return 409, error_body(409, str(exc), "AlreadyExistsException")
        except CommitFailedException as exc:
            return 409, error_body(409, str(exc), "CommitFailedException")

    def _resource(
        self, method: str, rest: list[str], raw: bytes, vended: dict[str, str]
    ) -> tuple[int, Any]:
        backing = self.catalog
        if rest == ["namespaces"]:
            if method == "GET":
                listed = ListNamespaceResponse(namespaces=backing.list_namespaces())
                return 200, _dump(listed)
            if method == "POST":
                request = json.loads(raw)
                namespace = tuple(request["namespace"])
                backing.create_namespace(namespace, request.get("properties") or {})
                return 200, {
                    "namespace": list(namespace),
                    "properties": request.get("properties") or {},
                }
        if len(rest) >= 2 and rest[0] == "namespaces":
            namespace = tuple(rest[1].split(_SEPARATOR))
            if len(rest) == 2 and method in {"GET", "HEAD"}:
                properties = backing.load_namespace_properties(namespace)
                if method == "HEAD":
                    return 204, None
                return 200, _dump(NamespaceResponse(namespace=namespace, properties=properties))
            if len(rest) == 3 and rest[2] == "tables":
                if method == "GET":
                    backing.load_namespace_properties(namespace)  # 404 for a missing namespace
                    tables = [
                        ListTableResponseEntry(namespace=ident[:-1], name=ident[-1])
                        for ident in backing.list_tables(namespace)
                    ]
                    return 200, _dump(ListTablesResponse(identifiers=tables))
                if method == "POST":
                    return self._create_table(namespace, raw, vended)
            if len(rest) == 4 and rest[2] == "tables":
                identifier = (*namespace, rest[3])
                if method in {"GET", "HEAD"}:
                    table = backing.load_table(identifier)
                    if method == "HEAD":
                        return 204, None
                    return 200, self._table_result(
                        table.metadata_location, table.metadata, vended, table.metadata.location
                    )
                if method == "POST":
                    return self._commit(identifier, raw)
        return 404, error_body(404, f"no such resource: {'/'.join(rest)}", "NotFoundException")

    def _create_table(
        self,
        namespace: tuple[str, ...],
        raw: bytes,
        vended: dict[str, str],
    ) -> tuple[int, Any]:
        backing = self.catalog
        # Optional in the spec, but pyiceberg's model wants the keys present.
        body = {"location": None, "partition-spec": None, "write-order": None, **json.loads(raw)}
        request = CreateTableRequest.model_validate(body)
        backing.load_namespace_properties(namespace)
        identifier = (*namespace, request.name)
        arguments: dict[str, Any] = {
            "identifier": identifier,
            "schema": request.table_schema,
            "location": request.location,
            "properties": request.properties,
        }
        if request.partition_spec is not None:
            arguments["partition_spec"] = request.partition_spec
        if request.write_order is not None:
            arguments["sort_order"] = request.write_order
        if request.stage_create:
            if backing.table_exists(identifier):
                raise TableAlreadyExistsError(f"Table already exists: {'.'.join(identifier)}")
            staged = backing._create_staged_table(**arguments)
            return 200, self._table_result(None, staged.metadata, vended, staged.metadata.location)
        table = backing.create_table(**arguments)
        return 200, self._table_result(
            table.metadata_location, table.metadata, vended, table.location()
        )

    def _commit(self, identifier: tuple[str, ...], raw: bytes) -> tuple[int, Any]:
        backing = self.catalog
        request = CommitTableRequest.model_validate_json(raw)
        if not any(r.type == "assert-create" for r in request.requirements):
            backing.load_table(identifier)  # 404 for a table that does not exist
        answer = backing.commit_table(
            _Named(identifier),  # type: ignore[arg-type]  # the SQL catalog only asks its name
            tuple(request.requirements),
            tuple(request.updates),
        )
        return 200, _dump(answer)

    def _table_result(
        self,
        metadata_location: str | None,
        metadata: Any,
        vended: dict[str, str],
        location: str,
    ) -> dict[str, Any]:
        result = TableResponse.model_validate(
            {"metadata-location": metadata_location, "metadata": metadata}
        )
        body = _dump(result)
        if vended:
            body["config"] = dict(vended)
            body["storage-credentials"] = [{"prefix": location, "config": dict(vended)}]
        if body.get("metadata-location") is None:
            body.pop("metadata-location", None)
        return body


@dataclass(frozen=True)
class _Named:
    identifier: tuple[str, ...]

    def name(self) -> tuple[str, ...]:
        return self.identifier


def _dump(model: Any) -> dict[str, Any]:
    return dict(json.loads(model.model_dump_json(by_alias=True, exclude_none=True)))


def error_body(code: int, message: str, kind: str = "") -> dict[str, Any]:
    """The REST spec's error answer (``IcebergErrorResponse``)."""
    kinds = {
        400: "BadRequestException",
        401: "NotAuthorizedException",
        403: "ForbiddenException",
        404: "NotFoundException",
        500: "InternalServerError",
        503: "ServiceUnavailableException",
    }
    return {
        "error": {
            "message": message,
            "type": kind or kinds.get(code, "RESTException"),
            "code": code,
        }
    }
