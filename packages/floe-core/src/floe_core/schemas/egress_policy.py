"""``egress_policy`` in ``manifest.yaml``: the hosts, networks and files data may be sent to.

``approved_sinks`` decides *how* data may leave (which sink types); ``egress_policy`` decides
*where*. Per sink type, ``allowed_hosts`` lists the hosts a destination may connect to and
``allowed_paths`` the directories a local file (a SQLite database) may be in; ``denied_networks``
lists address ranges no destination may reach, whatever name leads there::

    egress_policy:
      denied_networks: [10.0.0.0/8]          # every sink type, and the catalog
      sinks:
        rest_api:
          allowed_hosts: [api.hubapi.com, "*.salesforce.com:443"]
        sql_database:
          allowed_hosts: ["db.acme.internal:5432"]
          allowed_paths: [/srv/floe/exports]
          denied_networks: [192.168.0.0/16]
      catalog:
        allowed_hosts: [polaris.acme.internal]

An ``allowed_hosts`` entry is an exact host name (``api.example.com``), a wildcard that matches
any name below a domain (``*.example.com``: ``a.example.com`` and ``a.b.example.com``, not
``example.com``), an IP address, or a network in CIDR notation (``10.1.2.0/24``); a host name
or address may carry a port (``db.example.com:5432``, ``[2001:db8::1]:5432``), and then only that
port is allowed.

Whatever the policy says, link-local and cloud metadata addresses
(:data:`DEFAULT_DENIED_NETWORKS`) are refused unless an ``allowed_hosts`` entry names the
address or a network holding it. A sink type without rules may reach any other host.

This module holds the model and the one parser of the entries (:class:`HostPattern`,
:func:`parse_network`); ``floe_core.egress.policy`` applies them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from floe_core.schemas._validation import MODEL_CONFIG, NestedProblem, config_error
from floe_core.schemas.floe_spec import SINK_TYPE_PATTERN

__all__ = [
    "DEFAULT_DENIED_NETWORKS",
    "EgressPolicyConfig",
    "HostPattern",
    "HostRules",
    "IPAddress",
    "IPNetwork",
    "ip_literal",
    "normalize_host",
    "parse_network",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Refused unless explicitly allowed: link-local addresses (where cloud metadata services
#: answer, 169.254.169.254) and the other well-known metadata endpoints (AWS over IPv6,
#: Alibaba Cloud).
DEFAULT_DENIED_NETWORKS: tuple[str, ...] = (
    "169.254.0.0/16",
    "fe80::/10",
    "fd00:ec2::254/128",
    "100.100.100.200/32",
)

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_HOST_HINT = (
    "write a host name (api.example.com), a wildcard (*.example.com), an IP address or a "
    "CIDR network (10.0.0.0/24), optionally with a port (api.example.com:443, [2001:db8::1]:443)"
)


def parse_network(text: str) -> IPNetwork:
    """A network in CIDR notation (a bare address is a network of one).

    Raises:
        ValueError: Not a network, or host bits set (``10.0.0.1/8``), saying what to write.
    """
    try:
        return ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as exc:
        try:
            loose = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            raise ValueError(
                f"{text!r} is not a network in CIDR notation (e.g. 10.0.0.0/8, fd00::/8)"
            ) from exc
        raise ValueError(f"{text!r} has host bits set; write {loose}") from exc


def normalize_host(host: str) -> str:
    """A host name as policies compare it: lower case, no trailing dot, no IPv6 brackets."""
    return host.strip().strip("[]").rstrip(".").lower()


def ip_literal(host: str) -> IPAddress | None:
    """The address ``host`` is, when it is an IP address rather than a name."""
    try:
        return ipaddress.ip_address(normalize_host(host).split("%", 1)[0])
    except ValueError:
        return None


@dataclass(frozen=True)
class HostPattern:
    """One parsed ``allowed_hosts`` entry.

    Attributes:
        text: The entry as written.
        name: An exact host name, lower case.
        suffix: For ``*.example.com``: ``.example.com``.
        network: For an IP address or CIDR network: the addresses it covers.
        port: The only port allowed; ``None`` for any.
    """

    text: str
    name: str | None = None
    suffix: str | None = None
    network: IPNetwork | None = None
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> HostPattern:
        """Parse an entry.

        Raises:
            ValueError: The entry is none of the forms allowed, saying why.
        """
        entry = text.strip().lower()
        if not entry:
            raise ValueError("an allowed host must not be blank")
        if "://" in entry or "@" in entry:
            raise ValueError(f"{text!r} is a URL; allowed_hosts lists host names only")
        if entry in ("*", "*.*"):
            raise ValueError(
                f"{text!r} would allow every host; leave allowed_hosts out to allow any host"
            )
        if "/" in entry:
            return cls(text, network=parse_network(entry))
        host, port = _split_port(entry, text)
        address = ip_literal(host)
        if address is not None:
            return cls(text, network=ipaddress.ip_network(address), port=port)
        if host.startswith("*."):
            _check_name(host[2:], text)
            return cls(text, suffix=host[1:], port=port)
        _check_name(host, text)
        return cls(text, name=host.rstrip("."), port=port)

    def matches(self, host: str, port: int | None) -> bool:
        """Whether a connection to ``host`` on ``port`` is what this entry allows."""
        if self.port is not None and port != self.port:
            return False
        if self.network is not None:
            address = ip_literal(host)
            return address is not None and address in self.network
        name = normalize_host(host)
        if self.name is not None:
            return name == self.name
        assert self.suffix is not None
        return name.endswith(self.suffix) and len(name) > len(self.suffix)

    def covers(self, address: IPAddress) -> bool:
        """Whether this entry names ``address`` itself (an explicit allow of a denied range)."""
        return self.network is not None and address in self.network


def _split_port(entry: str, text: str) -> tuple[str, int | None]:
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError(f"{text!r}: write [address]:port")
        return host, _port(rest[1:], text) if rest else None
    if entry.count(":") > 1:
        return entry, None  # a bare IPv6 address: a port needs [address]:port
    host, colon, port = entry.partition(":")
    return host, _port(port, text) if colon else None


def _port(text: str, entry: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"{entry!r} has port {text!r}; a port is a number from 1 to 65535")
    return int(text)


def _check_name(name: str, text: str) -> None:
    if "*" in name:
        raise ValueError(f"{text!r}: a wildcard may only be the first label, as in *.example.com")
    labels = name.rstrip(".").split(".")
    if len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"{text!r} is not a valid host name")


def _check_entries(
    entries: list[str], parse: Callable[[str], object], what: str, hint: str
) -> None:
    """Raise one error with a nested problem (and line) per entry ``parse`` refuses."""
    problems = []
    for index, entry in enumerate(entries):
        try:
            parse(entry)
        except ValueError as exc:
            problems.append(NestedProblem((index,), f"{what}: {exc}", hint))
    if problems:
        raise config_error(
            "; ".join(problem.message for problem in problems), hint=hint, nested=problems
        )


_NETWORK_HINT = "write a CIDR network, e.g. 10.0.0.0/8 or fd00::/8"


class HostRules(BaseModel):
    """Where destinations of one sink type (or the catalog) may connect."""

    model_config = MODEL_CONFIG

    allowed_hosts: list[Annotated[str, Field(min_length=1)]] | None = None
    """Hosts that may be connected to: exact names, ``*.domain`` wildcards, IP addresses or
    CIDR networks, each optionally with ``:port``. Any other host is refused. Omitted: any
    host outside the denied networks.
    """

    allowed_paths: list[Annotated[str, Field(min_length=1)]] | None = None
    """Directories a local database file (SQLite) may be in, relative to the project directory
    or absolute. Omitted: any file, unless ``allowed_hosts`` is set (then none).
    """

    denied_networks: list[Annotated[str, Field(min_length=1)]] = []
    """Address ranges (CIDR) refused whatever name resolves to them, besides the ones every
    sink type refuses.
    """

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts_parse(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            _check_entries(value, HostPattern.parse, "allowed host", _HOST_HINT)
        return value

    @field_validator("denied_networks")
    @classmethod
    def _networks_parse(cls, value: list[str]) -> list[str]:
        _check_entries(value, parse_network, "denied network", _NETWORK_HINT)
        return value

    def host_patterns(self) -> list[HostPattern] | None:
        """The parsed ``allowed_hosts`` (``None`` when any host may be connected to)."""
        if self.allowed_hosts is None:
            return None
        return [HostPattern.parse(entry) for entry in self.allowed_hosts]

    def networks(self) -> list[IPNetwork]:
        """The parsed ``denied_networks``."""
        return [parse_network(entry) for entry in self.denied_networks]


class EgressPolicyConfig(BaseModel):
    """``egress_policy``: where destinations may connect, by sink type (``scope: enterprise``)."""

    model_config = MODEL_CONFIG

    denied_networks: list[Annotated[str, Field(min_length=1)]] = []
    """Address ranges (CIDR) no destination and no catalog connection may reach, besides the
    link-local and cloud metadata addresses refused by default.
    """

    sinks: dict[Annotated[str, Field(pattern=SINK_TYPE_PATTERN)], HostRules] = {}
    """Sink type -> the hosts, files and networks its destinations may reach."""

    catalog: HostRules | None = None
    """Where the Iceberg catalog may be reached (a REST catalog's ``uri``, its token endpoint).
    ``allowed_paths`` does not apply to it.
    """

    @field_validator("denied_networks")
    @classmethod
    def _networks_parse(cls, value: list[str]) -> list[str]:
        _check_entries(value, parse_network, "denied network", _NETWORK_HINT)
        return value

    def networks(self) -> list[IPNetwork]:
        """The parsed top-level ``denied_networks``."""
        return [parse_network(entry) for entry in self.denied_networks]
