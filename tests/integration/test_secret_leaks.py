"""Planted secrets never appear in logs, spans, receipts, history, rejected rows, errors or JSON.

Planted: a REST token (from environment variables), a PostgreSQL password in the URL of a
mounted Secret and another in the Secret's separate ``password`` key (the server uses trust
auth, so passwords are carried but not needed). The destinations echo them back in shapes no
pattern recognises: the HTTP server puts the bare token in the JSON body of every error, and
a trigger on the PostgreSQL table refuses two rows with a message naming the password. Only
scrubbing by value removes them. Runs that succeed, reject rows, fail at every batch and fail
at connection time are made through the CLI with debug logging, and everything they left
behind is searched: stdout, stderr, ``--json`` output, receipts, history, rejected rows, spans
and the exception raised to a library caller.

The REST catalog path has its own test: the catalog's client secret and every OAuth2 token it
issued, with a catalog that repeats them in its error answers.
"""

from __future__ import annotations

import json
import traceback
import uuid
from typing import Any

import psycopg
import pytest
from floe_core.compiler import compile_project
from floe_core.egress.destinations import select_destinations
from floe_core.egress.runner import EgressRunner
from floe_core.egress.state import StateStore, state_url_for
from floe_core.errors import FloeError
from floe_core.registry import PluginRegistry
from floe_core.secrets.resolver import SecretResolver

TOKEN = "Tok-Planted-4be2c0de91"
PG_PASSWORD = "Pg-Planted-9d3f1a77"  # in a URL
PG_KEPT_APART = "Kept-Apart-51c07e2b"  # the Secret's `password` key, in no URL

# Refuses customers 5 and 17 with a message that names the password, as a destination that
# echoes what it was given would.
REFUSING_TRIGGER = """
CREATE FUNCTION "{schema}".refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.customer_id IN (5, 17) THEN
    RAISE EXCEPTION 'customer % refused: the role behind {password} may not write it',
      NEW.customer_id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER refuse BEFORE INSERT ON "{schema}".customers
  FOR EACH ROW EXECUTE FUNCTION "{schema}".refuse();
"""

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
    make_project: Any, http_server: Any, pg_schema: str, spans: Any, h: Any
) -> None:
    project = make_project(rows=60)
    http_server.token = TOKEN
    http_server.echo_headers_on_error = True
    http_server.echo_on_error = f"request signed with {TOKEN} refused"
    env = {
        "FLOE_SECRET_CRM_API__TOKEN": TOKEN,
        "FLOE_SECRET_CRM_API__BASE_URL": http_server.url,
        "FLOE_LOG_LEVEL": "debug",
    }
    project.secret(
        "pg", url="postgresql+psycopg://postgres@127.0.0.1:5432/test", password=PG_KEPT_APART
    )
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
    with psycopg.connect(h.pg_dsn, autocommit=True) as conn:
        conn.execute(REFUSING_TRIGGER.format(schema=pg_schema, password=PG_KEPT_APART))
    floe("egress", "run", "warehouse", "--json", code=3)
    floe("egress", "run", "warehouse", code=3)
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
        refused_by_db = state.rejected_rows("warehouse", unresolved_only=False)
    error = caught.value
    seen += [str(error), repr(error), error.hint]
    seen += traceback.format_exception(error)
    seen += [json.dumps(r.to_dict()) for r in receipts]
    seen += [f"{r.reason} {json.dumps(r.row, default=str)}" for r in rejected + refused_by_db]
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
    # ... and the destinations echoed the planted values, which were masked where they stood
    assert all("request signed with *** refused" in r.reason for r in rejected), [
        r.reason for r in rejected
    ]
    # refused by two runs: one record per row, two attempts
    assert sorted((r.row["customer_id"], r.attempts) for r in refused_by_db) == [(5, 2), (17, 2)]
    assert all("the role behind *** may not write it" in r.reason for r in refused_by_db)
    assert {"success", "partial", "failed"} <= {r.status.value for r in receipts}
    assert "floe.egress.destination" in everything and "floe.sink.send_batch" in everything
    assert "nope_" in everything  # the wrong database is named, its password is not
    assert TOKEN not in everything
    assert PG_PASSWORD not in everything
    assert PG_KEPT_APART not in everything


