"""Planted secrets never appear in logs, spans, receipts, history, rejected rows, errors or JSON.

A REST token (from environment variables) and a PostgreSQL password (in the URL of a mounted
Secret; the server uses trust auth, so the password is carried but not needed) are planted,
then runs that succeed, reject rows, fail at every batch and fail at connection time are made
through the CLI with debug logging, and everything they left behind is searched.
"""

from __future__ import annotations

import json
import traceback
import uuid
from typing import Any

import pytest
from floe_core.compiler import compile_project
from floe_core.egress.destinations import select_destinations
from floe_core.egress.runner import EgressRunner
from floe_core.egress.state import StateStore, state_url_for
from floe_core.errors import FloeError
from floe_core.registry import PluginRegistry
from floe_core.secrets.resolver import SecretResolver

TOKEN = "Tok-Planted-4be2c0de91"
PG_PASSWORD = "Pg-Planted-9d3f1a77"

DESTINATIONS = """\
- name: crm
  sink_type: rest_api
  connection_secret_ref: crm-api
  source_table: gold.customers
  config: {{path: /contacts, auth: bearer}}
  batch_size: 25
  retry_config: {{max_attempts: 2, initial_backoff_seconds: 0, jitter: false}}
- name: warehouse
  sink_type: sql_database
  connection_secret_ref: pg
  source_table: gold.customers
  config: {{table: customers, schema: {schema}, mode: upsert, primary_key: [customer_id]}}
- name: wrong_db
  sink_type: sql_database
  connection_secret_ref: pg-wrong
  source_table: gold.customers
  config: {{table: customers, schema: {schema}}}
"""


def _span_text(spans: Any) -> str:
    parts = []
    for span in spans.get_finished_spans():
        parts.append(span.name)
        parts.append(json.dumps(dict(span.attributes or {}), default=str))
        parts.append(str(span.status.description))
        for event in span.events:
            parts.append(event.name + json.dumps(dict(event.attributes or {}), default=str))
    return "\n".join(parts)


@pytest.mark.requirement("B3")
@pytest.mark.requirement("R18")
def test_planted_secrets_never_leave_the_process(
    make_project: Any, http_server: Any, pg_schema: str, spans: Any
) -> None:
    project = make_project(rows=60)
    http_server.token = TOKEN
    http_server.echo_headers_on_error = True
    env = {
        "FLOE_SECRET_CRM_API__TOKEN": TOKEN,
        "FLOE_SECRET_CRM_API__BASE_URL": http_server.url,
        "FLOE_LOG_LEVEL": "debug",
    }
    project.secret("pg", url=f"postgresql+psycopg://postgres:{PG_PASSWORD}@127.0.0.1:5432/test")
    project.secret(
        "pg-wrong",
        url=f"postgresql+psycopg://postgres:{PG_PASSWORD}@127.0.0.1:5432/nope_{uuid.uuid4().hex[:8]}",
    )
    project.write(DESTINATIONS.format(schema=pg_schema))
    seen: list[str] = []

    def floe(*args: str, code: int) -> None:
        result = project.cli(*args, "--spec", project.spec, env=env)
        seen.extend([result.stdout, result.stderr])
        assert result.exit_code == code, result.output

    floe("egress", "run", "crm", "warehouse", "--json", code=0)
    floe("egress", "run", "crm", "warehouse", code=0)
    http_server.reject_ids = {3, 44}
    floe("egress", "run", "crm", "--json", code=3)
    http_server.reject_ids = set()
    http_server.fail_with = 500
    floe("egress", "run", "crm", "--json", code=1)
    floe("egress", "run", "crm", code=1)
    floe("egress", "run", "wrong_db", "--json", code=1)
    floe("egress", "run", "wrong_db", code=1)
    floe("egress", "history", "--json", code=0)
    floe("egress", "history", code=0)

    # The runner used as a library: the exception itself, and its whole chain.
    plan = compile_project(project.spec, registry=PluginRegistry.discover()).unwrap()
    with StateStore(state_url_for(project.root, environ={})) as state:
        runner = EgressRunner(
            plan,
            registry=PluginRegistry.discover(),
            secrets=SecretResolver.for_project(project.root, environ=env),
            state=state,
        )
        with pytest.raises(FloeError) as caught:
            runner.run(select_destinations(plan, ["wrong_db"], False))
        receipts = state.runs(limit=100)
        rejected = state.rejected_rows("crm", unresolved_only=False)
    error = caught.value
    seen += [str(error), repr(error), error.hint]
    seen += traceback.format_exception(error)
    seen += [json.dumps(r.to_dict()) for r in receipts]
    seen += [f"{r.reason} {json.dumps(r.row, default=str)}" for r in rejected]
    seen.append(_span_text(spans))

    egress_events = [
        event
        for span in spans.get_finished_spans()
        if span.name.startswith("floe.egress.")
        for event in span.events
    ]
    assert egress_events and all(
        "exception.stacktrace" not in (event.attributes or {}) for event in egress_events
    )
    everything = "\n".join(seen)
    # The runs really happened and failed where intended:
    assert len(rejected) == 2 and any("400" in r.reason for r in rejected)
    assert {"success", "partial", "failed"} <= {r.status.value for r in receipts}
    assert "floe.egress.destination" in everything and "floe.sink.send_batch" in everything
    assert "nope_" in everything  # the wrong database is named, its password is not
    assert TOKEN not in everything
    assert PG_PASSWORD not in everything
