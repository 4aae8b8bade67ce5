"""Errors raised while resolving a Secret, one tree.

::

    FloeError (floe_core.errors)
    └── SecretError                 a ``connection_secret_ref`` cannot be resolved
        ├── SecretNotFoundError     no source has the Secret
        ├── SecretKeyMissingError   the Secret exists but lacks a key the destination needs
        └── SecretBackendError      a source could not be read (Kubernetes API unreachable or
                                    forbidden, an unreadable file)

No message here ever contains a secret value: only Secret names, key names and paths.
"""

from __future__ import annotations

from floe_core.errors import FloeError

__all__ = [
    "SecretBackendError",
    "SecretError",
    "SecretKeyMissingError",
    "SecretNotFoundError",
]


class SecretError(FloeError):
    """A ``connection_secret_ref`` could not be resolved."""


class SecretNotFoundError(SecretError):
    """No secret source has a Secret of that name."""


class SecretKeyMissingError(SecretError):
    """The Secret exists but does not hold a key the destination needs."""


class SecretBackendError(SecretError):
    """A secret source exists but could not be read (Kubernetes API unreachable or refusing)."""
