"""How the ``rest_api`` sink's HTTP failures become floe errors, in one place.

- timeout, refused or dropped connection, network error: ``SinkConnectionError``, transient
  (retried);
- TLS certificate not trusted, unsupported scheme: ``SinkConfigurationError``;
- HTTP 401, 403: ``SinkAuthenticationError`` (configuration);
- HTTP 408, 429, 5xx: ``SinkTransientWriteError``, transient, with the ``Retry-After`` asked for;
- HTTP 3xx, 404, 405: ``SinkConfigurationError`` (the address or method is wrong, not the rows);
- any other 4xx: ``SinkWriteError``, permanent: the destination refused the rows.

Messages name the method and URL without its query, quote the start of the answer, and have
the sink's secret values scrubbed.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from floe_core.secrets.redact import redact
from floe_core.sinks.errors import (
    PluginError,
    SinkAuthenticationError,
    SinkConfigurationError,
    SinkConnectionError,
    SinkTransientWriteError,
    SinkWriteError,
)

__all__ = ["SINK_TYPE", "HttpErrors", "parse_retry_after"]

SINK_TYPE = "rest_api"
_EXCERPT = 300


@dataclass(frozen=True)
class HttpErrors:
    """Builds the errors of one ``rest_api`` destination.

    Attributes:
        destination: Destination name.
        method: HTTP method of data requests.
        url: The endpoint.
        timeout_seconds: The configured timeout, for timeout messages.
        secrets: Values to scrub from messages.
    """

    destination: str
    method: str
    url: httpx.URL
    timeout_seconds: float
    secrets: tuple[str, ...] = ()

    def _error(self, cls: type[PluginError], message: str, **kwargs: Any) -> PluginError:
        return cls(
            redact(message, self.secrets),
            destination=self.destination,
            sink_type=SINK_TYPE,
            **kwargs,
        )

    def transport(self, exc: httpx.HTTPError) -> PluginError:
        """The floe error for an httpx exception (no answer from the destination)."""
        where = f"{self.method} {self.url.copy_with(query=None)}"
        if isinstance(exc, (httpx.UnsupportedProtocol, httpx.LocalProtocolError)):
            return self._error(
                SinkConfigurationError, f"cannot send {where}: {exc}", hint="check base_url"
            )
        if isinstance(exc, httpx.TimeoutException):
            return self._error(
                SinkConnectionError,
                f"{where} timed out after {self.timeout_seconds:g}s ({type(exc).__name__})",
                hint="raise timeout_seconds or check the endpoint's health",
            )
        if isinstance(exc, httpx.ConnectError) and _certificate_refused(exc):
            # Retrying cannot fix a certificate: fail now, and say what to change.
            return self._error(
                SinkConfigurationError,
                f"the TLS certificate of {self.url.host} could not be verified: {exc}",
                hint="give the endpoint a certificate from a trusted CA (or add its CA to the "
                "system trust store); for a test endpoint only, set verify_tls: false",
            )
        if isinstance(exc, httpx.ConnectError):
            return self._error(
                SinkConnectionError,
                f"cannot connect to {self.url.host}:{self.url.port or self.url.scheme}: {exc}",
                hint="check base_url and that the host is reachable from here",
            )
        if isinstance(exc, httpx.RemoteProtocolError):
            return self._error(
                SinkConnectionError,
                f"{where}: the connection was dropped before an answer ({exc})",
                hint="the destination closed the connection; it is retried",
            )
        if isinstance(exc, httpx.TransportError):
            return self._error(SinkConnectionError, f"{where}: network error: {exc}")
        return self._error(SinkWriteError, f"{where}: {exc}")

    def status(self, response: httpx.Response) -> PluginError:
        """The floe error for an answer that is not a success."""
        status = response.status_code
        where = f"{response.request.method} {response.request.url.copy_with(query=None)}"
        excerpt = response.text[:_EXCERPT].strip() if response.content else ""
        detail = f"{where} answered HTTP {status}" + (f": {excerpt}" if excerpt else "")
        if status in (401, 403):
            return self._error(
                SinkAuthenticationError,
                f"the destination refused the credentials ({detail})",
                http_status=status,
                hint="check the token / username and password / api_key in the destination's "
                "secret and their permissions",
            )
        if status in (408, 429) or status >= 500:
            return self._error(
                SinkTransientWriteError,
                detail,
                http_status=status,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if 300 <= status < 400 or status in (404, 405):
            location = response.headers.get("Location")
            return self._error(
                SinkConfigurationError,
                detail + (f" (redirect to {location})" if location else ""),
                http_status=status,
                hint="check base_url, path and method: the endpoint must accept "
                f"{self.method} at that exact address",
            )
        return self._error(SinkWriteError, detail, http_status=status)


def _certificate_refused(exc: BaseException) -> bool:
    """True when ``exc`` was caused by a failed TLS certificate check."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), or None."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)
