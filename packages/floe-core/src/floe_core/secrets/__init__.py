"""Secrets: what counts as a credential, how text is redacted, and where Secrets are read.

``floe_core.secrets.redact`` is the one definition of a credential (key names, URL passwords)
and of redaction; the config check, logs, errors, spans and every sink use it.
"""

from __future__ import annotations

__all__: list[str] = []
