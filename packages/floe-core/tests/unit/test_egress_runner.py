"""The egress runner against a real Iceberg SQL catalog and a small sink plugin written here.

The plugin below is a complete third-party-style ``SinkConnector`` (it keeps what it receives
in memory); the plugin shipped with floe is exercised by the integration tests.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import orjson
import pyarrow as pa
import pytest
from floe_core.compiler import EgressPlan, compile_project
from floe_core.demo.data import create_customers_table
from floe_core.egress.destinations import select_destinations
from floe_core.egress.errors import EgressConfigError, LeaseHeldError
from floe_core.egress.lease import Leases
from floe_core.egress.receipt import Receipt, RunStatus
from floe_core.egress.runner import EgressRunner
from floe_core.egress.state import StateStore, state_url_for
from floe_core.errors import FloeError, NoSuchSourceTableError, SourceError
from floe_core.plugins import EgressResult, PluginMetadata, SinkConfig, SinkConnector
from floe_core.registry import PluginRegistry
from floe_core.secrets.errors import SecretKeyMissingError, SecretNotFoundError
from floe_core.secrets.resolver import SecretResolver
from floe_core.sinks import (
    BatchAck,
    Operation,
    Payload,
    Sink,
    SinkCapabilities,
    SinkConfigurationError,
    SinkPlugin,
)
from floe_core.sinks.errors import SinkConnectionError, SinkWriteError

ROWS = 250
TOKEN = "good-token-7c1e55"


class CredentialsRefused(FloeError):
    """What the recording plugin raises for a wrong token."""


@dataclass
class RecordingSink:
    config: SinkConfig
    rows: list[dict[str, Any]] = field(default_factory=list)
    disposed: bool = False

    def dispose(self) -> None:
        self.disposed = True


class RecordingPlugin(PluginMetadata, SinkConnector):
    """Keeps every row it is sent; refuses rows whose ``segment`` is in ``reject_segments``."""

    def __init__(self) -> None:
        self.sinks: list[RecordingSink] = []
        self.fail_write: Exception | None = None

    name = "recorder"
    version = "1.0.0"
    floe_api_version = "1.0"

    def list_available_sinks(self) -> list[str]:
        return ["recorder", "rest_api"]

    def create_sink(self, config: SinkConfig) -> RecordingSink:
        if config.connection_config.get("token") != TOKEN:
            raise CredentialsRefused(
                f"[{config.destination_name}] the destination refused the credentials",
                hint="check the token",
            )
        sink = RecordingSink(config)
        self.sinks.append(sink)
        return sink

    def write(self, sink: RecordingSink, data: Any, **kwargs: Any) -> EgressResult:
        on_progress: Callable[[int], None] | None = kwargs.get("on_progress")
        on_rejected: Callable[[pa.Table, str], None] | None = kwargs.get("on_rejected")
        if self.fail_write is not None:
            raise self.fail_write
        reject = set(sink.config.connection_config.get("reject_segments", []))
        mapping = sink.config.field_mapping or {}
        delivered = rejected = 0
        for batch in data:
            table = pa.Table.from_batches([batch])
            for row in table.to_pylist():
                if row.get("segment") in reject:
                    rejected += 1
                    if on_rejected is not None:
                        on_rejected(pa.Table.from_pylist([row]), f"segment {row['segment']}")
                    continue
                sink.rows.append({mapping.get(k, k): v for k, v in row.items()})
                delivered += 1
            if on_progress is not None:
                on_progress(delivered + rejected)
        return EgressResult(
            success=rejected == 0,
            rows_delivered=delivered,
            bytes_transmitted=delivered * 10,
            checksum="c" * 64,
            idempotency_key="k" * 64,
            errors=[f"{rejected} row(s) rejected"] if rejected else [],
            rows_rejected=rejected,
        )

    def get_source_config(self, catalog_config: dict[str, Any]) -> dict[str, Any]:
        return dict(catalog_config)


@dataclass
class Project:
    root: Path
    plugin: RecordingPlugin
    extra: list[object] = field(default_factory=list)

    def write(self, destinations: str, catalog: str | None = None) -> None:
        catalog = catalog or (
            "catalog:\n  type: sql\n  name: t\n  uri: sqlite:///.floe/catalog.db\n"
            "  warehouse: .floe/warehouse\n"
        )
        (self.root / "floe.yaml").write_text(
            "apiVersion: floe.dev/v1\nkind: FloeSpec\nmetadata: {name: t, version: 1.0.0}\n"
            "destinations:\n" + textwrap.indent(textwrap.dedent(destinations), "  "),
            encoding="utf-8",
        )
        (self.root / "manifest.yaml").write_text(
            "apiVersion: floe.dev/v1\nkind: Manifest\nmetadata: {name: t}\n" + catalog,
            encoding="utf-8",
        )

    def plan(self) -> EgressPlan:
        return compile_project(self.root / "floe.yaml", registry=self.registry()).unwrap()

    def registry(self) -> PluginRegistry:
        registry = PluginRegistry()
        for plugin in (self.plugin, *self.extra):
            registry.register(plugin)
        return registry

    def run(
        self, *names: str, run_all: bool = False, clock: Callable[[], float] = time.time
    ) -> list[Receipt]:
        plan = self.plan()
        with self.state() as state:
            runner = EgressRunner(
                plan,
                registry=self.registry(),
                secrets=SecretResolver.for_project(self.root, environ={}),
                state=state,
                clock=clock,
            )
            return runner.run(select_destinations(plan, list(names), run_all))

    def state(self) -> StateStore:
        return StateStore(state_url_for(self.root, environ={}))

    @property
    def sent(self) -> list[dict[str, Any]]:
        return [row for sink in self.plugin.sinks for row in sink.rows]


DEST = """\
- name: people
  sink_type: recorder
  connection_secret_ref: rec
  source_table: gold.customers
  field_mapping: {lifetime_value: ltv}
