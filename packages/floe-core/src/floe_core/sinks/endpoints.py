"""Where a sink connects: what it declares so that the platform's ``egress_policy`` can govern it.

Before a sink is built, floe asks its class for the endpoints a destination's settings lead to
(``Sink.endpoints``) and checks each against ``manifest.yaml``'s ``egress_policy``: a host must
be allowed for the sink type and must not be or resolve to a denied network, a local file must
be under an allowed directory. While the run lasts, every resolution of those names is checked
again (the address connected to is the address checked), so a sink needs no code of its own to
be governed at connect time.

The default, :func:`endpoints_from_settings`, reads every URL among the settings
(``https://api.example.com``, ``postgresql://db:5432/crm``, ``sqlite:///exports/crm.db``) and a
``host`` / ``port`` pair. A sink that finds its destination some other way says so by
overriding ``Sink.endpoints``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = ["DEFAULT_PORTS", "Endpoint", "endpoints_from_settings"]

#: The port a URL scheme means when it names none.
DEFAULT_PORTS: dict[str, int] = {
    "http": 80,
    "https": 443,
    "postgresql": 5432,
    "postgres": 5432,
    "mysql": 3306,
    "mariadb": 3306,
}


@dataclass(frozen=True)
class Endpoint:
    """One place a destination sends data to: a host (and port), or a local file.

    Attributes:
        host: Host name or IP address (no user, password, path or query).
        port: TCP port; ``None`` when unknown.
        path: A local file the sink writes (absolute, or relative to the project directory).
        setting: The setting it was read from (``base_url``, ``url``), named in refusals.
    """

    host: str | None = None
    port: int | None = None
    path: str | None = None
    setting: str = ""

    def __post_init__(self) -> None:
        if (self.host is None) == (self.path is None):
            raise ValueError("an Endpoint is either a host (and port) or a file path")

    @classmethod
    def from_url(cls, url: str, *, setting: str = "") -> Endpoint | None:
        """The endpoint a URL names: its host and port, or the file of a ``sqlite:///`` URL.

        ``None`` for text that is not such a URL, and for an in-memory SQLite database.
        """
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError:
            return None
        scheme = parts.scheme.lower()
        backend = scheme.split("+", 1)[0]
        if backend == "sqlite":
            path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
            if not path or path == ":memory:":
                return None
            return cls(path=path, setting=setting)
        if not scheme or not parts.hostname:
            return None
        return cls(host=parts.hostname, port=port or DEFAULT_PORTS.get(backend), setting=setting)

    def __str__(self) -> str:
        if self.path is not None:
            return self.path
        assert self.host is not None
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}" if self.port is not None else host


def endpoints_from_settings(values: Mapping[str, Any]) -> list[Endpoint]:
    """The endpoints in a destination's settings: each URL value, and ``host`` (+ ``port``).

    Args:
        values: The destination's ``config:`` merged with its Secret, relative paths already
            made relative to the project.
    """
    found: list[Endpoint] = []
    for key, value in values.items():
        if isinstance(value, str) and "://" in value:
            endpoint = Endpoint.from_url(value, setting=str(key))
            if endpoint is not None:
                found.append(endpoint)
    host = values.get("host")
    if isinstance(host, str) and host.strip():
        port = values.get("port")
        number = int(port) if isinstance(port, int | str) and str(port).isdigit() else None
        found.append(Endpoint(host=host.strip(), port=number, setting="host"))
    return list(dict.fromkeys(found))
