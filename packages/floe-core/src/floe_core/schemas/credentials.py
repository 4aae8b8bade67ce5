"""Detect credentials written into configuration files.

Credentials belong in a Kubernetes Secret named by ``connection_secret_ref`` (or, for the
catalog, ``credential_secret_ref``), never in ``floe.yaml`` or ``manifest.yaml``. The check is
targeted, so that ordinary settings pass:

Rejected, anywhere inside the checked mapping (nested mappings and lists included):

* a key that names a credential, holding a non-empty value (a scalar, or a mapping or list
  containing one). Keys are compared case-insensitively with ``-``, ``_``, ``.`` and spaces
  removed, and match when they end in one of :data:`CREDENTIAL_KEY_SUFFIXES`: ``password``,
  ``api_key``, ``X-API-Key``, ``client_secret``, ``access_token``, ``private_key``,
  ``connection_string``, ``Authorization`` (as an HTTP header), ...;
* a string value that is a URL with a password (``postgresql://user:pw@host/db``) or with a
  credential-named query parameter (``https://host/path?api_key=...``).

Not rejected: keys that merely contain such a word (``token_url``, ``api_key_header``,
``secret_name``), empty values (``password: ""``), booleans, URLs with a user name but no
password, and anything outside the checked mapping, such as ``field_mapping`` (a destination
field may well be called ``token``).

Findings carry the key path and the reason, never the value. What names a credential is
defined once, in :mod:`floe_core.secrets.redact`; this module applies it to configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from floe_core.secrets.redact import (
    CREDENTIAL_KEY_SUFFIXES,
    is_credential_key,
    url_has_credentials,
)

__all__ = [
    "CREDENTIAL_KEY_SUFFIXES",
    "CredentialFinding",
    "find_inline_credentials",
    "is_credential_key",
    "url_has_credentials",
]


@dataclass(frozen=True)
class CredentialFinding:
    """A credential found in configuration.

    Attributes:
        path: Keys and list indexes leading to it, from the checked mapping.
        reason: Why it looks like a credential (names the key, never shows the value).
    """

    path: tuple[str | int, ...]
    reason: str


def find_inline_credentials(
    value: Any, path: tuple[str | int, ...] = ()
) -> list[CredentialFinding]:
    """Find credentials inside ``value`` (a parsed YAML mapping, list or scalar).

    Args:
        value: What to inspect.
        path: Location of ``value``, prefixed to every finding's path.

    Returns:
        One finding per credential, in document order.
    """
    findings: list[CredentialFinding] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            key_path = (*path, str(key))
            if isinstance(key, str) and is_credential_key(key) and _has_value(item):
                findings.append(CredentialFinding(key_path, f"the key {key!r} holds a credential"))
            else:
                findings.extend(find_inline_credentials(item, key_path))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            findings.extend(find_inline_credentials(item, (*path, index)))
    elif isinstance(value, str) and url_has_credentials(value):
        findings.append(CredentialFinding(path, "the URL has a credential embedded in it"))
    return findings


def _has_value(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, Mapping):
        return any(_has_value(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(_has_value(item) for item in value)
    return True
