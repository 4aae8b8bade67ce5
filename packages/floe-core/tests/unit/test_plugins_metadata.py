"""The base every plugin shares (``floe_core.plugins.metadata``)."""

from __future__ import annotations

import json

import pytest
from floe_core.plugins import HealthState


@pytest.mark.requirement("R1")
def test_health_state_keeps_its_str_mixin_semantics() -> None:
    healthy: str = HealthState.HEALTHY
    assert healthy == "healthy"
    assert HealthState("degraded") is HealthState.DEGRADED
    assert json.dumps({"state": HealthState.UNHEALTHY}) == '{"state": "unhealthy"}'
    # what plugins and logs have always printed; enum.StrEnum would print the bare value
    assert str(HealthState.HEALTHY) == "HealthState.HEALTHY"
    assert f"{HealthState.HEALTHY}" == "HealthState.HEALTHY"
