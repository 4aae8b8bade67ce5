"""Secrets from the Kubernetes API: when it is asked, what it asks, and its errors."""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from floe_core.secrets.errors import SecretBackendError, SecretKeyMissingError, SecretNotFoundError
from floe_core.secrets.kubernetes import KubernetesSecrets
from floe_core.secrets.resolver import EnvironmentSecrets, MountedSecretDirectory, SecretResolver
from kubernetes.client.exceptions import ApiException

PLANTED = "s3cr3t-Planted-Value-91f2"


class FakeCoreV1:
    """Stands in for CoreV1Api at the injection seam (not a patched library)."""

    def __init__(self, secrets: dict[tuple[str, str], dict[str, str]], status: int = 0) -> None:
        self.secrets = secrets
        self.status = status
        self.calls: list[tuple[str, str]] = []

    def read_namespaced_secret(self, name: str, namespace: str, **_: Any) -> Any:
        self.calls.append((namespace, name))
        if self.status:
            raise ApiException(status=self.status, reason="Forbidden")
        if (namespace, name) not in self.secrets:
            raise ApiException(status=404, reason="Not Found")
        data = {
            k: base64.b64encode(v.encode()).decode()
            for k, v in self.secrets[(namespace, name)].items()
        }
        return SimpleNamespace(data=data)


def _service_account(tmp_path: Path, namespace: str = "analytics") -> Path:
    folder = tmp_path / "serviceaccount"
    folder.mkdir()
    (folder / "namespace").write_text(namespace + "\n", encoding="utf-8")
    (folder / "token").write_text("sa-token-value", encoding="utf-8")
    return folder


@pytest.mark.requirement("B3")
def test_kubernetes_not_asked_outside_a_cluster(tmp_path: Path) -> None:
    api = FakeCoreV1({("analytics", "db"): {"url": "x"}})
    source = KubernetesSecrets({}, api_factory=lambda: api)

    assert source.active is False
    assert source.lookup("db") is None
    assert api.calls == []


@pytest.mark.requirement("B3")
def test_kubernetes_reads_from_service_account_namespace(tmp_path: Path) -> None:
    environ = {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}
    api = FakeCoreV1({("analytics", "db"): {"url": PLANTED}})
    source = KubernetesSecrets(
        environ, service_account_dir=_service_account(tmp_path), api_factory=lambda: api
    )
    resolver = SecretResolver(
        [MountedSecretDirectory([tmp_path / "none"]), EnvironmentSecrets(environ), source]
    )

    secret = resolver.resolve("db")

    assert api.calls == [("analytics", "db")]
    assert secret.reveal() == {"url": PLANTED}
    assert secret.source == "Kubernetes Secret analytics/db"
    with pytest.raises(SecretKeyMissingError) as caught:
        secret.require(["token"])
    assert "kubectl patch secret db" in caught.value.hint


@pytest.mark.requirement("B3")
def test_kubernetes_is_last_in_order(tmp_path: Path) -> None:
    environ = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "FLOE_SECRET_DB__URL": "from-env"}
    api = FakeCoreV1({("analytics", "db"): {"url": "from-api"}})
    kube = KubernetesSecrets(
        environ, service_account_dir=_service_account(tmp_path), api_factory=lambda: api
    )
    resolver = SecretResolver.for_project(tmp_path, environ=environ, kubernetes=kube)

    assert resolver.resolve("db").reveal() == {"url": "from-env"}
    assert api.calls == []


@pytest.mark.requirement("B3")
def test_kubernetes_missing_secret_and_forbidden(tmp_path: Path) -> None:
    environ = {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}
    sa = _service_account(tmp_path)
    missing = SecretResolver.for_project(
        tmp_path,
        environ=environ,
        kubernetes=KubernetesSecrets(
            environ, service_account_dir=sa, api_factory=lambda: FakeCoreV1({})
        ),
    )
    with pytest.raises(SecretNotFoundError, match="namespace 'analytics'"):
        missing.resolve("db")

    forbidden = KubernetesSecrets(
        environ, service_account_dir=sa, api_factory=lambda: FakeCoreV1({}, status=403)
    )
    with pytest.raises(SecretBackendError, match="refused") as caught:
        forbidden.lookup("db")
    assert "RoleBinding" in caught.value.hint


@pytest.mark.requirement("B3")
def test_kubernetes_unreachable_api_is_a_clear_error(tmp_path: Path, closed_port: int) -> None:
    """The official client, really built, against an address where nothing listens."""
    environ = {
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": str(closed_port),
    }
    resolver = SecretResolver.for_project(
        tmp_path,
        environ=environ,
        kubernetes=KubernetesSecrets(environ, service_account_dir=_service_account(tmp_path)),
    )

    with pytest.raises(SecretBackendError) as caught:
        resolver.resolve("db")

    assert (
        f"cannot reach the Kubernetes API at https://127.0.0.1:{environ['KUBERNETES_SERVICE_PORT']}"
        in str(caught.value)
    )
    assert "sa-token-value" not in str(caught.value)


@pytest.mark.requirement("B3")
def test_kubernetes_without_service_account_token(tmp_path: Path) -> None:
    environ = {"KUBERNETES_SERVICE_HOST": "127.0.0.1"}
    source = KubernetesSecrets(environ, service_account_dir=tmp_path / "absent")
    with pytest.raises(SecretBackendError, match="no service account token"):
        source.lookup("db")


# A real HTTPS API server speaking the Secret endpoint: the official client path end to end.


@pytest.fixture
def fake_apiserver(tmp_path: Path) -> Iterator[tuple[int, Path, list[dict[str, str]]]]:
    sa = _service_account(tmp_path, namespace="team-a")
    key, cert = tmp_path / "tls.key", sa / "ca.crt"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({"path": self.path, "auth": self.headers.get("Authorization", "")})
            body: dict[str, object]
            if self.path == "/api/v1/namespaces/team-a/secrets/db":
                body = {
                    "kind": "Secret",
                    "apiVersion": "v1",
                    "metadata": {"name": "db"},
                    "data": {"url": base64.b64encode(PLANTED.encode()).decode()},
                }
                status = 200
            else:
                body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404}
                status = 404
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1]), sa, seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.requirement("B3")
def test_kubernetes_official_client_against_a_real_https_server(
    tmp_path: Path, fake_apiserver: tuple[int, Path, list[dict[str, str]]]
) -> None:
    port, sa, seen = fake_apiserver
    environ = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(port)}
    resolver = SecretResolver.for_project(
        tmp_path, environ=environ, kubernetes=KubernetesSecrets(environ, service_account_dir=sa)
    )

    assert resolver.resolve("db").reveal() == {"url": PLANTED}
    assert seen[0] == {
        "path": "/api/v1/namespaces/team-a/secrets/db",
        "auth": "Bearer sa-token-value",
    }
    with pytest.raises(SecretNotFoundError, match="namespace 'team-a'"):
        resolver.resolve("absent")
