"""Connect-time enforcement of ``egress_policy``: every name resolved during a run is checked.

A host allowed by name in the prepare phase may resolve to another address when the sink
connects (DNS rebinding: a short-lived record that first answers a public address, then
169.254.169.254). While an :class:`AddressGuard` is active, ``socket.getaddrinfo`` is wrapped:
each answer for a name a destination (or the catalog) connects to is checked against that
destination's rules before the caller sees it, and a denied answer raises ``EgressPolicyError``
instead of returning an address to connect to. Other names (the object store holding the
table's files, the instance metadata service its credentials may come from, the Kubernetes
API) are not floe's destinations and pass unchecked.

Every client floe uses resolves through it and connects to exactly the addresses it returns:
httpx (``socket.create_connection``), psycopg 3 (which resolves in Python and hands libpq the
address as ``hostaddr``), PyMySQL, urllib, and the requests session of pyiceberg's REST catalog.
``EgressPolicyError`` is not an ``OSError``, so none of them mistakes it for a network failure
to retry: it reaches the engine, which stops the write (a configuration error).
"""

from __future__ import annotations

import socket
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from floe_core.schemas.egress_policy import ip_literal, normalize_host

if TYPE_CHECKING:
    from floe_core.egress.policy import EgressPolicy, Rules

__all__ = ["AddressGuard"]

_lock = threading.Lock()
_active: list[AddressGuard] = []
_wrapped: Callable[..., Any] | None = None  # the getaddrinfo the hook calls


class AddressGuard:
    """Checks the addresses names resolve to, while active (``with guard:``).

    Args:
        policy: The manifest's egress policy.
    """

    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy
        self._watched: dict[str, list[tuple[Rules, str, str]]] = defaultdict(list)

    def watch(self, host: str, rules: Rules, *, destination: str, sink_type: str = "") -> None:
        """Hold every resolution of ``host`` to ``rules`` (those of ``destination``)."""
        entry = (rules, destination, sink_type)
        watched = self._watched[normalize_host(host)]
        if entry not in watched:
            watched.append(entry)

    def check(self, host: str, answers: Sequence[tuple[Any, ...]]) -> None:
        """Raise ``EgressPolicyError`` when an address in ``answers`` (``getaddrinfo``'s)
        is denied to a destination that connects to ``host``."""
        addresses = [ip_literal(str(answer[4][0])) for answer in answers]
        found = [address for address in addresses if address is not None]
        for rules, destination, sink_type in self._watched.get(normalize_host(host), ()):
            self.policy.check_addresses(host, found, rules, destination, sink_type)

    def __enter__(self) -> AddressGuard:
        _activate(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _deactivate(self)


def _guarded_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
    assert _wrapped is not None
    answers = _wrapped(host, port, *args, **kwargs)
    if host:
        name = host.decode("idna") if isinstance(host, bytes) else str(host)
        for guard in list(_active):
            guard.check(name, answers)
    return answers


def _activate(guard: AddressGuard) -> None:
    global _wrapped
    with _lock:
        if _wrapped is None:  # else the hook is still in place (or in a wrapper of it)
            _wrapped = socket.getaddrinfo
            socket.getaddrinfo = _guarded_getaddrinfo
        _active.append(guard)


def _deactivate(guard: AddressGuard) -> None:
    global _wrapped
    with _lock:
        if guard in _active:
            _active.remove(guard)
        # Put back what was there, unless something wrapped the hook since (then the hook
        # stays in its chain, passing answers through unchecked while no guard is active).
        if not _active and socket.getaddrinfo is _guarded_getaddrinfo:
            socket.getaddrinfo = _wrapped  # type: ignore[assignment]
            _wrapped = None
