"""floe's errors cross process boundaries whole (a Ray task's error reaches the driver)."""

from __future__ import annotations

import pickle

from floe_core.errors import FloeError, SourceError
from floe_core.sinks.errors import EgressPolicyError, SinkTransientWriteError


def test_an_error_with_keyword_only_fields_is_unpickled_with_its_message_and_fields() -> None:
    refused = EgressPolicyError(
        "crm.example.test resolves to 169.254.169.254",
        host="crm.example.test",
        rule="egress_policy.denied_networks 169.254.0.0/16",
        destination="crm",
        sink_type="rest_api",
    )
    failed = SinkTransientWriteError(
        "the API answered 503", destination="crm", http_status=503, attempts=4
    )
    source = SourceError("no such table", hint="check source_table")

    for error in (refused, failed, source):
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is type(error) and isinstance(again, FloeError)
        assert str(again) == str(error)
        assert vars(again) == vars(error)
    assert pickle.loads(pickle.dumps(refused)).host == "crm.example.test"
