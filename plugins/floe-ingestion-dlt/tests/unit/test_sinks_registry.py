"""The plugin's sink table: lazy imports, clear errors."""

from __future__ import annotations

import pytest
from floe_core.sinks import Sink, SinkConfigurationError
from floe_ingestion_dlt import DltIngestionPlugin
from floe_ingestion_dlt.sinks import SINK_TYPES


@pytest.mark.requirement("R6")
def test_registry_resolves_rest_api() -> None:
    plugin = DltIngestionPlugin()
    assert plugin.list_available_sinks() == sorted(SINK_TYPES)
    sink_class = plugin.sink_class("rest_api")
    assert issubclass(sink_class, Sink)
    assert sink_class.sink_type == "rest_api"


@pytest.mark.requirement("R7")
def test_a_missing_module_becomes_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SINK_TYPES, "broken", "floe_ingestion_dlt.sinks.not_there:Nope")
    with pytest.raises(SinkConfigurationError) as caught:
        DltIngestionPlugin().sink_class("broken", destination="d")
    assert "pip install 'floe-ingestion-dlt" in str(caught.value)
