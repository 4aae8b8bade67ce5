"""``floe check``: what a run would check before sending, for every destination, every
problem at once; nothing sent, nothing created."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from .conftest import PG_DSN, PG_URL

GOOD_REST = """\
- name: crm_ok
  sink_type: rest_api
  connection_secret_ref: crm-api
  source_table: gold.customers
  config: {path: /contacts, auth: bearer}
"""

THREE_BROKEN = """\
- name: crm_no_secret
  sink_type: rest_api
  connection_secret_ref: crm-missing
  source_table: gold.customers
  config: {{path: /contacts, auth: bearer}}
- name: crm_bad_column
  sink_type: rest_api
  connection_secret_ref: crm-api
  source_table: gold.customers
  config: {{path: /contacts, auth: bearer}}
  field_mapping: {{lifetime_val: ltv}}
- name: pg_short_table
  sink_type: sql_database
  connection_secret_ref: pg
  source_table: gold.customers
  primary_key: [customer_id]
  config: {{table: customers, schema: {schema}, mode: upsert}}
"""

PG_DEST = """\
- name: pg
  sink_type: sql_database
  connection_secret_ref: pg
  source_table: gold.customers
  primary_key: [customer_id]
  config: {{table: {table}, schema: {schema}, mode: upsert}}
"""

SQLITE_APP = """\
- name: app_db
  sink_type: sql_database
  connection_secret_ref: app-db
  source_table: gold.customers
  config: {table: contacts, mode: append}
