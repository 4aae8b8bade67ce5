"""The enterprise whitelist of sink types."""

from __future__ import annotations

import pytest
from floe_core.errors import FloeError
from floe_core.schemas import SinkWhitelistError, validate_sink_whitelist


@pytest.mark.requirement("R17")
def test_no_whitelist_allows_every_sink_type() -> None:
    validate_sink_whitelist("anything_at_all", None)


@pytest.mark.requirement("R17")
def test_an_approved_sink_type_passes() -> None:
    validate_sink_whitelist("rest_api", ["rest_api", "sql_database"])


@pytest.mark.requirement("R17")
def test_an_unapproved_sink_type_is_refused_by_name() -> None:
    with pytest.raises(SinkWhitelistError) as caught:
        validate_sink_whitelist("rest_api", ["sql_database"], destination_name="crm")
    error = caught.value
    assert isinstance(error, FloeError)
    assert (error.sink_type, error.approved_sinks, error.destination_name) == (
        "rest_api",
        ["sql_database"],
        "crm",
    )
    assert "destination 'crm' uses sink type 'rest_api'" in error.message
    assert "approved: sql_database" in error.message
    assert "add 'rest_api' to approved_sinks" in error.hint


@pytest.mark.requirement("R17")
def test_an_empty_whitelist_allows_nothing() -> None:
    with pytest.raises(SinkWhitelistError, match=r"approved: none"):
        validate_sink_whitelist("sql_database", [])
