"""Errors raised while preparing and running an egress, before or around the sink plugin.

::

    FloeError (floe_core.errors)
    ├── SourceError / NoSuchSourceTableError   the Iceberg catalog or table (floe_core.errors)
    ├── EgressConfigError       the project asks for something that cannot run as written
    │                           (unknown destination, compile problems, field mapping naming a
    │                           column the source table lacks, no plugin for the sink type)
    ├── SecretError             a ``connection_secret_ref`` cannot be resolved
    │   ├── SecretNotFoundError     no source has the Secret
    │   ├── SecretKeyMissingError   the Secret exists but lacks a key the destination needs
    │   └── SecretBackendError      the Kubernetes API could not be asked (unreachable, forbidden)
    └── StateStoreError         the run-history database cannot be opened or written

Errors raised by sink plugins (``floe_core.sinks.errors``) are ``FloeError`` subclasses too;
the CLI prints any ``FloeError`` as a one-screen message with its hint, never a traceback.
No message here ever contains a secret value: only Secret names, key names and paths.
"""

from __future__ import annotations

from floe_core.errors import FloeError

__all__ = [
    "EgressConfigError",
    "SecretBackendError",
    "SecretError",
    "SecretKeyMissingError",
    "SecretNotFoundError",
    "StateStoreError",
]


class EgressConfigError(FloeError):
    """The project configuration cannot be run as written; nothing was sent."""


class SecretError(FloeError):
    """A ``connection_secret_ref`` could not be resolved."""


class SecretNotFoundError(SecretError):
    """No secret source has a Secret of that name."""


class SecretKeyMissingError(SecretError):
    """The Secret exists but does not hold a key the destination needs."""


class SecretBackendError(SecretError):
    """A secret source exists but could not be read (Kubernetes API unreachable or refusing)."""


class StateStoreError(FloeError):
    """The state store (run history) could not be opened, read or written."""