"""

#: A terminal wide enough for every message of these reports to be on one line.
WIDE = {"COLUMNS": "400"}

ALL_COLUMNS = (
    "customer_id bigint primary key, email {email}, first_name text, last_name text, "
    "country text, lifetime_value numeric(12, 2), orders_count integer, is_active boolean, "
    "last_order_at timestamptz, segment text"
)


def _sql(statement: str) -> None:
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(statement)


def _tables(schema: str) -> list[str]:
    with psycopg.connect(PG_DSN) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,),
        ).fetchall()
    return sorted(row[0] for row in rows)


@pytest.fixture
def project(make_project: Any, http_server: Any, pg_schema: str) -> Any:
    proj = make_project(rows=20)
    http_server.token = "tok-check-7"
    proj.secret("crm-api", token=http_server.token, base_url=http_server.url)
    proj.secret("pg", url=PG_URL)
    return proj


def _posts(http_server: Any) -> list[dict[str, Any]]:
    return [r for r in http_server.requests if r["method"] in {"POST", "PUT", "PATCH"}]


@pytest.mark.requirement("B1")
def test_three_broken_destinations_are_all_reported(
    project: Any, http_server: Any, pg_schema: str
) -> None:
    _sql(f'CREATE TABLE "{pg_schema}".customers (customer_id bigint primary key, email text)')
    project.write(GOOD_REST + THREE_BROKEN.format(schema=pg_schema))

    # wide enough for every message to be on one line; at 80 columns they wrap (below)
    result = project.cli("check", "--all", "--project", str(project.root), env=WIDE)

    output = result.stdout + result.stderr
    assert result.exit_code == 1, output
    assert "Traceback" not in output
    assert "Secret 'crm-missing' for destination 'crm_no_secret' was not found" in output
    assert "the rest_api sink needs the key(s) token" in output  # the keys the rest_api sink needs
    assert "'lifetime_val'" in output and "lifetime_value" in output
    assert "has no column(s) 'first_name'" in output
    assert "3 problems in 3 of 4 destinations" in output
    assert "crm_no_secret, crm_bad_column, pg_short_table" in output
    assert _posts(http_server) == []
    assert not (project.root / ".floe" / "state.db").exists()


@pytest.mark.requirement("B1")
def test_a_run_of_all_reports_every_destination_it_could_not_prepare(
    project: Any, http_server: Any, pg_schema: str
) -> None:
    _sql(f'CREATE TABLE "{pg_schema}".customers (customer_id bigint primary key, email text)')
    project.write(GOOD_REST + THREE_BROKEN.format(schema=pg_schema))

    result = project.cli("egress", "run", "--all", "--project", str(project.root))

    output = result.stdout + result.stderr
    assert result.exit_code == 1, output
    assert "2 of 4 destinations could not be prepared" in output
    assert "[crm_no_secret] Secret 'crm-missing' for destination" in output
    assert "[crm_bad_column] field_mapping names column(s) 'lifetime_val'" in output
    assert "[crm_no_secret] create " in output  # each one's fix
    assert "nothing was sent" in output
    assert _posts(http_server) == []
    history = project.cli("egress", "history", "--project", str(project.root), "--json")
    failed = {run["destination"] for run in json.loads(history.stdout)["runs"]}
    assert failed == {"crm_no_secret", "crm_bad_column"}  # each failure is in the history


@pytest.mark.requirement("B1")
def test_a_ready_project_passes_and_sends_nothing(
    project: Any, http_server: Any, pg_schema: str
) -> None:
    project.write(GOOD_REST + PG_DEST.format(table="fresh", schema=pg_schema))

    result = project.cli("check", "--project", str(project.root), env=WIDE)

    assert result.exit_code == 0, result.output
    assert "2 destinations ready to run" in result.stdout
    assert "accepts the 10 field(s) sent" in result.stdout
    assert _posts(http_server) == []
    assert _tables(pg_schema) == []  # a table floe would create is not created by a check


@pytest.mark.requirement("B1")
def test_the_source_table_says_how_many_of_its_columns_are_sent(
    project: Any, pg_schema: str
) -> None:
    dest = PG_DEST.format(table="fresh", schema=pg_schema) + "  exclude_columns: [country]\n"
    project.write(dest)

    result = project.cli("check", "--project", str(project.root), env=WIDE)

    assert result.exit_code == 0, result.output
    assert ", 10 columns, 9 sent (1 excluded)" in result.stdout
    assert "accepts the 9 field(s) sent" in result.stdout


@pytest.mark.requirement("B1")
def test_the_report_wraps_to_the_terminal_width_and_names_the_table(
    project: Any, http_server: Any, pg_schema: str
) -> None:
    sqlite = project.root / "app.db"
    project.secret("app-db", url=f"sqlite:///{sqlite}")
    project.write(GOOD_REST + THREE_BROKEN.format(schema=pg_schema) + SQLITE_APP)

    narrow = project.cli("check", "--all", "--project", str(project.root), env={"COLUMNS": "80"})
    wide = project.cli("check", "--all", "--project", str(project.root), env=WIDE)

    assert narrow.exit_code == wide.exit_code == 1
    lines = narrow.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, narrow.stdout
    assert all(line == line.rstrip() for line in lines)
    assert max(len(line) for line in wide.stdout.splitlines()) > 80  # it did need wrapping
    # a wrapped detail continues under itself: the text is that of the wide report
    assert "".join(narrow.stdout.split()) == "".join(wide.stdout.split())
    assert f"reachable, credentials accepted: table contacts in sqlite:///{sqlite}" in wide.stdout
    assert "://:" not in wide.stdout and " .contacts" not in wide.stdout


@pytest.mark.requirement("B1")
def test_every_column_type_the_values_can_never_go_into_is_reported(
    project: Any, pg_schema: str
) -> None:
    columns = (
        ALL_COLUMNS.format(email="integer")
        .replace("lifetime_value numeric(12, 2)", "lifetime_value boolean")
        .replace("last_order_at timestamptz", "last_order_at time")
    )
    _sql(f'CREATE TABLE "{pg_schema}".typed ({columns})')
    project.write(PG_DEST.format(table="typed", schema=pg_schema))

    result = project.cli("check", "pg", "--project", str(project.root), env=WIDE)

    assert result.exit_code == 1, result.output
    out = " ".join(result.stdout.split())
    assert (
        "'lifetime_value' is BOOLEAN and the data writes decimal (decimal128(12, 2)) values; "
        "'last_order_at' is TIME WITHOUT TIME ZONE and the data writes timestamp "
        "(timestamp[us, tz=UTC]) values: a TIME column would keep only the time of day, "
        "not the date (and where only some rows fit: 'email' is INTEGER" in out
    ), out
    assert "the type floe creates for the data: lifetime_value NUMERIC(12, 2)" in out


@pytest.mark.requirement("B1")
def test_a_column_type_only_some_values_fit_is_a_warning(project: Any, pg_schema: str) -> None:
    columns = ALL_COLUMNS.format(email="integer").replace(
        "last_order_at timestamptz", "last_order_at date"
    )
    _sql(f'CREATE TABLE "{pg_schema}".typed ({columns})')
    project.write(PG_DEST.format(table="typed", schema=pg_schema))

    result = project.cli("check", "pg", "--project", str(project.root), env=WIDE)

    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert "! destination table" in out
    assert (
        "'email' is INTEGER and the data writes text (large_string) values: only text that "
        "reads as INTEGER is stored; the other rows are refused; 'last_order_at' is DATE and "
        "the data writes timestamp (timestamp[us, tz=UTC]) values: only timestamps at midnight "
        "are stored (a DATE keeps no time of day); the other rows are refused" in out
    ), out
    assert "1 destination ready to run" in out and "1 warning; nothing was sent" in out


@pytest.mark.requirement("B1")
def test_a_matching_table_passes(project: Any, pg_schema: str) -> None:
    _sql(f'CREATE TABLE "{pg_schema}".typed ({ALL_COLUMNS.format(email="varchar(200)")})')
    project.write(PG_DEST.format(table="typed", schema=pg_schema))

    result = project.cli("check", "pg", "--project", str(project.root), env=WIDE)

    assert result.exit_code == 0, result.output
    with psycopg.connect(PG_DSN) as conn:
        count = conn.execute(f'SELECT count(*) FROM "{pg_schema}".typed').fetchone()
    assert count == (0,)


@pytest.mark.requirement("B1")
def test_refused_credentials_skip_the_table_check(project: Any, http_server: Any) -> None:
    http_server.token = "another-token"
    project.write(GOOD_REST)

    result = project.cli("check", "crm_ok", "--project", str(project.root), "--json", env=WIDE)

    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["schema_version"] == 1 and data["command"] == "check" and data["ok"] is False
    checks = {c["check"]: c for c in data["destinations"][0]["checks"]}
    assert checks["source table"]["outcome"] == "passed"
    assert checks["destination"]["outcome"] == "failed" and "401" in checks["destination"]["detail"]
    assert checks["destination table"]["outcome"] == "skipped"
    assert "tok-check-7" not in result.stdout


@pytest.mark.requirement("B1")
def test_usage_and_unknown_names(project: Any) -> None:
    project.write(GOOD_REST)

    both = project.cli("check", "crm_ok", "--all", "--project", str(project.root), env=WIDE)
    unknown = project.cli("check", "nope", "--project", str(project.root), env=WIDE)

    assert both.exit_code == 2, both.output
    assert unknown.exit_code == 1
    assert "destination 'nope' is not declared" in unknown.output


@pytest.mark.requirement("B1")
def test_a_further_check_joins_the_list(project: Any, http_server: Any) -> None:
    from floe_core.compiler import compile_project
    from floe_core.egress.preflight import CHECKS, Check, Outcome, Subject, preflight
    from floe_core.errors import FloeError
    from floe_core.registry import PluginRegistry
    from floe_core.secrets.resolver import SecretResolver

    def no_loopback(subject: Subject) -> str:
        if "127.0.0.1" in subject.sink.identity:
            raise FloeError("the destination is on this host", hint="ask the platform team")
        return "allowed"

    project.write(GOOD_REST)
    registry = PluginRegistry.discover()
    plan = compile_project(project.root / "floe.yaml", registry=registry).plan
    assert plan is not None
    secrets = SecretResolver.for_project(plan.project_dir)

    [report] = preflight(
        plan,
        plan.destinations,
        registry=registry,
        secrets=secrets,
        checks=[*CHECKS, Check("egress policy", ("sink",), no_loopback)],
    )

    assert [f.check for f in report.problems] == ["egress policy"]
    assert report.findings[-1].outcome is Outcome.FAILED
    assert report.findings[-1].hint == "ask the platform team"
    assert _posts(http_server) == []


@pytest.mark.requirement("B1")
def test_a_host_the_egress_policy_refuses_is_reported_and_not_connected_to(
    project: Any, http_server: Any
) -> None:
    project.write(
        GOOD_REST,
        manifest_extra=(
            "scope: enterprise\negress_policy:\n  sinks:\n"
            "    rest_api: {allowed_hosts: ['api.acme.test:443']}\n"
        ),
    )

    result = project.cli("check", "--project", str(project.root), "--json", env=WIDE)

    assert result.exit_code == 1, result.output
    checks = {c["check"]: c for c in json.loads(result.stdout)["destinations"][0]["checks"]}
    assert checks["egress policy"]["outcome"] == "failed"
    assert "127.0.0.1" in checks["egress policy"]["detail"]
    assert checks["destination"]["outcome"] == "skipped"
    assert http_server.requests == []  # not even the credential probe


SQLITE_DEST = """\
- name: local_db
  sink_type: sql_database
  connection_secret_ref: local-db
  source_table: gold.customers
  primary_key: [customer_id]
  config: {{table: customers, mode: upsert, create_table: {create}}}