"""


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    create_customers_table(
        {
            "type": "sql",
            "name": "t",
            "uri": f"sqlite:///{tmp_path / '.floe' / 'catalog.db'}",
            "warehouse": str(tmp_path / ".floe" / "warehouse"),
        },
        rows=ROWS,
        batch_size=100,
    )
    secret = tmp_path / "secrets" / "rec"
    secret.mkdir(parents=True)
    (secret / "token").write_text(TOKEN, encoding="utf-8")
    proj = Project(tmp_path, RecordingPlugin())
    proj.write(DEST)
    yield proj


@pytest.mark.requirement("B1")
def test_run_delivers_every_row_and_stores_the_receipt(project: Project) -> None:
    [receipt] = project.run("people")

    assert receipt.status is RunStatus.SUCCESS
    assert (receipt.rows_read, receipt.rows_delivered, receipt.rows_rejected) == (ROWS, ROWS, 0)
    assert receipt.snapshot_id is not None and receipt.source_table == "gold.customers"
    assert (receipt.checksum, receipt.idempotency_key) == ("c" * 64, "k" * 64)
    assert receipt.plugin == "recorder" and receipt.duration_seconds > 0
    assert len(project.sent) == ROWS
    assert {"ltv", "customer_id", "segment"} <= set(project.sent[0])
    assert "lifetime_value" not in project.sent[0]
    assert sorted(r["customer_id"] for r in project.sent) == list(range(1, ROWS + 1))
    assert all(sink.disposed for sink in project.plugin.sinks)
    with project.state() as state:
        assert state.runs() == [receipt]
        checkpoint = state.checkpoint("people")
    assert checkpoint is not None and checkpoint.snapshot_id == receipt.snapshot_id


@pytest.mark.requirement("B6")
def test_rejected_rows_make_a_partial_run_and_are_kept(project: Project) -> None:
    project.write(DEST + "  config: {reject_segments: [champions]}\n")

    [receipt] = project.run("people")

    assert receipt.status is RunStatus.PARTIAL
    assert receipt.rows_rejected > 0
    assert receipt.rows_delivered + receipt.rows_rejected == receipt.rows_read == ROWS
    with project.state() as state:
        kept = state.rejected_rows("people")
        assert state.checkpoint("people") is None
    assert len(kept) == receipt.rows_rejected
    assert {row.reason for row in kept} == {"segment champions"}
    assert all(row.row["segment"] == "champions" for row in kept)
    assert {row.run_id for row in kept} == {receipt.run_id}


@pytest.mark.requirement("B6")
def test_a_run_whose_every_row_was_refused_is_failed_not_partial(project: Project) -> None:
    segments = "[champions, loyal, promising, at_risk, churn_risk, new]"
    project.write(DEST + f"  config: {{reject_segments: {segments}}}\n")

    [receipt] = project.run("people")

    assert (receipt.rows_delivered, receipt.rows_rejected) == (0, ROWS)
    assert receipt.status is RunStatus.FAILED  # nothing went through
    with project.state() as state:
        assert len(state.rejected_rows("people")) == ROWS  # kept, retried by the next run


@pytest.mark.requirement("B1")
def test_unknown_destination_lists_the_declared_ones(project: Project) -> None:
    with pytest.raises(EgressConfigError, match="destination 'nope' is not declared") as caught:
        project.run("nope")
    assert "people" in caught.value.hint and "did you mean" not in caught.value.hint
    with pytest.raises(EgressConfigError, match="'peopel' is not declared") as caught:
        project.run("peopel")
    assert caught.value.hint.startswith("did you mean 'people'? ")
    with pytest.raises(EgressConfigError, match="no destination given"):
        project.run()
    assert project.plugin.sinks == []


@pytest.mark.requirement("B3")
def test_missing_secret_sends_nothing_and_is_in_history(project: Project) -> None:
    project.write(DEST.replace("_ref: rec", "_ref: absent"))

    with pytest.raises(SecretNotFoundError, match="Secret 'absent'"):
        project.run("people")

    assert project.plugin.sinks == []
    with project.state() as state:
        [failed] = state.runs()
    assert failed.status is RunStatus.FAILED and "absent" in failed.errors[0]


ACME_DEST = """\
- name: orders
  sink_type: acme_crm
  connection_secret_ref: acme
  source_table: gold.customers
  config: {table: orders, mode: upsert, key: customer_id}
