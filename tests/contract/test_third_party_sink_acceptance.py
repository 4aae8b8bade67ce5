"""Acceptance: a third party writes a sink from ``floe_core.sinks`` alone, and floe does the rest.

The plugin is ``acme_lines.py`` beside this file, the sink printed in ``docs/writing-a-sink.md``:
a ``Sink`` that POSTs JSON lines and a ``SinkPlugin`` listing it. It passes floe's conformance
suite, and through the ``floe`` CLI (``sinks``, ``validate``, ``egress run``) it gets batching,
retries honouring ``Retry-After``, idempotency keys, rejected-row isolation and an accurate
receipt.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
from floe_core.cli.app import app
from floe_core.demo.data import create_customers_table
from floe_core.iceberg.source import IcebergSource
from floe_core.plugins import SinkConfig
from floe_core.registry import PluginRegistry
from floe_core.sinks import SinkPlugin
from floe_core.sinks.testing import Destination, SinkConformance
from typer.testing import CliRunner

LinesServer = Any
DOC = Path(__file__).resolve().parents[2] / "docs" / "writing-a-sink.md"
PLUGIN_FILE = Path(__file__).with_name("acme_lines.py")


def _registry() -> PluginRegistry:
    """floe's registry with the plugin found through its entry point, as if pip-installed."""
    entry = EntryPoint(name="acme-lines", value="acme_lines:AcmeLinesPlugin", group="floe.sinks")
    return PluginRegistry.discover(groups=(), extra_entry_points=[entry])


class LinesDestination(Destination):
    reports_row_rejections = True

    def __init__(self, server: LinesServer) -> None:
        self.server = server

    @property
    def plugin(self) -> SinkPlugin:
        plugin = _registry().get("acme-lines")
        assert isinstance(plugin, SinkPlugin)
        return plugin

    @property
    def secret(self) -> str:
        return str(self.server.token)

    def sink_config(self, *, batch_size: int | None, retry_config: dict[str, Any]) -> SinkConfig:
        return SinkConfig(
            "json_lines",
            {"url": self.server.url, "token": self.server.token},
            batch_size=batch_size,
            retry_config=retry_config,
            destination_name="acme",
        )

    def rows(self) -> list[dict[str, Any]]:
        return list(self.server.rows.values())

    def batch_sizes(self) -> list[int]:
        return list(self.server.batch_sizes)

    def fail_transiently(self, times: int) -> None:
        self.server.fail_next(503, times=times)

    def answer_retry_after(self, seconds: int) -> None:
        self.server.fail_next(429, retry_after=str(seconds))

    def refuse_row(self, row_id: int) -> None:
        self.server.refuse_ids.add(row_id)


class TestJsonLinesSinkConformance(SinkConformance):
    @pytest.fixture
    def destination(self, lines_server: LinesServer) -> Iterator[LinesDestination]:
        yield LinesDestination(lines_server)


# -- through the CLI ------------------------------------------------------------------------

SPEC = """\
apiVersion: floe.dev/v1
kind: FloeSpec
metadata: {name: acme-demo, version: 1.0.0}
destinations:
  - name: customers_to_acme
    sink_type: json_lines
    connection_secret_ref: acme
    source_table: gold.customers
    field_mapping: {customer_id: id, lifetime_value: ltv}
    batch_size: 40
    retry_config: {max_attempts: 3, initial_backoff_seconds: 0, jitter: false}
"""


def _project(
    tmp_path: Path, server: LinesServer, *, approved: str = "json_lines", policy: str = ""
) -> Path:
    catalog = {
        "type": "sql",
        "name": "acme",
        "uri": f"sqlite:///{tmp_path / '.floe' / 'catalog.db'}",
        "warehouse": (tmp_path / ".floe" / "warehouse").as_uri(),
    }
    create_customers_table(catalog, rows=100)
    (tmp_path / "floe.yaml").write_text(SPEC, encoding="utf-8")
    (tmp_path / "manifest.yaml").write_text(
        "apiVersion: floe.dev/v1\nkind: Manifest\nmetadata: {name: acme}\n"
        "catalog:\n  type: sql\n  name: acme\n  uri: sqlite:///.floe/catalog.db\n"
        f"  warehouse: .floe/warehouse\nscope: enterprise\napproved_sinks: [{approved}]\n" + policy,
        encoding="utf-8",
    )
    secret = tmp_path / "secrets" / "acme"
    secret.mkdir(parents=True)
    (secret / "token").write_text(server.token, encoding="utf-8")
    (secret / "url").write_text(server.url, encoding="utf-8")
    return tmp_path / "floe.yaml"


