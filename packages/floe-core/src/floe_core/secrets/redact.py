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

An error about a value written in a configuration file may echo it (``'upsrt' is not a valid
mode``) only when it cannot be a credential: :func:`shown_value` decides, once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = [
    "CREDENTIAL_KEY_SUFFIXES",
    "MASK",
    "MIN_SECRET_LENGTH",
    "credential_values",
    "is_credential_key",
    "redact",
    "shown_value",
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
# key=value, key: value, "key": "value" whose key names a credential. MySQL's and MariaDB's
# "Access denied ... (using password: YES)" says only whether a password was given: kept.
_SECRET_PAIR = re.compile(
    r"(?i)(?P<key>password|passwd|pwd|passphrase|token|api[_-]?key|secret|authorization)"
    r"(?P<sep>[\"']?\s*[:=]\s*[\"']?)(?!(?:yes|no)\))(?P<scheme>bearer\s+|basic\s+)?"
    r"[^\s\"',;&}]+"
)
_PAIR_MASK = rf"\g<key>\g<sep>\g<scheme>{MASK}"

#: Longest text :func:`shown_value` echoes; longer values are not worth repeating.
_MAX_SHOWN = 64
_ALNUM_RUN = re.compile(r"[A-Za-z0-9]+")
_PASSWORD_PUNCTUATION = re.compile(r"[!@#$%^&*?~|<>{}\[\]()`\"'=;]")


def is_credential_key(key: str) -> bool:
    """True when ``key`` names a credential (``password``, ``X-API-Key``, ``client_secret``...)."""
    normalised = _NORMALISE.sub("", key.lower())
    return normalised.endswith(CREDENTIAL_KEY_SUFFIXES)


def shown_value(value: Any, keys: Iterable[str | int] = ()) -> str | None:
    """``value`` as an error message may echo it, or ``None`` when it might be a credential.

    Only for values written in floe.yaml or manifest.yaml: never pass a value read from a
    Secret. Shown: ``true`` / ``false`` and numbers; a string of at most 64 characters on
    one line, quoted, unless a key on its way (``keys``) names a credential, it is a URL
    carrying one, or it looks generated (a run of 12 or more letters and digits mixed, or of
    8 or more mixing capitals, small letters and digits) or like a password (punctuation
    mixed with letters and digits). Never a mapping or a list.

    Args:
        value: The value as parsed from the file.
        keys: The keys leading to it (``("config", "mode")``).
    """
    if any(isinstance(key, str) and is_credential_key(key) for key in keys):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if not isinstance(value, str) or len(value) > _MAX_SHOWN or not value.isprintable():
        return None
    if url_has_credentials(value) or _looks_generated(value):
        return None
    return repr(value)


def _looks_generated(text: str) -> bool:
    """True when ``text`` looks like a key or password rather than a word or a name."""
    has_digit = any(char.isdigit() for char in text)
    if has_digit and _PASSWORD_PUNCTUATION.search(text):
        return True
    for run in _ALNUM_RUN.findall(text):
        digits = any(char.isdigit() for char in run)
        letters = any(char.isalpha() for char in run)
        mixed_case = any(char.isupper() for char in run) and any(char.islower() for char in run)
        if digits and letters and (len(run) >= 12 or (len(run) >= 8 and mixed_case)):
            return True
    return False


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
    return bool(_url_secrets(value))


def _url_secrets(value: str) -> list[str]:
    """The secret parts of a URL: its password and credential-named query parameter values."""
    if not _URL_START.match(value):
        return []
    try:
        parts = urlsplit(value)
        password = parts.password
    except ValueError:
        return []
    found = [password] if password else []
    if password and unquote(password) != password:
        found.append(unquote(password))  # as a driver would echo it, percent-decoded
    found.extend(
        item
        for name, item in parse_qsl(parts.query, keep_blank_values=True)
        if item and is_credential_key(name)
    )
    return found


def credential_values(config: Mapping[str, Any]) -> list[str]:
    """The secret values in a flat settings mapping, to hand to :func:`redact`.

    A credential-named key gives its value; a URL (under any key) gives only its password and
    credential query parameters, so that a message keeps saying which host and database it is
    about. A credential-named key holding a URL without such parts gives the whole URL.
    """
    values: list[str] = []
    for key, value in config.items():
        if not isinstance(value, str) or not value:
            continue
        parts = _url_secrets(value)
        if parts:
            values.extend(parts)
        elif is_credential_key(str(key)):
            values.append(value)
    return values


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without credentials: known values, URL passwords and ``key=secret`` pairs.

    Args:
        text: What to clean (a message, a log line, an error body).
        secrets: Known secret values; each one of at least :data:`MIN_SECRET_LENGTH`
            characters is masked wherever it appears. A value that is a URL with a password
            is replaced by the same URL with only the password masked.
    """
    for value in sorted({v for v in secrets if v}, key=len, reverse=True):
        if len(value) >= MIN_SECRET_LENGTH and value in text:
            text = text.replace(value, _masked_value(value))
    text = _URL_PASSWORD.sub(rf"\g<head>:{MASK}@", text)
    return _SECRET_PAIR.sub(_PAIR_MASK, text)


def _masked_value(value: str) -> str:
    """What a known secret value becomes: a URL keeps all but its secret parts."""
    parts = _url_secrets(value)
    if not parts:
        return MASK
    masked = _SECRET_PAIR.sub(_PAIR_MASK, value)
    for part in parts:
        masked = masked.replace(f":{part}@", f":{MASK}@", 1).replace(f"={part}", f"={MASK}")
    # A part written differently in the URL (percent-encoded) would survive: mask it all.
    return MASK if any(part in masked for part in parts) else masked
