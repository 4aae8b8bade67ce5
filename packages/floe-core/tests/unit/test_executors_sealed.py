"""Secrets sealed for Ray workers under a per-run key."""

from __future__ import annotations

import pytest
from floe_core.egress.errors import ExecutorError
from floe_core.executors.sealed import new_key, seal, unseal


@pytest.mark.requirement("B13")
def test_sealed_secrets_hold_no_value_in_clear_and_open_with_the_runs_key() -> None:
    key = new_key()
    values = {"connection": {"token": "tok-sealed-981", "url": "postgresql://u:pw-77@h/db"}}

    sealed = seal(values, key)

    assert b"tok-sealed-981" not in sealed.token and b"pw-77" not in sealed.token
    assert "tok-sealed-981" not in repr(sealed) and "bytes" in repr(sealed)
    assert unseal(sealed, key) == values


def test_another_runs_key_cannot_open_them() -> None:
    sealed = seal({"token": "t"}, new_key())

    with pytest.raises(ExecutorError, match="could not be decrypted") as raised:
        unseal(sealed, new_key())
    assert "run again" in raised.value.hint
