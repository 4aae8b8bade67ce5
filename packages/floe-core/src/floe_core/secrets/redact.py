"""What counts as a credential, and how text is cleaned of credentials. One definition.

A credential is:

* the value of a key that names one: keys are compared case-insensitively with ``-``, ``_``,
  ``.`` and spaces removed, and match when they end in one of
  :data:`CREDENTIAL_KEY_SUFFIXES` (``password``, ``api_key``, ``X-API-Key``,
  ``client_secret``, ``access_token``, ``Authorization``, ...); ``token_url`` or
  ``secret_name`` do not match;
* the password of a URL (``postgresql://app:PW@db/crm``) and the value of a credential-named
  query parameter (``https://host/path?api_key=...``).

Redaction masks the secret part only, so a message still says where: a URL keeps its scheme,
user, host and database (``postgresql://app:***@db:5432/crm``), a ``token=...`` pair keeps its
key, and every known secret value (from the Secret, at least 4 characters) becomes ``***``
wherever it appears, in whatever shape.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "CREDENTIAL_KEY_SUFFIXES",
    "MASK",
    "credential_values",
    "is_credential_key",
    "redact",
    "url_has_credentials",
    "url_password",
]

MASK = "***"

#: Normalised key endings that mark a credential (see the module docstring).
CREDENTIAL_KEY_SUFFIXES: tuple[str, ...] = (
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "token",
    "apikey",
    "secret",
    "secretkey",
    "secretaccesskey",
    "privatekey",
    "connectionstring",
    "connstr",
    "credential",
    "credentials",
    "authorization",
    "cookie",
)

#: Values shorter than this are not replaced by value (they would mask ordinary words).
MIN_SECRET_LENGTH = 4

_NORMALISE = re.compile(r"[-_.\s]+")
_URL_START = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# scheme://user:password@ anywhere in a text; the password is what is masked.
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*):(?P<password>[^@/\s]+)@")
# key=value, key: value, "key": "value" whose key names a credential.
_SECRET_PAIR = re.compile(
    r"(?i)(?P<key>password|passwd|pwd|passphrase|token|api[_-]?key|secret|authorization)"
    r"(?P<sep>[\"']?\s*[:=]\s*[\"']?)(?:bearer\s+|basic\s+)?[^\s\"',;&}]+"
)


def is_credential_key(key: str) -> bool:
    """True when ``key`` names a credential (``password``, ``X-API-Key``, ``client_secret``...)."""
    normalised = _NORMALISE.sub("", key.lower())
    return normalised.endswith(CREDENTIAL_KEY_SUFFIXES)


def url_password(value: str) -> str | None:
    """The password of a URL (``None`` when ``value`` is not a URL or has none)."""
    if not _URL_START.match(value):
        return None
    try:
        return urlsplit(value).password or None
    except ValueError:
        return None


def url_has_credentials(value: str) -> bool:
    """True when ``value`` is a URL carrying a password or a credential query parameter."""
    if not _URL_START.match(value):
        return False
    if url_password(value):
        return True
    try:
        query = urlsplit(value).query
    except ValueError:
        return False
    return any(
        is_credential_key(name) and item for name, item in parse_qsl(query, keep_blank_values=True)
    )


def credential_values(config: Mapping[str, Any]) -> list[str]:
    """The secret values in a flat settings mapping: credential-named keys and URL passwords."""
    values: list[str] = []
    for key, value in config.items():
        if not isinstance(value, str) or not value:
            continue
        if is_credential_key(str(key)):
            values.append(value)
        password = url_password(value)
        if password:
            values.append(password)
    return values


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without credentials: URL passwords, ``key=secret`` pairs and known values."""
    text = _URL_PASSWORD.sub(rf"\g<head>:{MASK}@", text)
    text = _SECRET_PAIR.sub(rf"\g<key>\g<sep>{MASK}", text)
    for value in sorted({v for v in secrets if v}, key=len, reverse=True):
        if len(value) >= MIN_SECRET_LENGTH:
            text = text.replace(value, MASK)
    return text