@pytest.mark.requirement("B3")
@pytest.mark.requirement("R9")
def test_rest_catalog_credentials_and_tokens_never_leave_the_process(
    make_rest_project: Any, rest_catalog: Any, pg_schema: str, spans: Any
) -> None:
    """The REST catalog path: the client secret from the catalog Secret and every OAuth2 token
    the catalog issued. The catalog repeats the request's ``Authorization`` header and the
    client secret in every error it answers; runs that succeed (with a token expiring
    mid-run), are refused (403), meet a failing catalog (retried 503s) and present a wrong
    client secret are made with debug logging, and all they left behind is searched."""
    project = make_rest_project(rows=30)
    project.secret("pg", url="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    project.write(
        f"- name: warehouse\n  sink_type: sql_database\n  connection_secret_ref: pg\n"
        f"  source_table: gold.customers\n"
        f"  config: {{table: customers, schema: {pg_schema}, mode: append}}\n"
    )
    rest_catalog.echo_credentials_on_error = True
    load = "GET .*/tables/customers$"
    env = {"FLOE_LOG_LEVEL": "debug"}
    seen: list[str] = []

    def floe(*args: str, code: int) -> None:
        result = project.cli(*args, "--spec", project.spec, env=env)
        seen.extend([result.stdout, result.stderr])
        assert result.exit_code == code, result.output

    rest_catalog.expire_tokens_before(load, occurrences=(1,))
    floe("egress", "run", "warehouse", "--json", code=0)
    rest_catalog.fail(load, 403, times=2)
    floe("egress", "run", "warehouse", "--json", code=1)
    floe("egress", "run", "warehouse", code=1)
    rest_catalog.fail(load, 503, times=3)
    floe("egress", "run", "warehouse", code=1)
    real_secret = rest_catalog.client_secret
    wrong_secret = "Wrong-Planted-" + uuid.uuid4().hex[:10]
    project.secret("polaris-reader", client_secret=wrong_secret)
    floe("egress", "run", "warehouse", "--json", code=1)
    floe("egress", "run", "warehouse", code=1)
    floe("egress", "history", "--json", code=0)

    # The runner used as a library: the exception and its whole chain.
    plan = compile_project(project.spec, registry=PluginRegistry.discover()).unwrap()
    with StateStore(state_url_for(project.root, environ={})) as state:
        runner = EgressRunner(
            plan,
            registry=PluginRegistry.discover(),
            secrets=SecretResolver.for_project(project.root, environ=env),
            state=state,
        )
        with pytest.raises(FloeError) as caught:
            runner.run(select_destinations(plan, ["warehouse"], False))
        receipts = state.runs(limit=100)
    error = caught.value
    seen += [str(error), repr(error), error.hint, *traceback.format_exception(error)]
    seen += [json.dumps(r.to_dict()) for r in receipts]
    seen.append(_span_text(spans))
    everything = "\n".join(seen)

    # The runs failed where intended, and the catalog's echoes were masked where they stood.
    statuses = [s.status for s in rest_catalog.requests(load)]
    assert statuses[:2] == [401, 200] and 403 in statuses and statuses.count(503) == 3
    assert "denied access" in everything and "Authorization: ***" in everything
    assert "answered with HTTP 503 (tried 3 times)" in everything
    assert "refused the credentials" in everything and "client_secret=***" in everything
    assert {"success", "failed"} <= {r.status.value for r in receipts}
    assert len(rest_catalog.tokens_issued) >= 8
    for token in rest_catalog.tokens_issued:
        assert token not in everything
    assert real_secret not in everything
    assert wrong_secret not in everything
