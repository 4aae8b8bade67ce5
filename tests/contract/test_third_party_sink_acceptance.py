"""Acceptance: a third party writes a sink plugin from floe's public API alone, and it works.

Only public names are used: ``floe_core.plugins``, ``floe_core.registry``, ``floe_core.compiler``
and the ``floe`` CLI. The plugin collects rows in a list.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from floe_core.cli.app import app
from floe_core.compiler import compile_project
from floe_core.plugins import EgressResult, PluginMetadata, SinkConfig, SinkConnector
from floe_core.registry import PluginRegistry
from typer.testing import CliRunner


class ListSink:
    """The handle ``create_sink`` returns: a list of received batches."""

    def __init__(self, config: SinkConfig) -> None:
        self.config = config
        self.batches: list[list[dict[str, Any]]] = []


class ListSinkPlugin(PluginMetadata, SinkConnector):
    """Delivers rows into an in-memory list; a stand-in for any destination."""

    @property
    def name(self) -> str:
        return "listsink"

    @property
    def version(self) -> str:
        return "0.1.0"

    @property
    def floe_api_version(self) -> str:
        return "1.0"

    def list_available_sinks(self) -> list[str]:
        return ["memory_list"]

    def create_sink(self, config: SinkConfig) -> ListSink:
        if config.sink_type not in self.list_available_sinks():
            raise ValueError(f"unknown sink type {config.sink_type!r}")
        if "token" not in config.connection_config:
            raise ValueError("the secret must hold a token")
        return ListSink(config)

    def write(self, sink: Any, data: Any, **kwargs: Any) -> EgressResult:
        assert isinstance(sink, ListSink)
        started = time.perf_counter()
        table = data if isinstance(data, pa.Table) else pa.Table.from_batches(list(data))
        mapping = sink.config.field_mapping or {}
        table = table.rename_columns([mapping.get(c, c) for c in table.column_names])
        digest = hashlib.sha256()
        sent = 0
        for batch in table.to_batches(max_chunksize=sink.config.batch_size or table.num_rows):
            rows = batch.to_pylist()
            payload = json.dumps(rows, sort_keys=True).encode()
            digest.update(payload)
            sent += len(payload)
            sink.batches.append(rows)
        return EgressResult(
            success=True,
            rows_delivered=sum(len(b) for b in sink.batches),
            bytes_transmitted=sent,
            duration_seconds=time.perf_counter() - started,
            checksum=digest.hexdigest(),
            delivery_timestamp=datetime.now(UTC).isoformat(),
            idempotency_key=digest.hexdigest()[:32],
        )

    def get_source_config(self, catalog_config: dict[str, Any]) -> dict[str, Any]:
        return dict(catalog_config)


SPEC = """\
apiVersion: floe.dev/v1
kind: FloeSpec
metadata: {name: memory-demo, version: 1.0.0}
destinations:
  - name: customers_to_list
    sink_type: memory_list
    connection_secret_ref: list-token
    field_mapping: {customer_id: id, lifetime_value: ltv}
    batch_size: 4
"""


def _manifest(approved: str) -> str:
    return (
        "apiVersion: floe.dev/v1\nkind: Manifest\nmetadata: {name: acme}\n"
        f"scope: enterprise\napproved_sinks: [{approved}]\n"
    )


def _project(tmp_path: Path, approved: str) -> Path:
    (tmp_path / "floe.yaml").write_text(SPEC, encoding="utf-8")
    (tmp_path / "manifest.yaml").write_text(_manifest(approved), encoding="utf-8")
    return tmp_path / "floe.yaml"


@pytest.mark.requirement("R15")
def test_a_third_party_sink_plugin_compiles_validates_and_delivers(tmp_path: Path) -> None:
    plugin = ListSinkPlugin()
    registry = PluginRegistry.discover(plugins=[plugin])
    assert registry.sink_providers("memory_list") == ["listsink"]

    plan = compile_project(_project(tmp_path, "memory_list"), registry=registry).unwrap()
    (destination,) = plan.destinations
    assert destination.plugin_name == "listsink"
    provider = registry.get(destination.plugin_name)
    assert isinstance(provider, SinkConnector)

    sink = provider.create_sink(destination.to_sink_config({"token": "t-3rd-party"}))
    table = pa.table(
        {
            "customer_id": list(range(1, 11)),
            "lifetime_value": [float(i) * 1.5 for i in range(1, 11)],
            "segment": ["loyal"] * 10,
        }
    )
    result = provider.write(sink, table)

    assert result.success
    assert result.rows_delivered == 10
    assert [len(b) for b in sink.batches] == [4, 4, 2]
    assert sink.batches[0][0] == {"id": 1, "ltv": 1.5, "segment": "loyal"}
    assert len(result.checksum) == 64
    assert result.bytes_transmitted > 0


@pytest.mark.requirement("R17")
def test_the_cli_validates_and_lists_the_third_party_sink(tmp_path: Path) -> None:
    registry = PluginRegistry.discover(plugins=[ListSinkPlugin()])
    runner = CliRunner()

    sinks = runner.invoke(app, ["sinks"], obj=registry)
    assert "listsink" in sinks.stdout and "memory_list" in sinks.stdout

    ok = runner.invoke(app, ["validate", str(_project(tmp_path, "memory_list"))], obj=registry)
    assert ok.exit_code == 0, ok.stdout
    assert "customers_to_list: (no source table) -> memory_list (plugin listsink" in ok.stdout

    refused = runner.invoke(
        app, ["validate", str(_project(tmp_path, "sql_database")), "--json"], obj=registry
    )
    assert refused.exit_code == 1
    (problem,) = json.loads(refused.stdout)["problems"]
    assert problem["path"] == "destinations[0].sink_type"
    assert (
        "sink type 'memory_list', which is not in the manifest's approved_sinks"
        in (problem["message"])
    )
