"""Settings and fixtures for every test of the workspace (loaded before any test module)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

# The conformance suite's asserts live in floe_core: let pytest explain them as it does a
# test's own. Registered here, before any test imports the suite.
pytest.register_assert_rewrite("floe_core.sinks.testing")


@pytest.fixture(scope="session")
def _span_exporter() -> Any:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def spans(_span_exporter: Any) -> Any:
    """An ``InMemorySpanExporter`` on the real OpenTelemetry SDK, emptied for this test."""
    _span_exporter.clear()
    return _span_exporter


# --- the network, for egress policy tests ---------------------------------------------------

_LOOPBACK = ("127.0.0.1", "::1")


@pytest.fixture
def no_foreign_connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Fail a connection to any address but 127.0.0.1 / ::1 instead of making it (and the test
    at teardown). Covers every client that connects from Python (httpx, PyMySQL, urllib)."""
    attempts: list[Any] = []
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in _LOOPBACK:
            attempts.append(address)
            raise AssertionError(f"the test tried to connect to {address}")
        real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    yield attempts
    assert attempts == [], f"connections attempted outside 127.0.0.1: {attempts}"


@pytest.fixture
def fake_dns(
    monkeypatch: pytest.MonkeyPatch, no_foreign_connections: list[Any]
) -> dict[str, list[str]]:
    """``socket.getaddrinfo`` answering from this table (name -> addresses, editable while the
    test runs); IP literals and ``localhost`` resolve as usual; any other name fails the test,
    so no DNS query leaves the machine. Connections outside 127.0.0.1 fail too."""
    table: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name in table:
            return [_answer(address, port) for address in table[name]]
        if name in ("localhost", *_LOOPBACK):
            return real(host, port, *args, **kwargs)
        raise AssertionError(f"the test resolved the unknown name {name!r}")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


def _answer(address: str, port: Any) -> tuple[Any, ...]:
    number = int(port or 0)
    if ":" in address:
        return (
            socket.AF_INET6,
            socket.SOCK_STREAM,
            socket.IPPROTO_TCP,
            "",
            (address, number, 0, 0),
        )
    return (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, number))


def _pg_admin() -> Any:
    """An autocommit connection to the shared PostgreSQL server's ``test`` database."""
    import psycopg

    try:
        return psycopg.connect(
            "postgresql://postgres@127.0.0.1:5432/test", autocommit=True, connect_timeout=5
        )
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable on 127.0.0.1:5432 ({exc}); "
            "start it with: bash scripts/services.sh"
        )


@pytest.fixture
def pg_database() -> Iterator[str]:
    """The URL of a fresh database on the shared PostgreSQL server, dropped afterwards."""
    import uuid

    name = f"floe_db_{uuid.uuid4().hex[:10]}"
    with _pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh schema in the shared PostgreSQL server's ``test`` database, dropped afterwards."""
    import uuid

    name = f"floe_test_{uuid.uuid4().hex[:10]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
        try:
            yield name
        finally:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
