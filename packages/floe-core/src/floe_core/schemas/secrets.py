"""References to Kubernetes Secrets, the only way credentials enter floe's configuration.

A ``connection_secret_ref`` names a Secret; floe resolves its keys at run time (from a mounted
Secret directory, environment variables or the Kubernetes API). The name must be a valid
Kubernetes Secret name: a DNS-1123 subdomain (lowercase letters, digits, ``-`` and ``.``;
starting and ending with a letter or digit; each dot-separated part non-empty), at most 253
characters.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema

from floe_core.schemas._validation import config_error
from floe_core.secrets.redact import shown_value

__all__ = ["SECRET_NAME_MAX_LENGTH", "SECRET_NAME_PATTERN", "SecretName", "is_valid_secret_name"]

#: A DNS-1123 subdomain, the format Kubernetes requires for Secret names.
SECRET_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"

#: Longest Secret name Kubernetes accepts.
SECRET_NAME_MAX_LENGTH = 253

_SECRET_NAME_RE = re.compile(SECRET_NAME_PATTERN)
_RULE = "lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"


def is_valid_secret_name(name: str) -> bool:
    """True when ``name`` is a valid Kubernetes Secret name."""
    return len(name) <= SECRET_NAME_MAX_LENGTH and bool(_SECRET_NAME_RE.fullmatch(name))


def _check_secret_name(name: str) -> str:
    # Echoed only when it cannot be a credential pasted here by mistake (shown_value).
    if is_valid_secret_name(name):
        return name
    if not name:
        problem = "is empty"
    elif len(name) > SECRET_NAME_MAX_LENGTH:
        problem = f"is {len(name)} characters long (at most {SECRET_NAME_MAX_LENGTH})"
    elif re.search(r"[^a-z0-9.-]", name):
        problem = "contains characters other than lowercase letters, digits, '-' and '.'"
    else:
        problem = "must start and end with a letter or digit, with no empty part between dots"
    hint = (
        "name the Kubernetes Secret that holds the credentials (e.g. 'crm-api-token'); "
        "never put the credential itself here"
    )
    shown = shown_value(name)
    if shown is None:
        raise config_error(f"is not a valid Kubernetes Secret name: it {problem}", hint=hint)
    fixed = re.sub(r"[^a-z0-9.-]+", "-", name.lower()).strip("-.")
    if is_valid_secret_name(fixed):
        hint = f"did you mean {fixed!r}? A Kubernetes Secret name is {_RULE}"
    raise config_error(f"{shown} is not a valid Kubernetes Secret name: it {problem}", hint=hint)


#: A Kubernetes Secret name, validated with a message that says how to fix it.
SecretName = Annotated[
    str,
    AfterValidator(_check_secret_name),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": SECRET_NAME_PATTERN,
            "maxLength": SECRET_NAME_MAX_LENGTH,
        }
    ),
]
