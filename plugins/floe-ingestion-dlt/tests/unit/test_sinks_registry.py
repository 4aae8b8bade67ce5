"""The sink registry: lazy imports, clear errors."""

from __future__ import annotations

import pytest
from floe_ingestion_dlt.errors import SinkConfigurationError
from floe_ingestion_dlt.sinks import SINK_TYPES, available_sinks, load_sink_class
from floe_ingestion_dlt.sinks.base import Sink


@pytest.mark.requirement("R6")
def test_registry_resolves_rest_api() -> None:
    assert available_sinks() == sorted(SINK_TYPES)
    sink_class = load_sink_class("rest_api")
    assert issubclass(sink_class, Sink)
    assert sink_class.sink_type == "rest_api"


@pytest.mark.requirement("R7")
def test_a_missing_module_becomes_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SINK_TYPES, "broken", "floe_ingestion_dlt.sinks.not_there:Nope")
    with pytest.raises(SinkConfigurationError) as caught:
        load_sink_class("broken", destination="d")
    assert "pip install" in str(caught.value)
