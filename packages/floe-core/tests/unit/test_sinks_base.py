"""What a sink declares about itself (``sinks/base.py``)."""

from __future__ import annotations

from dataclasses import fields

import pytest
from floe_core.sinks.base import SinkCapabilities


@pytest.mark.requirement("R6")
def test_capabilities_hold_only_what_the_engine_acts_on() -> None:
    # batch sizing, concurrency, rate limit, splitting of refused batches and encoding
    # several batches at once, operations, nested records, one-row operations; nothing
    # declared and never read
    assert [f.name for f in fields(SinkCapabilities)] == [
        "default_batch_size",
        "max_batch_size",
        "max_concurrency",
        "default_rate_limit",
        "splits_rejected_batches",
        "encode_group_rows",
        "operations",
        "nested_fields",
        "row_operations",
    ]