def _source_ids(tmp_path: Path) -> list[int]:
    catalog = {
        "type": "sql",
        "name": "acme",
        "uri": f"sqlite:///{tmp_path / '.floe' / 'catalog.db'}",
        "warehouse": (tmp_path / ".floe" / "warehouse").as_uri(),
    }
    with IcebergSource(catalog, "gold.customers") as source:
        return sorted(source.batches().read_all().column("customer_id").to_pylist())


@pytest.mark.requirement("R15")
def test_egress_run_delivers_through_the_third_party_sink(
    tmp_path: Path, lines_server: LinesServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _project(tmp_path, lines_server)
    monkeypatch.chdir(tmp_path)
    ids = _source_ids(tmp_path)
    lines_server.fail_next(429, retry_after="0")  # the first batch must wait and be retried
    lines_server.refuse_ids.add(ids[57])  # one customer the API puts on hold

    result = CliRunner().invoke(
        app, ["egress", "run", "customers_to_acme", "--spec", str(spec), "--json"], obj=_registry()
    )

    assert result.exit_code == 3, result.output  # partial: one row rejected
    (receipt,) = json.loads(result.stdout)["receipts"]
    assert (receipt["rows_read"], receipt["rows_delivered"], receipt["rows_rejected"]) == (
        100,
        99,
        1,
    )
    assert sorted(lines_server.rows) == sorted(set(ids) - {ids[57]})
    first = lines_server.rows[ids[0]]
    assert "ltv" in first and "lifetime_value" not in first and "customer_id" not in first
    assert sorted(lines_server.batch_sizes, reverse=True) == [40, 40, 20]
    # The 429 was retried with the same key; every other batch went once.
    assert sorted(Counter(lines_server.keys).values()) == [1, 1, 2]
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", receipt["checksum"])
    assert receipt["idempotency_key"] and receipt["bytes_transmitted"] > 0
    assert "is on hold" in json.dumps(receipt)
    assert lines_server.token not in result.output


@pytest.mark.requirement("R17")
def test_the_cli_lists_and_validates_the_third_party_sink(
    tmp_path: Path, lines_server: LinesServer
) -> None:
    runner = CliRunner()
    registry = _registry()

    sinks = runner.invoke(app, ["sinks"], obj=registry)
    assert "acme-lines" in sinks.stdout and "json_lines" in sinks.stdout

    spec = _project(tmp_path, lines_server)
    ok = runner.invoke(app, ["validate", str(spec)], obj=registry)
    assert ok.exit_code == 0, ok.stdout
    assert "customers_to_acme: gold.customers -> json_lines (plugin acme-lines" in ok.stdout


@pytest.mark.requirement("R17")
def test_the_third_party_sink_is_governed_by_egress_policy_without_code_of_its_own(
    tmp_path: Path, lines_server: LinesServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """acme-lines declares no endpoint: the default reads its ``url`` setting, so the
    platform's egress_policy refuses a host it does not list, before the sink's first HEAD."""
    policy = "egress_policy:\n  sinks:\n    json_lines: {allowed_hosts: [lines.acme.test]}\n"
    spec = _project(tmp_path, lines_server, policy=policy)
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(
        app, ["egress", "run", "customers_to_acme", "--spec", str(spec)], obj=_registry()
    )

    output = result.stdout + result.stderr
    assert result.exit_code == 1, output
    assert "[json_lines/customers_to_acme] may not connect to 127.0.0.1" in output
    assert "(its url)" in output and "egress_policy.sinks.json_lines.allowed_hosts" in output
    assert lines_server.rows == {} and lines_server.keys == []
    assert lines_server.token not in output


def test_the_documented_sink_is_this_plugin() -> None:
    """docs/writing-a-sink.md prints acme_lines.py whole: the two cannot drift apart."""
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert PLUGIN_FILE.read_text(encoding="utf-8") in blocks
