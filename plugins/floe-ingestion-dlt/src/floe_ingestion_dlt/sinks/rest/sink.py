"""The ``rest_api`` sink: JSON over HTTP(S) to any endpoint.

Each batch becomes one request (``body: array`` or ``envelope``) or each row does
(``body: record``), carrying a deterministic ``Idempotency-Key`` header. Settings, from the
destination's ``config`` merged with its secret (see :class:`RestApiSettings`)::

    base_url: https://api.example.com     # or in the secret
    path: /v1/contacts
    method: POST                          # POST | PUT | PATCH
    body: envelope                        # array | record | envelope
    envelope_key: inputs                  # body {"inputs": [...]} (envelope only)
    headers: {X-Source: floe}
    auth: bearer                          # bearer | basic | api_key | none; default from the secret
    api_key_header: X-API-Key             # api_key only
    timeout_seconds: 30
    max_requests_per_second: 10
    max_concurrent_requests: 4
    record_id_path: "$.results[*].id"     # JSONPath into each response
    verify_tls: true
    health_path: /v1/health               # probed by create_sink; default: path
    health_method: HEAD                   # HEAD | GET | OPTIONS
    id_field: id                          # a copy of the record's id_from field, first
    id_from: properties.email
    envelope_fields: {allOrNone: false}   # beside the records (envelope only)
    results_path: "$.errors[*]"           # per-record results -> rejected rows (see results)
    result_id_path: "$.context.ids[*]"    # or result_index_path; result_ok_path / _status_path
    result_message_path: "$.message"
    timestamp_format: iso8601             # iso8601 | epoch_millis (see records)
    decimal_format: string                # string | number
    boolean_format: boolean               # boolean | string | integer
    operations:                           # insert / update / delete requests (see operations)
      delete: {method: DELETE, path: "/contacts/{id}"}

Secret keys: ``token`` (bearer), ``username`` + ``password`` (basic), ``api_key``, and
optionally ``base_url``.

Creating the sink probes the endpoint once (``health_method`` on ``health_path``, with the
credentials): an unreachable host raises ``SinkConnectionError``, HTTP 401/403 raises
``SinkAuthenticationError``; any other answer (404 and 405 included) shows the host is there.
Upserts go to ``method`` and ``path``; inserts, updates and deletes to the requests
``operations:`` configures (:mod:`floe_ingestion_dlt.sinks.rest.operations`).
Settings are validated by :class:`~floe_ingestion_dlt.sinks.rest.config.RestApiSettings`;
JSON encoding is described in :mod:`floe_ingestion_dlt.sinks.rest.json_rows`, and how HTTP failures
become floe errors in :mod:`floe_ingestion_dlt.sinks.rest.errors`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
from floe_core.secrets.redact import credential_values, redact
from floe_core.sinks.base import (
    BatchAck,
    Operation,
    Payload,
    RowRejection,
    Sink,
    SinkCapabilities,
    SinkExample,
)
from floe_core.sinks.endpoints import Endpoint
from floe_core.sinks.errors import (
    PluginError,
    SinkConfigurationError,
    SinkWriteError,
    config_error_from_validation,
)
from pydantic import BaseModel, ValidationError

from floe_ingestion_dlt.sinks.rest import json_fast, json_rows
from floe_ingestion_dlt.sinks.rest.config import AUTH_SECRET_KEYS, SECRET_FIELDS, RestApiSettings
from floe_ingestion_dlt.sinks.rest.errors import SINK_TYPE, HttpErrors, parse_retry_after
from floe_ingestion_dlt.sinks.rest.operations import (
    OPERATION_NAMES,
    RoutedRequest,
    RowRoute,
    envelope_parts,
    operation_support,
)
from floe_ingestion_dlt.sinks.rest.records import RecordShape
from floe_ingestion_dlt.sinks.rest.results import RecordResults, ResultMapping, UnmatchedResult

if TYPE_CHECKING:
    import pyarrow as pa
    from floe_core.plugins.sink import SinkConfig

__all__ = ["RestApiSettings", "RestApiSink", "parse_retry_after"]

# 4xx answers about the request itself (credentials, rate, timeout), never about its records.
_NOT_PER_RECORD = frozenset({401, 403, 407, 408, 429})


class RestApiSink(Sink):
    """JSON over HTTP(S). See the module docstring for settings.

    Raises (at construction):
        SinkConfigurationError: Invalid settings or URL.
        SinkConnectionError: The host cannot be reached.
        SinkAuthenticationError: The endpoint answered 401/403 to the probe.
    """

    sink_type: ClassVar[str] = SINK_TYPE
    capabilities: ClassVar[SinkCapabilities] = SinkCapabilities(
        default_batch_size=100,
        max_concurrency=4,
        splits_rejected_batches=True,
        # JSON is built column-wise in Arrow: a few thousand rows at a time cost far less
        # per row than one batch of a few hundred (see json_fast).
        encode_group_rows=8192,
        # Each row is sent to the endpoint, which creates or updates it.
        operations=frozenset({Operation.UPSERT}),
        # JSON records nest: `ltv: properties.ltv` in field_mapping builds {"properties": ...}.
        nested_fields=True,
    )
    settings_model: ClassVar[type[BaseModel]] = RestApiSettings
    secret_fields: ClassVar[frozenset[str]] = SECRET_FIELDS
    # Where the API is may be written in floe.yaml: base_url holds no user or password.
    config_secret_fields: ClassVar[frozenset[str]] = frozenset({"base_url"})
    key_setting: ClassVar[str | None] = "primary_key"

    @classmethod
    def operations_for(cls, config: Mapping[str, Any]) -> frozenset[Operation]:
        """Upserts (``method`` and ``path``), and each operation ``operations:`` configures."""
        configured = config.get("operations")
        names = configured if isinstance(configured, Mapping) else {}
        return frozenset({Operation.UPSERT}) | {
            Operation(name) for name in names if name in OPERATION_NAMES
        }

    example: ClassVar[SinkExample | None] = SinkExample(
        config=(
            "path: /contacts/batch   # appended to base_url (a Secret key, or set it here)\n"
            "auth: bearer   # bearer (Secret key token) | basic (username, password) | api_key\n"
            "body: array    # array: a JSON array per batch | record: one per request | envelope\n"
            "# envelope_key: inputs   # with body: envelope, the key that holds the records\n"
            "max_requests_per_second: 10   # the rate limit, retries included\n"
            "max_concurrent_requests: 4    # requests in flight at once\n"
            "# timeout_seconds: 30         # per request\n"
        ),
        secret={"base_url": "https://api.example.com", "token": "replace-with-the-api-token"},
    )

    @classmethod
    def secret_keys(cls, config: dict[str, Any]) -> list[list[str]]:
        """The credentials the ``auth`` setting names (none when ``auth`` is unset or none)."""
        keys = AUTH_SECRET_KEYS.get(str(config.get("auth", "")))
        return [list(keys)] if keys else []

    @classmethod
    def settings_from_key(
        cls, config: Mapping[str, Any], key_fields: Sequence[str]
    ) -> dict[str, Any]:
        """``id_from`` for a destination with ``id_field`` and no ``id_from``: its key field.

        Raises:
            SinkConfigurationError: The key has several columns, so it does not say which one
                ``id_field`` copies.
        """
        if config.get("id_field") is None or config.get("id_from") is not None:
            return {}
        if len(key_fields) == 1:
            return {"id_from": key_fields[0]}
        raise SinkConfigurationError(
            f"id_field needs id_from: primary_key has {len(key_fields)} columns "
            f"({', '.join(key_fields)}), so which one's value id_field copies is ambiguous",
            sink_type=cls.sink_type,
            hint="set id_from to the field the API keys records by, e.g. "
            f"`id_from: {key_fields[0]}`",
        )

    @classmethod
    def endpoints(cls, values: Mapping[str, Any]) -> list[Endpoint]:
        """The host and port of ``base_url`` (every request, the probe too, goes there: no
        redirect is followed)."""
        base_url = values.get("base_url")
        endpoint = (
            Endpoint.from_url(base_url, setting="base_url") if isinstance(base_url, str) else None
        )
        return [endpoint] if endpoint is not None and endpoint.host is not None else []

    @classmethod
    def target(cls, values: Mapping[str, Any]) -> str:
        """The upsert request (``METHOD base_url + path``, no query) and each operation's
        method and path: not the body shape, the limits or the credentials."""
        settings = RestApiSettings.model_validate(dict(values))
        base = httpx.URL(settings.base_url).copy_with(query=None, fragment=None)
        requests = [f"{settings.method} {base}{settings.path}"]
        requests += sorted(
            f"{name} {op.method} {op.path}" for name, op in settings.operations.items()
        )
        return " | ".join(requests)

    def __init__(self, config: SinkConfig) -> None:
        super().__init__(config)
        self.settings = self._validate(config.connection_config)
        self._url = self._build_url(self.settings.base_url, self.settings.path)
        self._client = self._build_client()
        try:
            self._probe()
        except BaseException:
            self._client.close()
            raise

    # -- configuration -------------------------------------------------------------------

    def _config_error(self, message: str, hint: str) -> SinkConfigurationError:
        return SinkConfigurationError(
            redact(message, self.secret_values),
            destination=self.destination,
            sink_type=self.sink_type,
            hint=hint,
        )

    def _validate(self, raw: dict[str, Any]) -> RestApiSettings:
        try:
            settings = RestApiSettings.model_validate(raw)
            self._auth = settings.resolved_auth()
        except ValidationError as exc:
            raise config_error_from_validation(
                exc,
                section="config",
                allowed=RestApiSettings.model_fields,
                config=raw,
                secret_fields=SECRET_FIELDS,
                destination=self.destination,
                sink_type=self.sink_type,
            ) from exc
        except ValueError as exc:
            raise SinkConfigurationError(
                f"invalid config: {exc}",
                destination=self.destination,
                sink_type=self.sink_type,
                hint="fix the destination's config or secret",
            ) from exc
        self._settings_secrets = [
            secret.get_secret_value()
            for secret in (settings.token, settings.password, settings.api_key)
            if secret is not None
        ] + credential_values(settings.headers)  # e.g. an X-Auth-Token kept in the Secret
        self._id_path = self._compile_id_path(settings.record_id_path)
        self._shape = RecordShape.from_settings(settings)
        self._results = ResultMapping.from_settings(settings)
        self._envelope = self._envelope_parts(settings)
        self._routes = {
            Operation(name): RowRoute(request, tuple(settings.primary_key or ()), Operation(name))
            for name, request in settings.operations.items()
        }
        return settings

    @staticmethod
    def _envelope_parts(settings: RestApiSettings) -> tuple[bytes, bytes] | None:
        """The text before and after the records of an envelope body."""
        if settings.body != "envelope":
            return None
        fields = b"".join(
            json_rows.dumps(name) + b":" + json_rows.dumps(value) + b","
            for name, value in settings.envelope_fields.items()
        )
        return b"{" + fields + json_rows.dumps(settings.envelope_key) + b":", b"}"

    @staticmethod
    def _compile_id_path(expression: str | None) -> Any:
        """The parsed ``record_id_path`` (the settings model checked that it parses)."""
        if expression is None:
            return None
        from jsonpath_ng.ext.parser import parse

        return parse(expression)

    def _build_url(self, base_url: str, path: str) -> httpx.URL:
        try:
            base = httpx.URL(base_url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise self._config_error(
                f"base_url is not a valid URL: {exc}", "use http(s)://host[:port][/prefix]"
            ) from exc
        if base.scheme not in ("http", "https") or not base.host:
            raise self._config_error(
                f"base_url must be an http(s) URL with a host, got {base_url!r}",
                "use http(s)://host[:port][/prefix]",
            )
        if base.userinfo:
            raise self._config_error(
                "base_url must not contain a user or password",
                "put username and password in the destination's secret",
            )
        joined = base.path.rstrip("/") + ("/" + path.lstrip("/") if path else "")
        return base.copy_with(path=joined or "/")

    def _build_client(self) -> httpx.Client:
        settings = self.settings
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "floe-ingestion-dlt",
            **settings.headers,
        }
        auth: httpx.Auth | None = None
        if self._auth == "bearer" and settings.token is not None:
            headers["Authorization"] = f"Bearer {settings.token.get_secret_value()}"
        elif self._auth == "api_key" and settings.api_key is not None:
            headers[settings.api_key_header or "X-API-Key"] = settings.api_key.get_secret_value()
        elif self._auth == "basic" and settings.username and settings.password is not None:
            auth = httpx.BasicAuth(settings.username, settings.password.get_secret_value())
        size = settings.max_concurrent_requests
        # Plain HTTP has no TLS to verify: skip loading the certificate store (tens of ms).
        # The client never leaves this URL's origin (no redirects are followed).
        verify = settings.verify_tls if self._url.scheme == "https" else False
        return httpx.Client(
            headers=headers,
            auth=auth,
            timeout=httpx.Timeout(settings.timeout_seconds),
            limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
            verify=verify,
            follow_redirects=False,
        )

    def _probe(self) -> None:
        settings = self.settings
        url = (
            self._url
            if settings.health_path is None
            else self._build_url(settings.base_url, settings.health_path)
        )
        try:
            response = self._client.request(settings.health_method, url)
        except httpx.HTTPError as exc:
            raise self._map_transport_error(exc) from exc
        if response.status_code in (401, 403):
            raise self._status_error(response)

    # -- Sink hook -------------------------------------------------------------------------

    @property
    def identity(self) -> str:
        """``METHOD scheme://host[:port]/path``: no credentials, no query secrets."""
        url = self._url.copy_with(query=None, fragment=None)
        return f"{self.settings.method} {url}"

    @property
    def secret_values(self) -> list[str]:
        """Token, password, API key and the encoded basic-auth credentials."""
        values = list(getattr(self, "_settings_secrets", []))
        settings = getattr(self, "settings", None)
        if settings is not None and settings.username and settings.password is not None:
            pair = f"{settings.username}:{settings.password.get_secret_value()}"
            values.append(base64.b64encode(pair.encode()).decode())
        return values

    @property
    def effective_capabilities(self) -> SinkCapabilities:
        """Class capabilities narrowed by the settings (concurrency, rate, one row per request)."""
        operations, per_row = operation_support(self.settings.operations, self.settings.body)
        return replace(
            self.capabilities,
            max_concurrency=self.settings.max_concurrent_requests,
            default_rate_limit=self.settings.max_requests_per_second,
            max_batch_size=1 if self.settings.body == "record" else None,
            operations=operations,
            row_operations=per_row,
        )

    def check(self, schema: pa.Schema) -> None:
        """The checks ``open`` makes; the endpoint's own schema is not known before sending."""
        self.open(schema)

    def open(self, schema: pa.Schema) -> None:
        """Check that the records have the field ``id_from`` names, and not ``id_field``, and
        the fields ``operations:`` names."""
        problem = self._shape.check(schema)
        if problem is not None:
            raise self._config_error(
                problem,
                "id_from names a field of the records as field_mapping shapes them "
                "(e.g. properties.email); id_field must be a new field",
            )
        names = list(schema.names)
        if self.settings.id_field is not None:
            names.insert(0, self.settings.id_field.split(".")[0])
        for route in self._routes.values():
            problem = route.check(names)
            if problem is not None:
                raise self._config_error(
                    problem,
                    "name top-level fields of the records as field_mapping shapes them "
                    "(id_field included)",
                )

    def encode(self, batch: pa.RecordBatch, operation: Operation | None = None) -> Payload:
        """The request body for ``batch`` (see ``json_rows`` for how values are written)."""
        return self.encode_many([batch], operation)[0]

    def encode_many(
        self, batches: Sequence[pa.RecordBatch], operation: Operation | None = None
    ) -> list[Payload]:
        """The request bodies for consecutive batches, encoded together (much faster)."""
        route = self._routes.get(operation) if operation is not None else None
        if route is not None:
            return self._encode_routed(batches, route)
        shaped = [self._shape.apply(batch) for batch in batches]
        records = [batch for batch, _ in shaped]
        if self.settings.body == "record":
            if any(batch.num_rows != 1 for batch in batches):
                raise ValueError("body 'record' sends one row per request")
            bodies = json_fast.json_objects(records)
        else:
            bodies = json_fast.json_arrays(records, *(self._envelope or ()))
        # Payload.data: the records' keys, to match per-record results to records.
        return [
            Payload(rows=batch.num_rows, body=body, data=keys, operation=Operation.UPSERT)
            for (batch, keys), body in zip(shaped, bodies, strict=True)
        ]

    def _encode_routed(self, batches: Sequence[pa.RecordBatch], route: RowRoute) -> list[Payload]:
        """Payloads of an ``operations:`` request (see ``operations``)."""
        request = route.request
        body = request.resolved_body
        shaped = [self._shape.apply(batch) for batch in batches]
        records = [route.select(batch) for batch, _ in shaped]
        if body == "none":
            bodies: list[bytes | None] = [None] * len(records)
        elif body == "record":
            if any(batch.num_rows != 1 for batch in records):
                raise ValueError(f"operations.{route.operation.value} sends one row per request")
            bodies = list(json_fast.json_objects(records))
        else:
            bodies = list(json_fast.json_arrays(records))
            if body == "envelope" and request.envelope_key is not None:
                before, after = envelope_parts(request.envelope_key, request.envelope_fields)
                bodies = [b"".join((before, text, after)) for text in bodies if text is not None]
        fixed = (
            None
            if route.request.placeholders
            else self._build_url(self.settings.base_url, request.path)
        )
        payloads = []
        for (batch, keys), content in zip(shaped, bodies, strict=True):
            url, refused = fixed, None
            if fixed is None:
                path, refused = route.path_of(batch)
                url = None if path is None else self._build_url(self.settings.base_url, path)
            routed = RoutedRequest(
                method=request.method,
                url=url,
                content=content,
                keys=keys,
                per_row=request.per_row,
                operation=route.operation,
                refused=refused,
            )
            # What the engine hashes for the idempotency key and counts as sent: the body, or,
            # with none, the request line (which alone says which row it is for).
            sent = content if content is not None else f"{request.method} {url}".encode()
            payloads.append(
                Payload(rows=batch.num_rows, body=sent, data=routed, operation=route.operation)
            )
        return payloads

    def send(self, payload: Payload, idempotency_key: str) -> BatchAck:
        """One request; 2xx confirms the rows no per-record result refuses."""
        if isinstance(payload.data, RoutedRequest):
            return self._send_routed(payload, payload.data, idempotency_key)
        try:
            response = self._client.request(
                self.settings.method,
                self._url,
                content=payload.body,
                headers={"Idempotency-Key": idempotency_key},
            )
        except httpx.HTTPError as exc:
            raise self._map_transport_error(exc) from exc
        if not response.is_success:
            partial = self._refused_records(response, payload)
            if partial is None:
                raise self._status_error(response)
            return partial
        rejections = self._read_results(response, payload).refused
        return BatchAck(
            rows_confirmed=payload.rows - len(rejections),
            record_ids=self._record_ids(response),
            rejections=rejections,
        )

    def _send_routed(
        self, payload: Payload, request: RoutedRequest, idempotency_key: str
    ) -> BatchAck:
        """One ``operations:`` request; a one-row request is settled by its status."""
        if request.refused is not None or request.url is None:
            reason = request.refused or "the request path cannot name the record"
            return BatchAck(rows_confirmed=0, rejections=[RowRejection(0, reason)])
        errors = self._errors(request.method, request.url)
        try:
            response = self._client.request(
                request.method,
                request.url,
                content=request.content,
                headers={"Idempotency-Key": idempotency_key},
            )
        except httpx.HTTPError as exc:
            raise errors.transport(exc) from exc
        if request.per_row and response.status_code in (404, 410):
            if request.operation is Operation.DELETE:
                return BatchAck(rows_confirmed=payload.rows)  # gone already
            reason = redact(
                f"{request.method} {request.url.copy_with(query=None)} answered HTTP "
                f"{response.status_code}: the record is not there",
                self.secret_values,
            )
            return BatchAck(rows_confirmed=0, rejections=[RowRejection(0, reason)])
        if not response.is_success:
            raise errors.status(response)
        rejections = [] if request.per_row else self._read_results(response, payload).refused
        return BatchAck(
            rows_confirmed=payload.rows - len(rejections),
            record_ids=self._record_ids(response),
            rejections=rejections,
        )

    def dispose(self) -> None:
        """Close the connection pool."""
        self._client.close()

    # -- answers ---------------------------------------------------------------------------

    def _record_ids(self, response: httpx.Response) -> list[str]:
        if self._id_path is None or not response.content:
            return []
        import orjson

        try:
            document = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            return []
        matches = self._id_path.find(document)
        return [str(match.value) for match in matches if match.value is not None]

    def _read_results(self, response: httpx.Response, payload: Payload) -> RecordResults:
        """What the answer says of each record, per ``results_path`` (nothing when unset)."""
        if self._results is None or not response.content:
            return RecordResults([])
        import orjson

        try:
            document = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            return RecordResults([])

        data = payload.data.keys if isinstance(payload.data, RoutedRequest) else payload.data

        def keys() -> list[str]:
            values = [] if data is None else data.to_pylist()
            return [v if isinstance(v, str) else orjson.dumps(v).decode() for v in values]

        try:
            found = self._results.read(document, payload.rows, keys)
        except UnmatchedResult as exc:
            raise SinkWriteError(
                redact(
                    f"{self.identity} answered HTTP {response.status_code}: {exc}",
                    self.secret_values,
                ),
                destination=self.destination,
                sink_type=self.sink_type,
                http_status=response.status_code,
                hint="check result_index_path / result_id_path against the API's answers",
            ) from exc
        secrets = self.secret_values
        refused = [RowRejection(r.position, redact(r.reason, secrets)) for r in found.refused]
        return RecordResults(refused, found.accepted)

    def _refused_records(self, response: httpx.Response, payload: Payload) -> BatchAck | None:
        """A 4xx answer that names the records it refused, as an ack (see ``results``).

        The records a result accepts are confirmed, the refused ones rejected, and the others
        left for the engine to send again. ``None`` for any other answer, or one whose
        results refuse no record: the request as a whole was refused.
        """
        status = response.status_code
        if self._results is None or not 400 <= status < 500 or status in _NOT_PER_RECORD:
            return None
        try:
            found = self._read_results(response, payload)
        except SinkWriteError:
            return None  # the status error says more than "names no record"
        if not found.refused:
            return None
        refused = {r.position for r in found.refused}
        return BatchAck(
            rows_confirmed=len(found.accepted),
            rejections=found.refused,
            unsent=[p for p in range(payload.rows) if p not in refused and p not in found.accepted],
        )

    def _errors(self, method: str | None = None, url: httpx.URL | None = None) -> HttpErrors:
        return HttpErrors(
            destination=self.destination,
            method=method or self.settings.method,
            url=url or self._url,
            timeout_seconds=self.settings.timeout_seconds,
            secrets=tuple(self.secret_values),
        )

    def _map_transport_error(self, exc: httpx.HTTPError) -> PluginError:
        return self._errors().transport(exc)

    def _status_error(self, response: httpx.Response) -> PluginError:
        return self._errors().status(response)
