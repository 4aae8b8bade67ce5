"""EgressPolicy and the address guard: which hosts, addresses and files a destination may reach.

Names are resolved by a fake resolver (``fake_dns``, in the workspace conftest); nothing here
connects anywhere but 127.0.0.1, and its ``no_foreign_connections`` guard fails a test that
tries.
"""

from __future__ import annotations

import socket
import threading
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from floe_core.egress.address_guard import AddressGuard
from floe_core.egress.policy import EgressPolicy
from floe_core.schemas.egress_policy import EgressPolicyConfig
from floe_core.sinks import EgressPolicyError, Endpoint

pytestmark = pytest.mark.requirement("R17")

FakeDns = dict[str, list[str]]  # the workspace conftest's fake_dns: name -> addresses


def _policy(tmp_path: Path, **config: Any) -> EgressPolicy:
    return EgressPolicy(
        EgressPolicyConfig.model_validate(config),
        project_dir=tmp_path,
        manifest_path=tmp_path / "manifest.yaml",
    )


def _refusal(
    policy: EgressPolicy, endpoint: Endpoint, sink_type: str = "rest_api"
) -> EgressPolicyError:
    with pytest.raises(EgressPolicyError) as caught:
        policy.check(endpoint, policy.for_sink(sink_type), destination="crm", sink_type=sink_type)
    return caught.value


def _allowed(policy: EgressPolicy, endpoint: Endpoint, sink_type: str = "rest_api") -> None:
    policy.check(endpoint, policy.for_sink(sink_type), destination="crm", sink_type=sink_type)


# --- names ------------------------------------------------------------------------------


def test_a_host_outside_allowed_hosts_is_refused_by_name_without_resolving_it(
    tmp_path: Path, fake_dns: FakeDns
) -> None:
    policy = _policy(tmp_path, sinks={"rest_api": {"allowed_hosts": ["api.acme.test"]}})
    error = _refusal(policy, Endpoint(host="evil.test", port=443, setting="base_url"))
    text = str(error)
    assert text.startswith("[rest_api/crm] may not connect to evil.test:443 (its base_url)")
    assert "egress_policy.sinks.rest_api.allowed_hosts (api.acme.test)" in text
    assert f"egress_policy of {tmp_path / 'manifest.yaml'}" in text
    assert "platform team" in text
    assert error.host == "evil.test:443"
    assert error.rule == "egress_policy.sinks.rest_api.allowed_hosts"
    assert error.destination == "crm"
    assert not error.retryable  # a configuration error: the engine stops at once


def test_an_allowed_host_passes_when_it_resolves_outside_denied_networks(
    tmp_path: Path, fake_dns: FakeDns
) -> None:
    fake_dns["api.acme.test"] = ["203.0.113.10"]
    policy = _policy(tmp_path, sinks={"rest_api": {"allowed_hosts": ["*.acme.test:443"]}})
    _allowed(policy, Endpoint(host="api.acme.test", port=443))
    assert "8443" in str(_refusal(policy, Endpoint(host="api.acme.test", port=8443)))
    assert "acme.test" in str(_refusal(policy, Endpoint(host="acme.test", port=443)))


def test_rules_of_one_sink_type_do_not_apply_to_another(tmp_path: Path, fake_dns: FakeDns) -> None:
    fake_dns["db.acme.test"] = ["203.0.113.20"]
    policy = _policy(tmp_path, sinks={"rest_api": {"allowed_hosts": ["api.acme.test"]}})
    _allowed(policy, Endpoint(host="db.acme.test", port=5432), sink_type="sql_database")


# --- addresses ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address", ["169.254.169.254", "169.254.1.1", "fe80::1", "fd00:ec2::254", "100.100.100.200"]
)
def test_metadata_and_link_local_addresses_are_refused_by_default(
    tmp_path: Path, address: str
) -> None:
    policy = EgressPolicy(None, project_dir=tmp_path)
    error = _refusal(policy, Endpoint(host=address, port=80))
    assert f"may not connect to {address}: it is in a network refused by floe's default" in str(
        error
    )
    assert "link-local and cloud metadata" in error.rule


def test_an_ipv4_mapped_metadata_address_is_the_metadata_address(tmp_path: Path) -> None:
    policy = EgressPolicy(None, project_dir=tmp_path)
    _refusal(policy, Endpoint(host="::ffff:169.254.169.254", port=80))


def test_a_name_resolving_to_the_metadata_address_is_refused(
    tmp_path: Path, fake_dns: FakeDns
) -> None:
    fake_dns["crm.rebind.test"] = ["203.0.113.5", "169.254.169.254"]
    policy = _policy(tmp_path, sinks={"rest_api": {"allowed_hosts": ["crm.rebind.test"]}})
    error = _refusal(policy, Endpoint(host="crm.rebind.test", port=443))
    assert "its name resolves to 169.254.169.254" in str(error)
    assert "(169.254.0.0/16)" in str(error)


def test_an_explicit_allow_lifts_the_default_denial_for_what_it_names(tmp_path: Path) -> None:
    policy = _policy(tmp_path, sinks={"rest_api": {"allowed_hosts": ["169.254.10.0/24"]}})
    _allowed(policy, Endpoint(host="169.254.10.7", port=80))
    assert "allowed_hosts" in _refusal(policy, Endpoint(host="169.254.169.254", port=80)).rule


