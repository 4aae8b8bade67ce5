"""Settings of the ``rest_api`` sink: the destination's ``config`` merged with its secret."""

from __future__ import annotations

from typing import Any, Literal

from floe_core.plugins.sink import StaticValue, split_field_path
from floe_core.sinks import settings_error
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from floe_ingestion_dlt.sinks.rest.operations import OperationName, OperationRequest

__all__ = ["AUTH_SECRET_KEYS", "SECRET_FIELDS", "RestApiSettings"]

#: Settings read from the destination's Secret (``base_url`` may be in ``config:`` instead).
SECRET_FIELDS = frozenset({"base_url", "token", "username", "password", "api_key"})

#: The Secret keys each ``auth`` scheme needs.
AUTH_SECRET_KEYS: dict[str, list[str]] = {
    "bearer": ["token"],
    "basic": ["username", "password"],
    "api_key": ["api_key"],
}

_API_KEY_HEADER_ONLY = "api_key_header applies only with auth 'api_key'"

_RESULT_PATHS = (
    "result_ok_path",
    "result_status_path",
    "result_message_path",
    "result_index_path",
    "result_id_path",
)

# Headers floe sets itself, or that would put a credential in floe.yaml.
_RESERVED_HEADERS = {"authorization", "content-type", "content-length", "host", "idempotency-key"}


