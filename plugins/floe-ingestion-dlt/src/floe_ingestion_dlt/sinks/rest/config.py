"""Settings of the ``rest_api`` sink: the destination's ``config`` merged with its secret."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = ["RestApiSettings"]

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
            raise ValueError(
                f"header(s) {', '.join(reserved)} are set by floe; credentials belong in the "
                "secret (token, username/password, api_key)"
            )
        return value

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
            wanted = {"bearer": "token", "basic": "username and password", "api_key": "api_key"}
            raise ValueError(f"auth {auth!r} needs {wanted[auth]} in the destination's secret")
        if self.api_key_header is not None and auth != "api_key":
            raise ValueError("api_key_header applies only with auth 'api_key'")
        return auth  # type: ignore[return-value]
