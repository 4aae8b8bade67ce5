"""acme-lines: a floe sink that POSTs rows as JSON lines; written only against floe_core.sinks."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any, ClassVar

from floe_core import sinks
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

if TYPE_CHECKING:
    import pyarrow as pa


class LinesSettings(BaseModel):
    """The destination's ``config:`` merged with its Secret (``token``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    url: str
    token: SecretStr


class JsonLinesSink(sinks.Sink):
    """One POST per batch, one JSON object per line; the answer lists the lines it refused."""

    sink_type: ClassVar[str] = "json_lines"
    capabilities: ClassVar[sinks.SinkCapabilities] = sinks.SinkCapabilities(
        default_batch_size=500,
        max_concurrency=4,
        operations=frozenset({sinks.Operation.UPSERT, sinks.Operation.DELETE}),
    )
    settings_model: ClassVar[type[BaseModel]] = LinesSettings
    secret_fields: ClassVar[frozenset[str]] = frozenset({"url", "token"})  # from the Secret

    @classmethod
    def secret_keys(cls, config: dict[str, Any]) -> list[list[str]]:
        return [["token"]]

    def __init__(self, config: sinks.SinkConfig) -> None:
        super().__init__(config)
        try:
            self.settings = LinesSettings.model_validate(config.connection_config)
        except ValidationError as exc:
            problems = [f"{e['loc'][0]}: {e['msg']}" for e in exc.errors(include_input=False)]
            raise self._error(sinks.SinkConfigurationError, "; ".join(problems)) from None
        self._call("HEAD", b"", {})  # fail fast: unreachable host, refused token

    @property
    def identity(self) -> str:
        return f"POST {self.settings.url}"

    @property
    def secret_values(self) -> list[str]:
        return [self.settings.token.get_secret_value()]

    def encode(
        self, batch: pa.RecordBatch, operation: sinks.Operation | None = None
    ) -> sinks.Payload:
        lines = (json.dumps(row, default=str, sort_keys=True) + "\n" for row in batch.to_pylist())
        op = operation or self.default_operation
        return sinks.Payload(rows=batch.num_rows, body="".join(lines).encode(), operation=op)

    def send(self, payload: sinks.Payload, idempotency_key: str) -> sinks.BatchAck:
        headers = {"Idempotency-Key": idempotency_key, "X-Operation": payload.operation.value}
        answer = json.loads(self._call("POST", payload.body, headers) or b"{}")
        refused = [sinks.RowRejection(r["line"], r["reason"]) for r in answer.get("rejected", [])]
        return sinks.BatchAck(rows_confirmed=payload.rows - len(refused), rejections=refused)

    def _call(self, method: str, body: bytes, headers: dict[str, str]) -> bytes:
        request = urllib.request.Request(self.settings.url, data=body or None, method=method)
        for name, value in {**headers, "Authorization": f"Bearer {self.secret_values[0]}"}.items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as exc:  # the destination answered: which error is it?
            status, wait = exc.code, exc.headers.get("Retry-After")
            kind: type[sinks.PluginError] = sinks.SinkWriteError  # refused for good
            if status in (401, 403):
                kind = sinks.SinkAuthenticationError
            elif status in (408, 429) or status >= 500:
                kind = sinks.SinkTransientWriteError  # retried, after Retry-After if given
            message = f"answered {status}: {exc.read()[:200].decode(errors='replace')}"
            retry_after = float(wait) if wait and wait.isdigit() else None
            raise self._error(kind, message, http_status=status, retry_after=retry_after) from exc
        except OSError as exc:  # refused, reset, timed out: retried
            raise self._error(
                sinks.SinkConnectionError, f"cannot reach {self.identity}: {exc}"
            ) from exc

    def _error(
        self, kind: type[sinks.PluginError], message: str, **details: Any
    ) -> sinks.PluginError:
        return kind(message, destination=self.destination, sink_type=self.sink_type, **details)


class AcmeLinesPlugin(sinks.PluginMetadata, sinks.SinkPlugin):
    """What the ``floe.sinks`` entry point names: the sink types, and the plugin's metadata."""

    sink_classes: ClassVar[dict[str, type[sinks.Sink] | str]] = {"json_lines": JsonLinesSink}

    @property
    def name(self) -> str:
        return "acme-lines"

    @property
    def version(self) -> str:
        return "1.0.0"

    @property
    def floe_api_version(self) -> str:
        return "1.0"