class RestApiSettings(BaseModel):
    """Validated ``rest_api`` settings (destination config merged with the secret).

    Attributes:
        base_url: ``http(s)://host[:port][/prefix]``; no user or password in it.
        path: Appended to ``base_url``.
        method: HTTP method for data requests.
        body: ``array`` (a JSON array of records per batch), ``record`` (one record per
            request; batches are one row), ``envelope`` (``{envelope_key: [records]}``).
        envelope_key: Key of the envelope; required with ``body: envelope`` only.
        headers: Extra request headers (not ``Authorization``, ``Content-Type``, ...).
        auth: How to authenticate; inferred from the secret's keys when unset.
        api_key_header: Header carrying ``api_key`` (``auth: api_key`` only).
        timeout_seconds: Connect/read/write timeout per request.
        max_requests_per_second: Request rate limit (retries included); unset = none.
        max_concurrent_requests: Requests in flight at once (and connection pool size).
        record_id_path: JSONPath selecting record IDs in each response.
        verify_tls: Verify the server certificate.
        health_path: Path probed by ``create_sink``; defaults to ``path``.
        health_method: Method of the probe.
        id_field: Where each record gets a copy of its key (dots nest), e.g. ``id``.
        id_from: The record field (after ``field_mapping``; dots nest) whose value it copies.
        envelope_fields: Constant keys of the envelope, beside the records (``body: envelope``
            only), e.g. ``{allOrNone: false}``.
        results_path: JSONPath to the per-record results in an answer (2xx, 207 included);
            unset: a 2xx answer accepts every record of the request.
        result_ok_path: In each result, a boolean: true = the record was accepted.
        result_status_path: In each result, an HTTP-like status: 2xx = accepted.
        result_message_path: In each result, the message(s) kept for a refused record.
        result_index_path: In each result, the record's position in the request (0-based).
        result_id_path: In each result, the key(s) (``id_field`` values) of its records.
        timestamp_format: ``iso8601`` (``"2024-05-01T12:30:00.000000Z"``) or ``epoch_millis``.
        decimal_format: ``string`` (every digit kept) or ``number`` (a JSON number, as a double).
        boolean_format: ``boolean`` (``true``), ``string`` (``"true"``) or ``integer`` (``1``).
        operations: How inserts, updates and deletes are sent, when the API has requests for
            them (``floe_ingestion_dlt.sinks.rest.operations``); upserts use ``method`` and
            ``path``.
        primary_key: The records' key fields, derived by floe from the destination's
            ``primary_key`` (what a delete sends by default).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str
    path: str = ""
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    body: Literal["array", "record", "envelope"] = "array"
    envelope_key: str | None = Field(default=None, min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    auth: Literal["bearer", "basic", "api_key", "none"] | None = None
    api_key_header: str | None = Field(default=None, min_length=1)
    timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    max_requests_per_second: float | None = Field(default=None, gt=0, le=100_000)
    max_concurrent_requests: int = Field(default=4, ge=1, le=64)
    record_id_path: str | None = Field(default=None, min_length=1)
    verify_tls: bool = True
    health_path: str | None = None
    health_method: Literal["HEAD", "GET", "OPTIONS"] = "HEAD"
    id_field: str | None = Field(default=None, min_length=1)
    id_from: str | None = Field(default=None, min_length=1)
    envelope_fields: dict[str, StaticValue] = Field(default_factory=dict)
    results_path: str | None = Field(default=None, min_length=1)
    result_ok_path: str | None = Field(default=None, min_length=1)
    result_status_path: str | None = Field(default=None, min_length=1)
    result_message_path: str | None = Field(default=None, min_length=1)
    result_index_path: str | None = Field(default=None, min_length=1)
    result_id_path: str | None = Field(default=None, min_length=1)
    timestamp_format: Literal["iso8601", "epoch_millis"] = "iso8601"
    decimal_format: Literal["string", "number"] = "string"
    boolean_format: Literal["boolean", "string", "integer"] = "boolean"
    operations: dict[OperationName, OperationRequest] = Field(default_factory=dict)
    primary_key: list[str] | None = Field(default=None, min_length=1)
    token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    api_key: SecretStr | None = None

    @field_validator("method", "health_method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        reserved = sorted(name for name in value if name.lower() in _RESERVED_HEADERS)
        if reserved:
            raise settings_error(
                f"header(s) {', '.join(reserved)} are set by floe",
                hint="remove them from headers; credentials belong in the destination's Secret "
                "(token, username and password, or api_key)",
            )
        return value

    @field_validator(
        "record_id_path",
        "results_path",
        "result_ok_path",
        "result_status_path",
        "result_message_path",
        "result_index_path",
        "result_id_path",
    )
    @classmethod
    def _jsonpath(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
        from jsonpath_ng.ext.parser import parse

        try:
            parse(value)
        except (JsonPathLexerError, JsonPathParserError, ValueError) as exc:
            raise settings_error(
                "is not a valid JSONPath",
                hint="use a JSONPath such as '$.ids[*]' or '$.results[*].id'",
            ) from exc
        return value

    @model_validator(mode="after")
    def _api_key_header(self) -> RestApiSettings:
        if self.api_key_header is not None and self.auth not in (None, "api_key"):
            raise settings_error(
                _API_KEY_HEADER_ONLY,
                key="api_key_header",
                hint="remove api_key_header, or set `auth: api_key`",
            )
        return self

    @model_validator(mode="after")
    def _envelope(self) -> RestApiSettings:
        if self.body == "envelope" and self.envelope_key is None:
            raise settings_error(
                "body 'envelope' needs envelope_key",
                key="envelope_key",
                hint="set envelope_key, e.g. `envelope_key: inputs`",
            )
        if self.body != "envelope" and self.envelope_key is not None:
            raise settings_error(
                f"envelope_key applies only with body 'envelope' (body is {self.body!r})",
                key="envelope_key",
                hint="remove envelope_key or set `body: envelope`",
            )
        return self

    @field_validator("id_field", "id_from")
    @classmethod
    def _field_path(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                split_field_path(value)
            except ValueError as exc:
                raise settings_error(
                    str(exc), hint="separate nested names with single dots, e.g. properties.email"
                ) from exc
        return value

    @model_validator(mode="after")
    def _record_key(self) -> RestApiSettings:
        for present, missing, example in (
            ("id_field", "id_from", "id_from: email"),
            ("id_from", "id_field", "id_field: id"),
        ):
            if getattr(self, present) is not None and getattr(self, missing) is None:
                raise settings_error(
                    f"{present} needs {missing}",
                    key=missing,
                    hint=f"set {missing} (e.g. `{example}`), or remove {present}",
                )
        return self

    @model_validator(mode="after")
    def _envelope_fields(self) -> RestApiSettings:
        if self.envelope_fields and self.body != "envelope":
            raise settings_error(
                f"envelope_fields applies only with body 'envelope' (body is {self.body!r})",
                key="envelope_fields",
                hint="set `body: envelope` and envelope_key, or remove envelope_fields",
            )
        if self.envelope_key is not None and self.envelope_key in self.envelope_fields:
            raise settings_error(
                f"envelope_fields sets {self.envelope_key!r}, where the records go",
                key="envelope_fields",
                hint="remove it from envelope_fields, or choose another envelope_key",
            )
        return self

    @model_validator(mode="after")
    def _results(self) -> RestApiSettings:
        named = [name for name in _RESULT_PATHS if getattr(self, name) is not None]
        if named and self.results_path is None:
            raise settings_error(
                f"{', '.join(named)} need(s) results_path",
                key="results_path",
                hint="set results_path to the per-record results, e.g. '$.results[*]'",
            )
        for first, second in (
            ("result_ok_path", "result_status_path"),
            ("result_index_path", "result_id_path"),
        ):
            if getattr(self, first) is not None and getattr(self, second) is not None:
                raise settings_error(
                    f"set {first} or {second}, not both", key=second, hint=f"remove {second}"
                )
        if (
            self.results_path is not None
            and self.result_ok_path is None
            and self.result_status_path is None
            and self.result_index_path is None
            and self.result_id_path is None
        ):
            raise settings_error(
                "results that list only refused records need result_index_path or "
                "result_id_path to say which records they are",
                key="result_index_path",
                hint="set result_ok_path or result_status_path when every record has a "
                "result (matched by position), or result_index_path / result_id_path",
            )
        if self.result_id_path is not None and self.id_field is None:
            raise settings_error(
                "result_id_path matches results by the records' id_field, which is not set",
                key="id_field",
                hint="set id_field and id_from, or use result_index_path",
            )
        return self

    def resolved_auth(self) -> Literal["bearer", "basic", "api_key", "none"]:
        """The auth scheme in force, checked against the credentials the secret provides."""
        provided = [
            name
            for name, present in (
                ("bearer", self.token is not None),
                ("basic", self.username is not None or self.password is not None),
                ("api_key", self.api_key is not None),
            )
            if present
        ]
        if self.auth is None:
            if len(provided) > 1:
                raise ValueError(
                    "the secret holds credentials for several schemes "
                    f"({', '.join(provided)}); set auth to the one to use"
                )
            auth = provided[0] if provided else "none"
        else:
            auth = self.auth
            unused = [name for name in provided if name != auth]
            if unused:
                raise ValueError(
                    f"auth is {auth!r} but the secret also holds {', '.join(unused)} "
                    "credentials; remove them or change auth"
                )
        needs = {
            "bearer": self.token is not None,
            "basic": self.username is not None and self.password is not None,
            "api_key": self.api_key is not None,
            "none": True,
        }
        if not needs[auth]:
            wanted = " and ".join(AUTH_SECRET_KEYS[auth])
            raise ValueError(f"auth {auth!r} needs {wanted} in the destination's secret")
        if self.api_key_header is not None and auth != "api_key":
            # With auth written in config, the model has said so already (_api_key_header).
            raise ValueError(_API_KEY_HEADER_ONLY)
        return auth  # type: ignore[return-value]
