"""Secrets on their way to Ray workers: encrypted with a key that lives only as long as the run.

The driver resolves a destination's Secret (and the catalog's credentials) as a local run does,
then seals them with Fernet (AES-128-CBC with an HMAC, from ``cryptography``) under a key made
for this run. Task arguments carry only the sealed bytes: whatever Ray keeps or shows of them
(the dashboard, its logs, lineage kept to retry a task) is ciphertext. The key is held by the
run's coordinator actor (:mod:`floe_core.executors.coordinator`), which a task asks for it once
when it starts; the actor, and the key with it, is gone when the run ends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from floe_core.egress.errors import ExecutorError

__all__ = ["Sealed", "new_key", "seal", "unseal"]


@dataclass(frozen=True)
class Sealed:
    """Encrypted JSON; its repr shows only its length."""

    token: bytes = field(repr=False)

    def __repr__(self) -> str:
        return f"Sealed(<{len(self.token)} bytes>)"


def new_key() -> bytes:
    """A fresh Fernet key for one run."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key()


def seal(values: dict[str, Any], key: bytes) -> Sealed:
    """``values`` (JSON-able) encrypted under ``key``."""
    from cryptography.fernet import Fernet

    return Sealed(Fernet(key).encrypt(json.dumps(values).encode()))


def unseal(sealed: Sealed, key: bytes) -> dict[str, Any]:
    """The values sealed under ``key``.

    Raises:
        ExecutorError: ``key`` is not the one they were sealed with (another run's).
    """
    from cryptography.fernet import Fernet, InvalidToken

    try:
        values: dict[str, Any] = json.loads(Fernet(key).decrypt(sealed.token))
    except InvalidToken:
        raise ExecutorError(
            "a task's Secrets could not be decrypted with its run's key",
            hint="the task outlived its run; run again",
        ) from None
    return values
