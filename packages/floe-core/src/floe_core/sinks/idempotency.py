"""Deterministic idempotency keys and the delivery checksum.

A key is derived only from what is sent and where it goes, never from time or randomness, so
the same rows sent to the same destination in the same batches give the same keys on every
run. A destination that de-duplicates by key (``Idempotency-Key`` header) then applies a
re-sent batch once.

- payload digest: SHA-256 of the exact bytes of one batch.
- batch key: SHA-256 of ``sink identity``, the batch's position (``"7"``, or ``"7.0.1"`` for a
  piece of a split batch) and its payload digest. The position keeps two batches with identical
  rows in one write from being mistaken for a retry of each other.
- write key: SHA-256 of the sink identity and every batch digest, in order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

__all__ = ["DeliveryChecksum", "batch_key", "payload_digest", "write_key"]


def payload_digest(body: bytes) -> str:
    """SHA-256 (hex) of one batch's payload."""
    return hashlib.sha256(body).hexdigest()


def batch_key(identity: str, position: str, digest: str) -> str:
    """Idempotency key of one batch: same destination, position and payload give the same key."""
    return hashlib.sha256(f"floe-batch\n{identity}\n{position}\n{digest}".encode()).hexdigest()


def write_key(identity: str, digests: Iterable[str]) -> str:
    """Idempotency key of a whole write: same destination and same batches give the same key."""
    hasher = hashlib.sha256(f"floe-write\n{identity}\n".encode())
    for digest in digests:
        hasher.update(digest.encode())
        hasher.update(b"\n")
    return hasher.hexdigest()


class DeliveryChecksum:
    """SHA-256 over the payloads the destination confirmed, fed in delivery order."""

    def __init__(self) -> None:
        self._hasher = hashlib.sha256()

    def update(self, body: bytes) -> None:
        """Add one confirmed payload."""
        self._hasher.update(body)

    def hexdigest(self) -> str:
        """The checksum so far (hex)."""
        return self._hasher.hexdigest()
