"""Secrets: what counts as a credential, how text is redacted, and where Secrets are read.

- ``floe_core.secrets.redact``: the one definition of a credential (key names, URL passwords)
  and of redaction; the config check, logs, errors, spans, catalogs and every sink use it;
- ``floe_core.secrets.resolver``: ``SecretResolver``, resolving ``connection_secret_ref`` names
  from a mounted directory, the environment, then the Kubernetes API;
- ``floe_core.secrets.kubernetes``: the Kubernetes API lookup (``pip install 'floe-core[k8s]'``);
- ``floe_core.secrets.errors``: ``SecretError`` and its subclasses.

Import the modules you need; this package itself imports nothing.
"""

from __future__ import annotations

__all__: list[str] = []
