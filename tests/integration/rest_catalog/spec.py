"""Check HTTP answers against the Iceberg REST catalog OpenAPI document.

``rest-catalog-open-api.yaml`` beside this module is the published spec, copied unchanged from
apache/iceberg (``open-api/rest-catalog-open-api.yaml``, commit 7f879b11366e, Apache 2.0).
:class:`OpenApiSpec` finds the operation a request addressed (method + path template), the
response the spec declares for the status sent (exact code, then ``4XX``/``5XX``, then
``default``), and validates the JSON body against its schema.

The validator is a small JSON Schema interpreter covering every keyword the document uses
(``$ref``, ``type`` including type lists and ``nullable``, ``const``, ``enum``, ``required``,
``properties``, ``additionalProperties``, ``items``, ``allOf``, ``anyOf``, ``oneOf``,
``pattern``, ``minLength``/``maxLength``); ``format``, ``discriminator``, ``example`` and
``description`` carry no constraint. A full OpenAPI validator (openapi-core, schemathesis) is not
a dependency of this workspace; this one is about a hundred lines and reports the JSON path of
every violation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

SPEC_PATH = Path(__file__).with_name("rest-catalog-open-api.yaml")

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


@dataclass(frozen=True)
class Operation:
    """One operation of the spec: ``GET /v1/{prefix}/namespaces`` is ``listNamespaces``."""

    method: str
    template: str
    operation_id: str
    responses: dict[str, Any]
    pattern: re.Pattern[str]


class OpenApiSpec:
    """The Iceberg REST OpenAPI document, loaded once."""

    def __init__(self, path: Path = SPEC_PATH) -> None:
        self.document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))

    @cached_property
    def operations(self) -> list[Operation]:
        found = []
        for template, item in self.document["paths"].items():
            regex = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
            for method, op in item.items():
                if method in {"get", "post", "put", "delete", "head"}:
                    found.append(
                        Operation(
                            method.upper(),
                            template,
                            op["operationId"],
                            {str(code): answer for code, answer in op["responses"].items()},
                            re.compile(regex),
                        )
                    )
        # Literal paths first: /v1/oauth/tokens before /v1/{prefix}/...
        return sorted(found, key=lambda op: op.template.count("{"))

    def operation(self, method: str, path: str) -> Operation | None:
        """The operation ``method path`` (no query string) addresses, if the spec has one."""
        for op in self.operations:
            if op.method == method and op.pattern.match(path):
                return op
        return None

    def check_response(self, method: str, path: str, status: int, body: Any) -> list[str]:
        """Violations of the spec by this answer (empty: it conforms).

        Args:
            method: HTTP method of the request.
            path: Request path without the query string.
            status: Status code sent.
            body: The decoded JSON body, or ``None`` when none was sent.
        """
        op = self.operation(method, path)
        if op is None:
            return [f"{method} {path}: no such operation in the spec"]
        where = f"{op.operation_id} -> {status}"
        declared = (
            op.responses.get(str(status))
            or op.responses.get(f"{status // 100}XX")
            or op.responses.get("default")
        )
        if declared is None:
            return [f"{where}: status not declared (declared: {', '.join(op.responses)})"]
        declared = self._resolve(declared)
        content = declared.get("content", {}).get("application/json")
        if content is None:
            return [] if body is None else [f"{where}: the spec declares no body"]
        if method == "HEAD":
            return []
        if body is None:
            return [f"{where}: a JSON body is required"]
        return [f"{where}: {problem}" for problem in self.validate(body, content["schema"])]

    def schema(self, name: str) -> dict[str, Any]:
        """``components/schemas/<name>``."""
        return dict(self.document["components"]["schemas"][name])

    def validate(self, value: Any, schema: dict[str, Any], at: str = "$") -> list[str]:
        """Violations of ``schema`` by ``value``, each prefixed with its JSON path."""
        schema = self._resolve(schema)
        problems: list[str] = []
        if "allOf" in schema:
            for part in schema["allOf"]:
                problems += self.validate(value, part, at)
        if "anyOf" in schema and not any(
            not self.validate(value, part, at) for part in schema["anyOf"]
        ):
            problems.append(f"{at}: matches none of anyOf")
        if "oneOf" in schema:
            matching = sum(not self.validate(value, part, at) for part in schema["oneOf"])
            if matching != 1:
                problems.append(f"{at}: matches {matching} of oneOf, not exactly one")
        if value is None and schema.get("nullable"):
            return problems
        if "type" in schema:
            types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            if not any(_is_type(value, t) for t in types):
                return [*problems, f"{at}: {type(value).__name__} is not {'/'.join(types)}"]
        if "const" in schema and value != schema["const"]:
            problems.append(f"{at}: {value!r} is not {schema['const']!r}")
        if "enum" in schema and value not in schema["enum"]:
            problems.append(f"{at}: {value!r} is not one of {schema['enum']}")
        if isinstance(value, str):
            if "pattern" in schema and not re.search(schema["pattern"], value):
                problems.append(f"{at}: {value!r} does not match {schema['pattern']!r}")
            if len(value) < schema.get("minLength", 0):
                problems.append(f"{at}: shorter than {schema['minLength']}")
            if "maxLength" in schema and len(value) > schema["maxLength"]:
                problems.append(f"{at}: longer than {schema['maxLength']}")
        if isinstance(value, dict):
            problems += self._validate_object(value, schema, at)
        if isinstance(value, list) and "items" in schema:
            for index, item in enumerate(value):
                problems += self.validate(item, schema["items"], f"{at}[{index}]")
        return problems

    def _validate_object(self, value: dict[str, Any], schema: dict[str, Any], at: str) -> list[str]:
        problems = [
            f"{at}: '{key}' is required" for key in schema.get("required", ()) if key not in value
        ]
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                problems += self.validate(item, properties[key], f"{at}.{key}")
            elif extra is False:
                problems.append(f"{at}: '{key}' is not allowed")
            elif isinstance(extra, dict):
                problems += self.validate(item, extra, f"{at}.{key}")
        return problems

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return node


def _is_type(value: Any, name: str) -> bool:
    if name in {"integer", "number"} and isinstance(value, bool):
        return False
    return isinstance(value, _JSON_TYPES[name])
