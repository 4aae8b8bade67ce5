"""Applying ``manifest.yaml``'s ``egress_policy``: may this destination reach this host?

:class:`EgressPolicy` answers for one endpoint (a host and port, or a local file) and one
set of rules (a sink type's, or the catalog's), and for the addresses a name resolved to.
The order of the checks:

1. a host must match the rules' ``allowed_hosts`` when they list any (checked on the name,
   before anything is resolved); a file must be under one of ``allowed_paths``;
2. the address a host is, or every address its name resolves to, must be outside the
   top-level and the sink type's ``denied_networks``;
3. and outside the link-local and cloud metadata networks
   (:data:`~floe_core.schemas.egress_policy.DEFAULT_DENIED_NETWORKS`), unless an
   ``allowed_hosts`` entry names that address or a network holding it.

A refusal is an ``EgressPolicyError`` naming the destination, the host, the rule and that the
platform team's manifest decides; it never holds a credential. Without an ``egress_policy``
only the third check applies.

The egress runner checks each destination in its prepare phase, and
``floe_core.egress.gate.check_destinations`` a whole project without building any sink.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe_core.schemas.egress_policy import (
    DEFAULT_DENIED_NETWORKS,
    EgressPolicyConfig,
    HostPattern,
    HostRules,
    IPAddress,
    IPNetwork,
    ip_literal,
    parse_network,
)
from floe_core.sinks.errors import EgressPolicyError

if TYPE_CHECKING:
    from floe_core.sinks.endpoints import Endpoint

__all__ = ["EgressPolicy", "Resolve", "Rules"]

_DEFAULTS = tuple(parse_network(text) for text in DEFAULT_DENIED_NETWORKS)
_DEFAULT_RULE = "floe's default denial of link-local and cloud metadata addresses"

#: ``socket.getaddrinfo``'s signature, as far as the policy uses it.
Resolve = Callable[..., Sequence[tuple[Any, ...]]]


@dataclass(frozen=True)
class Rules:
    """The rules one destination (or the catalog) is held to.

    Attributes:
        label: Where they are written, e.g. ``egress_policy.sinks.rest_api``.
        hosts: The allowed hosts; ``None`` when any host may be reached.
        paths: The directories files may be in; ``None`` when any file may be written.
        denied: Configured denied networks, each with the rule that denies it.
    """

    label: str
    hosts: tuple[HostPattern, ...] | None
    paths: tuple[Path, ...] | None
    denied: tuple[tuple[IPNetwork, str], ...]

    @property
    def restricts(self) -> bool:
        """True when only listed hosts or files may be reached."""
        return self.hosts is not None or self.paths is not None

    def refusal(self, address: IPAddress) -> str | None:
        """The rule that refuses ``address`` (written as in the manifest), or ``None``."""
        candidates = [address]
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)  # ::ffff:169.254.169.254 is 169.254.169.254
        for candidate in candidates:
            for network, rule in self.denied:
                if candidate.version == network.version and candidate in network:
                    return f"{rule} {network}"
            for network in _DEFAULTS:
                if candidate.version != network.version or candidate not in network:
                    continue
                if not any(p.covers(candidate) for p in self.hosts or ()):
                    return f"{_DEFAULT_RULE} ({network})"
        return None


class EgressPolicy:
    """The ``egress_policy`` of one manifest, ready to check endpoints against.

    Args:
        config: The manifest's ``egress_policy``; ``None``: only the default denial applies.
        project_dir: What relative ``allowed_paths`` are relative to.
        manifest_path: Named in refusals: the file that decides.
        resolve: Resolves names (``socket.getaddrinfo``, looked up when called by default).
    """

    def __init__(
        self,
        config: EgressPolicyConfig | None,
        *,
        project_dir: Path,
        manifest_path: Path | None = None,
        resolve: Resolve | None = None,
    ) -> None:
        self.config = config or EgressPolicyConfig()
        self.project_dir = project_dir
        self.manifest_path = manifest_path
        self._resolve = resolve

    def for_sink(self, sink_type: str) -> Rules:
        """The rules destinations of ``sink_type`` are held to."""
        return self._rules(f"egress_policy.sinks.{sink_type}", self.config.sinks.get(sink_type))

    def for_catalog(self) -> Rules:
        """The rules the catalog connection is held to."""
        return self._rules("egress_policy.catalog", self.config.catalog, paths=False)

    def _rules(self, label: str, rules: HostRules | None, *, paths: bool = True) -> Rules:
        denied = [(net, "egress_policy.denied_networks") for net in self.config.networks()]
        if rules is None:
            return Rules(label, None, None, tuple(denied))
        denied += [(net, f"{label}.denied_networks") for net in rules.networks()]
        hosts = rules.host_patterns()
        directories: tuple[Path, ...] | None = None
        if paths and rules.allowed_paths is not None:
            directories = tuple(self._directory(entry) for entry in rules.allowed_paths)
        elif paths and hosts is not None:
            directories = ()  # hosts are restricted: files are too, until some are allowed
        return Rules(label, None if hosts is None else tuple(hosts), directories, tuple(denied))

    def _directory(self, entry: str) -> Path:
        return (self.project_dir / Path(entry).expanduser()).resolve()

    # --- checks -------------------------------------------------------------------------

    def check(
        self, endpoint: Endpoint, rules: Rules, *, destination: str, sink_type: str = ""
    ) -> None:
        """Refuse ``endpoint`` unless ``rules`` allow it: its name (or file), then the
        addresses the name resolves to now.

        Raises:
            EgressPolicyError: The host, an address it resolves to, or the file is refused.
        """
        if endpoint.path is not None:
            self._check_path(endpoint, rules, destination, sink_type)
            return
        assert endpoint.host is not None
        if rules.hosts is not None and not any(
            p.matches(endpoint.host, endpoint.port) for p in rules.hosts
        ):
            listed = ", ".join(p.text for p in rules.hosts) or "none"
            raise self._refused(
                f"may not connect to {endpoint}{_from(endpoint)}: "
                f"it matches no entry of {rules.label}.allowed_hosts ({listed})",
                str(endpoint),
                f"{rules.label}.allowed_hosts",
                destination,
                sink_type,
            )
        literal = ip_literal(endpoint.host)
        addresses = [literal] if literal is not None else self._addresses(endpoint)
        self.check_addresses(endpoint.host, addresses, rules, destination, sink_type)

    def check_addresses(
        self,
        host: str,
        addresses: Sequence[IPAddress],
        rules: Rules,
        destination: str,
        sink_type: str = "",
    ) -> None:
        """Refuse ``host`` when one of the addresses it is or resolved to is denied.

        Raises:
            EgressPolicyError: Naming the address and the rule that denies it.
        """
        for address in addresses:
            rule = rules.refusal(address)
            if rule is None:
                continue
            literal = ip_literal(host)
            what = "it is" if literal is not None else f"its name resolves to {address}, and"
            raise self._refused(
                f"may not connect to {host}: {what} in a network refused by {rule}",
                host,
                rule,
                destination,
                sink_type,
            )

    def _addresses(self, endpoint: Endpoint) -> list[IPAddress]:
        """What the endpoint's name resolves to now; none when it does not resolve (the sink
        then reports the host unreachable)."""
        resolve = self._resolve or socket.getaddrinfo
        try:
            answers = resolve(endpoint.host, endpoint.port, type=socket.SOCK_STREAM)
        except OSError:
            return []
        found = [ip_literal(str(answer[4][0])) for answer in answers]
        return [address for address in found if address is not None]

    def _check_path(
        self, endpoint: Endpoint, rules: Rules, destination: str, sink_type: str
    ) -> None:
        if rules.paths is None:
            return
        assert endpoint.path is not None
        file = (self.project_dir / Path(endpoint.path).expanduser()).resolve()
        if any(file.is_relative_to(directory) for directory in rules.paths):
            return
        if rules.paths:
            why = f"it is under none of {rules.label}.allowed_paths ("
            why += ", ".join(str(d) for d in rules.paths) + ")"
        else:
            why = f"{rules.label} lists allowed_hosts and no allowed_paths, so no local file"
        raise self._refused(
            f"may not write the file {file}{_from(endpoint)}: {why}",
            str(file),
            f"{rules.label}.allowed_paths",
            destination,
            sink_type,
        )

    def undeclared(self, rules: Rules, destination: str, sink_type: str) -> EgressPolicyError:
        """The refusal of a destination whose sink says nowhere it connects, under rules
        that allow only listed hosts: where it sends cannot be checked."""
        return self._refused(
            f"cannot be checked against {rules.label}: its sink "
            "declares no host or file it connects to",
            "(undeclared)",
            rules.label,
            destination,
            sink_type,
            hint="the sink's plugin must declare where it connects (Sink.endpoints); until "
            "then only the platform team can allow it, by removing the sink type's rules "
            "from manifest.yaml's egress_policy",
        )

    def _refused(
        self,
        message: str,
        host: str,
        rule: str,
        destination: str,
        sink_type: str,
        *,
        hint: str | None = None,
    ) -> EgressPolicyError:
        where = f" {self.manifest_path}" if self.manifest_path is not None else " manifest.yaml"
        return EgressPolicyError(
            f"{message}; nothing was sent",
            host=host,
            rule=rule,
            destination=destination,
            sink_type=sink_type,
            hint=hint
            or f"the platform team decides where data may go, in egress_policy of{where}: "
            "ask them to allow it there, or point the destination at an allowed host",
        )


def _from(endpoint: Endpoint) -> str:
    return f" (its {endpoint.setting})" if endpoint.setting else ""
