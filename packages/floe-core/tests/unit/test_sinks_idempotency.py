"""Deterministic keys and the delivery checksum."""

from __future__ import annotations

import hashlib

import pytest
from floe_core.sinks.idempotency import DeliveryChecksum, batch_key, payload_digest, write_key


@pytest.mark.requirement("B5")
def test_batch_keys_depend_on_destination_position_and_payload_only() -> None:
    digest = payload_digest(b"[1,2]")
    key = batch_key("POST http://a/x", "0", digest)
    assert key == batch_key("POST http://a/x", "0", digest)
    assert key != batch_key("POST http://b/x", "0", digest)
    assert key != batch_key("POST http://a/x", "1", digest)
    assert key != batch_key("POST http://a/x", "0", payload_digest(b"[1,3]"))
    assert len(key) == 64


@pytest.mark.requirement("B5")
def test_write_key_covers_every_batch_in_order() -> None:
    a, b = payload_digest(b"a"), payload_digest(b"b")
    assert write_key("dest", [a, b]) == write_key("dest", [a, b])
    assert write_key("dest", [a, b]) != write_key("dest", [b, a])
    assert write_key("dest", [a]) != write_key("other", [a])


@pytest.mark.requirement("R3")
def test_checksum_is_sha256_of_the_concatenated_payloads() -> None:
    checksum = DeliveryChecksum()
    for body in (b"[1]", b"[2,3]"):
        checksum.update(body)
    assert checksum.hexdigest() == hashlib.sha256(b"[1][2,3]").hexdigest()
