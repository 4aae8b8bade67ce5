"""Where a sink connects: ``Endpoint`` and the default ``Sink.endpoints`` that reads URLs."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from floe_core import sinks
from floe_core.sinks import Endpoint
from floe_core.sinks.endpoints import endpoints_from_settings

pytestmark = pytest.mark.requirement("R17")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.example.com/v1?key=x", Endpoint(host="api.example.com", port=443)),
        ("http://API.example.com:8080", Endpoint(host="api.example.com", port=8080)),
        ("postgresql+psycopg://u:pw@db.internal/crm", Endpoint(host="db.internal", port=5432)),
        ("mysql+pymysql://root@127.0.0.1:3307/test", Endpoint(host="127.0.0.1", port=3307)),
        ("http://[2001:db8::1]:81/", Endpoint(host="2001:db8::1", port=81)),
        ("sqlite:////srv/exports/crm.db", Endpoint(path="/srv/exports/crm.db")),
        ("sqlite:///exports/crm.db", Endpoint(path="exports/crm.db")),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("not a url", None),
        ("http://host:notaport/", None),
    ],
)
def test_an_endpoint_from_a_url_holds_no_credential(url: str, expected: Endpoint | None) -> None:
    assert Endpoint.from_url(url) == expected


def test_an_endpoint_is_a_host_or_a_file() -> None:
    with pytest.raises(ValueError, match="either a host"):
        Endpoint()
    with pytest.raises(ValueError, match="either a host"):
        Endpoint(host="a", path="/b")
    assert str(Endpoint(host="2001:db8::1", port=5432)) == "[2001:db8::1]:5432"
    assert str(Endpoint(host="a.example.com")) == "a.example.com"


def test_the_default_reads_every_url_and_a_host_port_pair() -> None:
    found = endpoints_from_settings(
        {
            "url": "https://hooks.example.com/in",
            "token": "s3cr3t-token",
            "mirror": "https://hooks.example.com/in",  # the same endpoint, once
            "host": "smtp.example.com",
            "port": "2525",
            "retries": 3,
        }
    )
    assert found == [
        Endpoint(host="hooks.example.com", port=443, setting="url"),
        Endpoint(host="hooks.example.com", port=443, setting="mirror"),
        Endpoint(host="smtp.example.com", port=2525, setting="host"),
    ]


class _Quiet(sinks.Sink):
    """A third-party sink that overrides nothing about where it connects."""

    sink_type: ClassVar[str] = "quiet"
    capabilities: ClassVar[sinks.SinkCapabilities] = sinks.SinkCapabilities(default_batch_size=1)

    @property
    def identity(self) -> str:
        return "quiet"

    def encode(self, batch: Any, operation: sinks.Operation | None = None) -> sinks.Payload:
        raise NotImplementedError

    def send(self, payload: sinks.Payload, idempotency_key: str) -> sinks.BatchAck:
        raise NotImplementedError


class _QuietPlugin(sinks.SinkPlugin):
    sink_classes: ClassVar[dict[str, type[sinks.Sink] | str]] = {"quiet": _Quiet}


def test_a_sink_that_declares_nothing_is_governed_by_the_urls_in_its_settings() -> None:
    values = {"endpoint": "https://quiet.example.com:8443/push"}
    assert _QuietPlugin().endpoints("quiet", values) == [
        Endpoint(host="quiet.example.com", port=8443, setting="endpoint")
    ]
    assert _QuietPlugin().endpoints("quiet", {"bucket": "name"}) == []