"""


@pytest.mark.requirement("B1")
def test_a_sqlite_file_a_run_would_create_is_not_created_by_check_or_dry_run(
    project: Any,
) -> None:
    database = project.root / "out" / "destination.db"
    project.secret("local-db", url="sqlite:///out/destination.db")
    project.write(SQLITE_DEST.format(create="true"))

    checked = project.cli("check", "local_db", "--project", str(project.root), env=WIDE)
    dry = project.cli("egress", "run", "local_db", "--dry-run", "--project", str(project.root))

    assert checked.exit_code == 0, checked.output
    assert "ready to run" in checked.stdout
    assert dry.exit_code == 0, dry.output
    assert not database.parent.exists()  # neither the file nor its directory

    run = project.cli("egress", "run", "local_db", "--project", str(project.root))

    assert run.exit_code == 0, run.output
    assert database.exists()  # the first write creates the directory and the file


@pytest.mark.requirement("B1")
def test_a_missing_sqlite_file_with_create_table_false_is_reported(project: Any) -> None:
    project.secret("local-db", url="sqlite:///nowhere.db")
    project.write(SQLITE_DEST.format(create="false"))

    result = project.cli("check", "local_db", "--project", str(project.root), env=WIDE)

    assert result.exit_code == 1, result.output
    assert "does not exist" in result.stdout
    assert "create_table is false" in result.stdout
    assert not (project.root / "nowhere.db").exists()