def test_configured_denied_networks_win_over_allowed_hosts(
    tmp_path: Path, fake_dns: FakeDns
) -> None:
    fake_dns["db.acme.test"] = ["10.20.0.5"]
    fake_dns["api.acme.test"] = ["192.168.1.9"]
    policy = _policy(
        tmp_path,
        denied_networks=["10.0.0.0/8"],
        sinks={
            "sql_database": {"allowed_hosts": ["db.acme.test"]},
            "rest_api": {"denied_networks": ["192.168.0.0/16"]},
        },
    )
    error = _refusal(policy, Endpoint(host="db.acme.test", port=5432), "sql_database")
    assert error.rule == "egress_policy.denied_networks 10.0.0.0/8"
    error = _refusal(policy, Endpoint(host="api.acme.test", port=443))
    assert error.rule == "egress_policy.sinks.rest_api.denied_networks 192.168.0.0/16"


def test_a_name_that_does_not_resolve_is_left_to_the_sink_to_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_answer(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_answer)
    _allowed(EgressPolicy(None, project_dir=tmp_path), Endpoint(host="gone.test", port=443))


# --- files --------------------------------------------------------------------------------


def test_sqlite_files_must_be_under_an_allowed_directory(tmp_path: Path) -> None:
    (tmp_path / "exports").mkdir()
    policy = _policy(tmp_path, sinks={"sql_database": {"allowed_paths": ["exports"]}})
    _allowed(policy, Endpoint(path=str(tmp_path / "exports" / "crm.db")), "sql_database")
    _allowed(policy, Endpoint(path="exports/sub/crm.db"), "sql_database")  # project-relative
    error = _refusal(policy, Endpoint(path=str(tmp_path / "other.db")), "sql_database")
    assert f"may not write the file {tmp_path / 'other.db'}" in str(error)
    assert f"allowed_paths ({tmp_path / 'exports'})" in str(error)
    # `..` cannot climb out of an allowed directory
    _refusal(policy, Endpoint(path=str(tmp_path / "exports" / ".." / "x.db")), "sql_database")


def test_a_symlink_out_of_an_allowed_directory_is_followed(tmp_path: Path) -> None:
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "link.db").symlink_to(tmp_path / "elsewhere.db")
    policy = _policy(tmp_path, sinks={"sql_database": {"allowed_paths": ["exports"]}})
    _refusal(policy, Endpoint(path=str(tmp_path / "exports" / "link.db")), "sql_database")


def test_allowed_hosts_without_allowed_paths_allow_no_file(tmp_path: Path) -> None:
    policy = _policy(tmp_path, sinks={"sql_database": {"allowed_hosts": ["db.acme.test"]}})
    error = _refusal(policy, Endpoint(path=str(tmp_path / "crm.db")), "sql_database")
    assert "lists allowed_hosts and no allowed_paths, so no local file" in str(error)


def test_without_rules_any_file_may_be_written(tmp_path: Path) -> None:
    _allowed(EgressPolicy(None, project_dir=tmp_path), Endpoint(path="/tmp/x.db"), "sql_database")


# --- at connect time: the address guard -------------------------------------------------


@pytest.fixture
def local_server() -> Iterator[tuple[int, list[str]]]:
    """An HTTP server on 127.0.0.1: its port, and the paths requested."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], seen
    server.shutdown()
    server.server_close()


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return bytes(response.read())


def test_the_guard_refuses_a_name_that_now_resolves_to_a_denied_address(
    tmp_path: Path, fake_dns: FakeDns, local_server: tuple[int, list[str]]
) -> None:
    port, seen = local_server
    fake_dns["crm.rebind.test"] = ["127.0.0.1"]
    policy = _policy(tmp_path, sinks={"rest_api": {"allowed_hosts": ["crm.rebind.test"]}})
    rules = policy.for_sink("rest_api")
    _allowed(policy, Endpoint(host="crm.rebind.test", port=port))  # prepare: 127.0.0.1
    with AddressGuard(policy) as guard:
        guard.watch("crm.rebind.test", rules, destination="crm", sink_type="rest_api")
        assert _get(f"http://crm.rebind.test:{port}/first") == b"ok"
        fake_dns["crm.rebind.test"] = ["169.254.169.254"]  # the record changes
        with pytest.raises(EgressPolicyError) as caught:
            _get(f"http://crm.rebind.test:{port}/second")
    assert seen == ["/first"]
    assert "[rest_api/crm] may not connect to crm.rebind.test" in str(caught.value)
    assert "resolves to 169.254.169.254" in str(caught.value)


def test_the_guard_leaves_names_no_destination_connects_to_alone(
    tmp_path: Path, fake_dns: FakeDns
) -> None:
    """The object store, the instance metadata service handing out its credentials, the
    Kubernetes API: not destinations, resolved unchecked."""
    fake_dns["imds.test"] = ["169.254.169.254"]
    with AddressGuard(_policy(tmp_path, denied_networks=["10.0.0.0/8"])):
        assert socket.getaddrinfo("imds.test", 80)[0][4][0] == "169.254.169.254"


def test_the_guard_puts_the_resolver_back(tmp_path: Path, fake_dns: FakeDns) -> None:
    before = socket.getaddrinfo
    with AddressGuard(_policy(tmp_path)), AddressGuard(_policy(tmp_path)):
        assert socket.getaddrinfo is not before
    assert socket.getaddrinfo is before
    fake_dns["sneaky.test"] = ["169.254.169.254"]
    assert socket.getaddrinfo("sneaky.test", 80)[0][4][0] == "169.254.169.254"


def test_the_connection_guard_of_these_tests_works(no_foreign_connections: list[Any]) -> None:
    connect: Callable[..., Any] = socket.create_connection
    with pytest.raises(AssertionError, match="tried to connect"):
        connect(("192.0.2.1", 80), timeout=1)
    no_foreign_connections.clear()