"""


@pytest.mark.requirement("B3")
def test_missing_secret_key_that_the_sink_asks_for_sends_nothing(
    project: Project, acme_sinks: Any
) -> None:
    project.extra.append(acme_sinks)
    secret = project.root / "secrets" / "acme"
    secret.mkdir()
    (secret / "url").write_text("out/orders.db", encoding="utf-8")
    project.write(ACME_DEST)
    with pytest.raises(SecretKeyMissingError, match="no key 'token'"):
        project.run("orders")
    assert acme_sinks.sinks == []


def test_the_sink_resolves_its_relative_paths_against_the_project(
    project: Project, acme_sinks: Any
) -> None:
    project.extra.append(acme_sinks)
    secret = project.root / "secrets" / "acme"
    secret.mkdir()
    (secret / "url").write_text("out/orders.db", encoding="utf-8")
    (secret / "token").write_text(TOKEN, encoding="utf-8")
    project.write(ACME_DEST)
    [receipt] = project.run("orders")
    assert receipt.status is RunStatus.SUCCESS
    [sink] = acme_sinks.sinks
    assert sink.settings.url == str(project.root / "out" / "orders.db")
    assert sink.rows_sent == ROWS == receipt.rows_delivered


@pytest.mark.requirement("B1")
def test_missing_source_table(project: Project) -> None:
    project.write(DEST.replace("gold.customers", "gold.nothing"))
    with pytest.raises(NoSuchSourceTableError, match=r"gold\.nothing") as caught:
        project.run("people")
    assert "customers" in caught.value.hint
    assert project.plugin.sinks == []


@pytest.mark.requirement("B1")
def test_field_mapping_naming_a_missing_column_fails_before_the_sink_is_built(
    project: Project,
) -> None:
    project.write(DEST.replace("lifetime_value: ltv", "lifetime_valu: ltv"))
    with pytest.raises(SinkConfigurationError, match="'lifetime_valu'") as caught:
        project.run("people")
    assert "available columns: customer_id" in caught.value.message
    assert "lifetime_value" in caught.value.message
    assert project.plugin.sinks == []


@pytest.mark.requirement("B1")
def test_unreachable_or_missing_catalog(project: Project, closed_port: int) -> None:
    project.write(DEST, catalog=f"catalog:\n  type: rest\n  uri: http://127.0.0.1:{closed_port}\n")
    with pytest.raises(SourceError, match=r"127\.0\.0\.1"):
        project.run("people")

    project.write(DEST, catalog="catalog:\n  type: sql\n  uri: sqlite:///elsewhere/c.db\n")
    with pytest.raises(SourceError, match="does not exist"):
        project.run("people")
    assert project.plugin.sinks == []


@pytest.mark.requirement("B1")
def test_refused_credentials_stop_all_destinations_before_anything_is_sent(
    project: Project,
) -> None:
    project.write(DEST + DEST.replace("people", "others").replace("_ref: rec", "_ref: wrong"))
    wrong = project.root / "secrets" / "wrong"
    wrong.mkdir()
    (wrong / "token").write_text("bad-token", encoding="utf-8")

    with pytest.raises(CredentialsRefused, match="refused the credentials"):
        project.run(run_all=True)

    assert project.sent == []
    assert [sink.disposed for sink in project.plugin.sinks] == [True]


@pytest.mark.requirement("B1")
def test_a_failing_write_is_a_failed_receipt_and_others_still_run(project: Project) -> None:
    project.write(DEST + DEST.replace("people", "others"))
    project.plugin.fail_write = RuntimeError("boom")

    receipts = project.run(run_all=True)

    assert [r.status for r in receipts] == [RunStatus.FAILED, RunStatus.FAILED]
    assert receipts[0].errors == ["RuntimeError: boom"]
    with project.state() as state:
        assert {r.run_id for r in state.runs()} == {r.run_id for r in receipts}


@pytest.mark.requirement("R9")
def test_catalog_uri_from_the_catalog_secret(project: Project) -> None:
    project.write(
        DEST,
        catalog="catalog:\n  type: sql\n  name: t\n  uri: sqlite:///placeholder.db\n"
        "  warehouse: .floe/warehouse\n  credential_secret_ref: catalog-db\n",
    )
    folder = project.root / "secrets" / "catalog-db"
    folder.mkdir()
    (folder / "uri").write_text("sqlite:///.floe/catalog.db", encoding="utf-8")

    [receipt] = project.run("people")

    assert receipt.status is RunStatus.SUCCESS and receipt.rows_delivered == ROWS


@pytest.mark.requirement("R9")
def test_rest_catalog_secret_needs_client_credentials(project: Project, closed_port: int) -> None:
    project.write(
        DEST,
        catalog=f"catalog:\n  type: rest\n  uri: http://127.0.0.1:{closed_port}\n"
        "  credential_secret_ref: polaris\n",
    )
    folder = project.root / "secrets" / "polaris"
    folder.mkdir()
    (folder / "client_id").write_text("floe", encoding="utf-8")

    with pytest.raises(SecretKeyMissingError, match="no key 'client_secret'") as caught:
        project.run("people")
    assert "the catalog" in str(caught.value)
    assert project.plugin.sinks == []


@pytest.mark.requirement("R8")
def test_an_empty_table_is_a_successful_run_of_zero_rows(project: Project) -> None:
    from floe_core.demo.data import customers_schema
    from floe_core.iceberg.catalog import open_catalog

    catalog = open_catalog(
        {
            "type": "sql",
            "name": "t",
            "uri": f"sqlite:///{project.root / '.floe' / 'catalog.db'}",
            "warehouse": str(project.root / ".floe" / "warehouse"),
        }
    )
    catalog.create_table(("gold", "empty"), customers_schema())
    catalog.close()
    project.write(DEST.replace("gold.customers", "gold.empty"))

    [receipt] = project.run("people")

    assert receipt.status is RunStatus.SUCCESS
    assert (receipt.rows_read, receipt.rows_delivered, receipt.snapshot_id) == (0, 0, None)
    assert project.sent == []


@pytest.mark.requirement("B9")
def test_a_destination_held_by_a_live_run_is_refused_and_a_dead_holder_taken_over(
    project: Project,
) -> None:
    now = 1_800_000_000.0
    dead = Receipt(run_id="dead-run", destination="people", sink_type="recorder")
    with project.state() as state:
        state.start_run(dead)
        Leases(state, seconds=120, clock=lambda: now).acquire(
            "people", "dead-run", host="pod-7", pid=99
        )

    with pytest.raises(LeaseHeldError, match="run dead-run on host pod-7, pid 99, started"):
        project.run("people", clock=lambda: now + 60)
    assert project.sent == []
    [receipt] = project.run("people", clock=lambda: now + 121)

    assert receipt.status is RunStatus.SUCCESS and len(project.sent) == ROWS
    with project.state() as state:
        runs = {run.run_id: run for run in state.runs("people")}
        assert Leases(state).holder("people") is None  # released at the end
    assert runs["dead-run"].status is RunStatus.FAILED
    assert runs["dead-run"].finished_at is not None
    assert "interrupted" in runs["dead-run"].errors[-1]
    refused = [r for r in runs.values() if r.run_id not in {"dead-run", receipt.run_id}]
    assert [r.status for r in refused] == [RunStatus.FAILED]
    assert "being delivered by another run" in refused[0].errors[0]


@pytest.mark.requirement("B9")
def test_a_dry_run_neither_waits_for_nor_takes_the_lease(project: Project) -> None:
    now = 1_800_000_000.0
    with project.state() as state:
        Leases(state, seconds=120, clock=lambda: now).acquire(
            "people", "live-run", host="pod-3", pid=41
        )
    plan = project.plan()
    with project.state() as state:
        runner = EgressRunner(
            plan,
            registry=project.registry(),
            secrets=SecretResolver.for_project(project.root, environ={}),
            state=state,
            dry_run=True,
            clock=lambda: now + 1,
        )
        [preview] = runner.run(select_destinations(plan, ["people"], False))
        holder = Leases(state).holder("people")

    assert preview.status is RunStatus.SUCCESS
    assert preview.sync is not None and preview.sync.sent == ROWS
    assert holder is not None and holder.run_id == "live-run"  # untouched by the dry run
    assert project.sent == []


class EngineSink(Sink):
    """Refuses rows whose ``customer_id`` is listed; unreachable from call ``down_from`` on."""

    sink_type: ClassVar[str] = "engine_sink"
    capabilities: ClassVar[SinkCapabilities] = SinkCapabilities(
        default_batch_size=50, splits_rejected_batches=True
    )

    def __init__(self, config: SinkConfig) -> None:
        super().__init__(config)
        self.refuse = set(config.connection_config.get("refuse", []))
        self.down_from = config.connection_config.get("down_from")
        self.calls = 0
        self.rows: list[int] = []

    @property
    def identity(self) -> str:
        return f"engine {self.destination}"

    def encode(self, batch: pa.RecordBatch, operation: Operation | None = None) -> Payload:
        ids = batch.column("customer_id").to_pylist()
        return Payload(rows=batch.num_rows, body=orjson.dumps(ids))

    def send(self, payload: Payload, idempotency_key: str) -> BatchAck:
        self.calls += 1
        if self.down_from is not None and self.calls >= self.down_from:
            raise SinkConnectionError("down", destination=self.destination)
        records = orjson.loads(payload.body)
        if any(customer_id in self.refuse for customer_id in records):
            raise SinkWriteError("refused", http_status=400)
        self.rows.extend(records)
        return BatchAck(rows_confirmed=payload.rows)


class EnginePlugin(PluginMetadata, SinkPlugin):
    sink_classes: ClassVar[dict[str, type[Sink]]] = {"engine_sink": EngineSink}
    name = "engine"
    version = "1.0.0"
    floe_api_version = "1.0"


ENGINE_DEST = """\
- name: crm
  sink_type: engine_sink
  connection_secret_ref: rec
  source_table: gold.customers
  retry_config: {{max_attempts: 1}}
  config: {config}
"""


@pytest.mark.requirement("B6")
@pytest.mark.parametrize(
    ("config", "status"),
    [
        ("{refuse: [7]}", RunStatus.PARTIAL),  # went through, one row refused and kept
        ("{down_from: 3}", RunStatus.FAILED),  # stopped, nothing refused
        ("{refuse: [7], down_from: 15}", RunStatus.FAILED),  # refused rows, then stopped
    ],
)
def test_a_run_its_sink_stopped_is_failed_and_one_with_refused_rows_partial(
    project: Project, config: str, status: RunStatus
) -> None:
    project.extra.append(EnginePlugin())
    project.write(ENGINE_DEST.format(config=config))

    [receipt] = project.run("crm")

    assert receipt.status is status
    if "refuse" in config:
        assert receipt.rows_rejected == 1
    if "down_from" in config:
        assert receipt.rows_delivered < ROWS
