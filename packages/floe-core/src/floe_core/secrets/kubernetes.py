"""Secrets read from the Kubernetes API, when floe runs in a pod.

The official ``kubernetes`` client is imported only when the API is actually asked, that is
when ``KUBERNETES_SERVICE_HOST`` is set. The pod's service account token authenticates; the
Secret is read from the service account's own namespace. The API client is built from the
service account files directly (not ``load_incluster_config``) so that every path is explicit.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from floe_core.secrets.errors import SecretBackendError
from floe_core.secrets.resolver import ResolvedSecret

__all__ = ["SERVICE_ACCOUNT_DIR", "KubernetesSecrets"]

#: Where Kubernetes mounts the pod's service account token, CA and namespace.
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class KubernetesSecrets:
    """Secrets read from the Kubernetes API with the pod's service account.

    Args:
        environ: Process environment; the source is active only when it has
            ``KUBERNETES_SERVICE_HOST``.
        service_account_dir: Where the token, ``ca.crt`` and ``namespace`` files are mounted.
        api_factory: Builds the ``CoreV1Api``-like client (anything with
            ``read_namespaced_secret(name, namespace)``); the default builds the official
            client from the service account. Injected in tests.
        namespace: Overrides the namespace read from the service account.
    """

    kind = "kubernetes"

    def __init__(
        self,
        environ: Mapping[str, str],
        *,
        service_account_dir: Path = SERVICE_ACCOUNT_DIR,
        api_factory: Callable[[], Any] | None = None,
        namespace: str | None = None,
    ) -> None:
        self.environ = environ
        self.service_account_dir = Path(service_account_dir)
        self._api_factory = api_factory or self._official_client
        self._namespace = namespace
        self._api: Any = None

    @property
    def active(self) -> bool:
        """True when this process runs inside a Kubernetes pod."""
        return bool(self.environ.get("KUBERNETES_SERVICE_HOST"))

    @property
    def namespace(self) -> str:
        """The namespace Secrets are read from: the service account's own."""
        if self._namespace:
            return self._namespace
        path = self.service_account_dir / "namespace"
        try:
            return path.read_text(encoding="utf-8").strip() or "default"
        except OSError:
            return "default"

    @property
    def api_url(self) -> str:
        """The API server address from the in-cluster environment."""
        host = self.environ.get("KUBERNETES_SERVICE_HOST", "")
        port = self.environ.get("KUBERNETES_SERVICE_PORT", "443")
        return f"https://{f'[{host}]' if ':' in host else host}:{port}"

    def lookup(self, ref: str) -> ResolvedSecret | None:
        """Read the Secret from the API; None when the API says it does not exist."""
        if not self.active:
            return None
        api_exception, transport_error = _kubernetes_errors()
        namespace = self.namespace
        try:
            if self._api is None:
                self._api = self._api_factory()
            secret = self._api.read_namespaced_secret(
                name=ref, namespace=namespace, _request_timeout=15
            )
        except api_exception as exc:
            status = getattr(exc, "status", None)
            if status == 404:
                return None
            if status in (401, 403):
                raise SecretBackendError(
                    f"the Kubernetes API refused to read Secret '{ref}' in namespace "
                    f"'{namespace}' (HTTP {status})",
                    hint="grant the pod's service account 'get' on secrets in its namespace "
                    "(a Role and RoleBinding)",
                ) from None
            raise SecretBackendError(
                f"the Kubernetes API failed reading Secret '{ref}' in namespace "
                f"'{namespace}' (HTTP {status})",
                hint="check the API server's health and retry",
            ) from None
        except (transport_error, OSError) as exc:
            raise SecretBackendError(
                f"cannot reach the Kubernetes API at {self.api_url} to read Secret '{ref}' "
                f"({type(exc).__name__})",
                hint="check the pod's network policy, or provide the Secret as a mounted "
                "directory or FLOE_SECRET_<NAME>__<KEY> environment variables",
            ) from None
        data = getattr(secret, "data", None) or {}
        values = {key: SecretStr(_decode(ref, key, raw)) for key, raw in data.items()}
        return ResolvedSecret(ref, f"Kubernetes Secret {namespace}/{ref}", values, self.kind)

    def looked_at(self, ref: str) -> str:
        """Where the API would be (or why it was not asked)."""
        if not self.active:
            return "Kubernetes API (not asked: not running in a cluster)"
        return f"Kubernetes API {self.api_url} namespace '{self.namespace}'"

    def _official_client(self) -> Any:
        try:
            from kubernetes import client
        except ImportError as exc:
            raise _client_missing() from exc
        token_path = self.service_account_dir / "token"
        try:
            token = token_path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SecretBackendError(
                f"running in Kubernetes but no service account token at {token_path}",
                hint="set automountServiceAccountToken: true on the pod, or mount the Secret "
                "as a volume instead",
            ) from exc
        configuration = client.Configuration()
        configuration.host = self.api_url
        configuration.api_key = {"authorization": token}
        configuration.api_key_prefix = {"authorization": "Bearer"}
        configuration.retries = 1
        ca_path = self.service_account_dir / "ca.crt"
        if ca_path.is_file():
            configuration.ssl_ca_cert = str(ca_path)
        return client.CoreV1Api(client.ApiClient(configuration))


def _kubernetes_errors() -> tuple[type[BaseException], type[BaseException]]:
    """The client's API error and transport error types (imported only when in a cluster)."""
    try:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError
    except ImportError as exc:
        raise _client_missing() from exc
    return ApiException, HTTPError


def _client_missing() -> SecretBackendError:
    return SecretBackendError(
        "reading Secrets from the Kubernetes API needs the kubernetes client",
        hint="pip install 'floe-core[k8s]'",
    )


def _decode(ref: str, key: str, raw: str) -> str:
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        raise SecretBackendError(
            f"key '{key}' of Kubernetes Secret '{ref}' is not base64-encoded UTF-8 text",
            hint="store the value with stringData or base64 of its UTF-8 bytes",
        ) from exc
