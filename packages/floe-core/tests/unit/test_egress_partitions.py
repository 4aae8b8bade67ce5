"""A partition of a destination: its row filter, and its own name in the state store."""

from __future__ import annotations

import pytest
from floe_core.compiler import CompiledDestination
from floe_core.egress.errors import EgressConfigError
from floe_core.egress.partitions import partition_destination, partition_state_name

CRM = CompiledDestination(
    name="crm",
    sink_type="rest_api",
    plugin_name="dlt",
    connection_secret_ref="crm-api",
    source_table="gold.customers",
    config={"path": "/contacts"},
    field_mapping=None,
    batch_size=100,
)


@pytest.mark.requirement("B12")
def test_a_partition_is_the_destination_with_a_row_filter_under_its_own_name() -> None:
    part = partition_destination(CRM, "2024-05-01", "day = '2024-05-01'")

    assert part.name == "crm@2024-05-01"
    assert part.row_filter == "day = '2024-05-01'"
    assert (part.sink_type, part.config, part.batch_size) == ("rest_api", CRM.config, 100)
    assert part.to_sink_config({}).destination_name == "crm@2024-05-01"
    assert CRM.row_filter is None


@pytest.mark.requirement("B12")
def test_partition_names_are_distinct_and_safe_as_folder_names() -> None:
    names = {
        partition_state_name("crm", key)
        for key in ("EU", "US", "a/b", "a b", "x" * 200, "../etc", ".hidden")
    }
    assert len(names) == 7
    assert "crm@EU" in names
    for name in names - {"crm@EU", "crm@US"}:
        destination, key = name.split("@")
        assert destination == "crm"
        assert key.startswith("h-") and len(key) == 18
    assert partition_state_name("crm", "a/b") == partition_state_name("crm", "a/b")


def test_a_partition_needs_a_key_and_a_row_filter() -> None:
    with pytest.raises(EgressConfigError, match="empty partition key"):
        partition_destination(CRM, "", "region = 'EU'")
    with pytest.raises(EgressConfigError, match="partition 'EU' of destination 'crm' has an empty"):
        partition_destination(CRM, "EU", "  ")
