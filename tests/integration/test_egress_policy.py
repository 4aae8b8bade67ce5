"""``egress_policy`` end to end: ``floe egress run`` against real local servers (an HTTP
recorder, PostgreSQL, MariaDB, SQLite files, an Iceberg REST catalog) sends to allowed hosts
and refuses the others with zero bytes sent.

Host names other than ``localhost`` come from ``fake_dns`` (the workspace conftest): a table
standing in for DNS, so that a name can resolve to 169.254.169.254 without any packet leaving;
a connection to any address but 127.0.0.1 fails the test instead of being made.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest

pytestmark = pytest.mark.requirement("R17")

REST = """\
- name: crm
  sink_type: rest_api
  connection_secret_ref: crm-api
  source_table: gold.customers
  config: {path: /contacts, auth: bearer}
"""

SQL = """\
- name: {name}
  sink_type: sql_database
  connection_secret_ref: {name}
  source_table: gold.customers
  config: {{table: {table}, mode: append}}
"""

TOKEN = "tok-policy-7f3a9c1e"


def _policy(sinks: str = "", *, top: str = "", catalog: str = "") -> str:
    text = "scope: enterprise\negress_policy:\n"
    text += "".join(f"  {line}\n" for line in top.splitlines())
    if sinks:
        text += "  sinks:\n" + "".join(f"    {line}\n" for line in sinks.splitlines())
    if catalog:
        text += "  catalog:\n" + "".join(f"    {line}\n" for line in catalog.splitlines())
    return text


@pytest.fixture
def project(make_project: Any, http_server: Any) -> Any:
    """A project with the destination ``crm`` (rest_api) pointing at the recorder."""
    proj = make_project(rows=20)
    http_server.token = TOKEN
    proj.secret("crm-api", token=TOKEN, base_url=http_server.url)
    return proj


def _port(http_server: Any) -> int:
    return int(http_server.url.rsplit(":", 1)[1].split("/", 1)[0])


def _refused(result: Any, *expected: str) -> str:
    output = result.stdout + result.stderr
    assert result.exit_code == 1, output
    assert "Traceback" not in output
    for text in (*expected, "egress_policy", "platform team", "nothing was sent"):
        assert text in output, output
    assert TOKEN not in output
    return str(output)


def _history(project: Any) -> list[dict[str, Any]]:
    result = project.cli("egress", "history", "--json", "--spec", project.spec)
    assert result.exit_code == 0, result.output
    return list(json.loads(result.stdout)["runs"])


# --- rest_api -------------------------------------------------------------------------------


def test_an_allowed_host_delivers_and_receipts_and_history_name_it(
    project: Any, http_server: Any, h: Any
) -> None:
    port = _port(http_server)
    project.write(
        REST, manifest_extra=_policy(f"rest_api: {{allowed_hosts: ['127.0.0.1:{port}']}}")
    )
    result = project.cli("egress", "run", "crm", "--json", "--spec", project.spec)
    assert result.exit_code == 0, result.output
    assert len(http_server.records) == 20
    (receipt,) = h.json_receipts(result)
    assert receipt["destination_host"] == f"127.0.0.1:{port}"
    (run,) = _history(project)
    assert run["destination_host"] == f"127.0.0.1:{port}"
    assert TOKEN not in json.dumps(run)
    shown = project.cli("egress", "show", run["run_id"], "--spec", project.spec)
    assert f"127.0.0.1:{port}" in shown.stdout


def test_an_unapproved_host_is_refused_by_egress_run_all_with_zero_requests_anywhere(
    project: Any, http_server: Any, pg_schema: str, h: Any
) -> None:
    table = f"t_{uuid.uuid4().hex[:8]}"
    project.secret("warehouse", url=f"{h.pg_url}?options=-csearch_path%3D{pg_schema}")
    project.write(
        SQL.format(name="warehouse", table=table) + REST,
        manifest_extra=_policy(
            "rest_api: {allowed_hosts: [api.acme.test, '*.hubapi.test']}\n"
            "sql_database: {allowed_hosts: ['127.0.0.1:5432']}"
        ),
    )
    result = project.cli("egress", "run", "--all", "--spec", project.spec)
    port = _port(http_server)
    _refused(
        result,
        "rest_api/crm",
        f"127.0.0.1:{port} (its base_url)",
        "egress_policy.sinks.rest_api.allowed_hosts (api.acme.test, *.hubapi.test)",
        str(project.root / "manifest.yaml"),
    )
    assert http_server.requests == []  # not even the probe
    with psycopg.connect(h.pg_dsn) as conn:
        found = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = %s", (table,)
        ).fetchone()
    assert found == (0,)
    refused = next(run for run in _history(project) if run["destination"] == "crm")
    assert refused["status"] == "failed"
    assert refused["destination_host"] == f"127.0.0.1:{port}"


def test_the_metadata_address_is_refused_without_any_policy(
    project: Any, http_server: Any, fake_dns: dict[str, list[str]]
) -> None:
    project.secret("crm-api", token=TOKEN, base_url="http://169.254.169.254/latest")
    project.write(REST)
    result = project.cli("egress", "run", "crm", "--spec", project.spec)
    _refused(result, "169.254.169.254", "floe's default denial", "(169.254.0.0/16)")


def test_a_name_resolving_to_the_metadata_address_is_refused(
    project: Any, http_server: Any, fake_dns: dict[str, list[str]]
) -> None:
    fake_dns["crm.rebind.test"] = ["169.254.169.254"]
    project.secret("crm-api", token=TOKEN, base_url="http://crm.rebind.test/api")
    project.write(REST, manifest_extra=_policy("rest_api: {allowed_hosts: [crm.rebind.test]}"))
    result = project.cli("egress", "run", "crm", "--spec", project.spec)
    _refused(result, "crm.rebind.test", "its name resolves to 169.254.169.254")
    assert http_server.requests == []


def test_a_name_that_rebinds_after_the_check_is_refused_when_the_sink_connects(
    project: Any, http_server: Any, fake_dns: dict[str, list[str]], monkeypatch: Any
) -> None:
    """The prepare-phase check sees 127.0.0.1; the sink's own connection then gets
    169.254.169.254, and is refused at that moment, before the probe is sent."""
    answered = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "crm.rebind.test":
            lookups.append(host)
            fake_dns[host] = ["127.0.0.1"] if len(lookups) == 1 else ["169.254.169.254"]
        return answered(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    project.secret("crm-api", token=TOKEN, base_url=f"http://crm.rebind.test:{_port(http_server)}")
    project.write(REST)
    result = project.cli("egress", "run", "crm", "--spec", project.spec)
    _refused(result, "crm.rebind.test", "its name resolves to 169.254.169.254")
    assert len(lookups) >= 2
    assert http_server.requests == []


def test_a_wildcard_allows_names_below_its_domain_only(
    project: Any, http_server: Any, fake_dns: dict[str, list[str]]
) -> None:
    fake_dns["api.crm.test"] = ["127.0.0.1"]
    project.secret("crm-api", token=TOKEN, base_url=f"http://api.crm.test:{_port(http_server)}")
    project.write(REST, manifest_extra=_policy("rest_api: {allowed_hosts: ['*.crm.test']}"))
    result = project.cli("egress", "run", "crm", "--spec", project.spec)
    assert result.exit_code == 0, result.output
    assert len(http_server.records) == 20
    assert http_server.requests[0]["headers"]["Host"].startswith("api.crm.test:")

    project.write(REST, manifest_extra=_policy("rest_api: {allowed_hosts: ['*.api.crm.test']}"))
    before = len(http_server.requests)
    result = project.cli("egress", "run", "crm", "--spec", project.spec)
    _refused(result, "api.crm.test", "allowed_hosts (*.api.crm.test)")
    assert len(http_server.requests) == before


def test_the_rest_catalog_uri_is_checked_too(
    make_rest_project: Any, http_server: Any, fake_dns: dict[str, list[str]]
) -> None:
    project = make_rest_project(rows=10)
    http_server.token = TOKEN
    project.secret("crm-api", token=TOKEN, base_url=http_server.url)
    project.write(REST, manifest_extra=_policy(catalog="allowed_hosts: [polaris.acme.test]"))
    result = project.cli("egress", "run", "crm", "--spec", project.spec)
    _refused(result, "[catalog] may not connect to 127.0.0.1", "egress_policy.catalog")
    assert http_server.requests == []


# --- sql_database ---------------------------------------------------------------------------


def _pg_count(h: Any, schema: str, table: str) -> int:
    with psycopg.connect(h.pg_dsn) as conn:
        exists = conn.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = %s AND table_name = %s",
            (schema, table),
        ).fetchone()
        if exists != (1,):
            return -1
        row = conn.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchone()
    return int(row[0]) if row else 0


def _pg_project(project: Any, h: Any, schema: str, host: str, policy: str) -> str:
    table = f"t_{uuid.uuid4().hex[:8]}"
    url = f"postgresql+psycopg://postgres@{host}:5432/test?options=-csearch_path%3D{schema}"
    project.secret("warehouse", url=url)
    project.write(SQL.format(name="warehouse", table=table), manifest_extra=policy)
    return table


def test_postgresql_on_an_allowed_host_receives_the_rows(
    project: Any, pg_schema: str, h: Any, fake_dns: dict[str, list[str]]
) -> None:
    """``pg.local.test`` exists only in the fake table: psycopg reaches PostgreSQL through the
    guarded resolver and connects to the address it checked."""
    fake_dns["pg.local.test"] = ["127.0.0.1"]
    table = _pg_project(
        project,
        h,
        pg_schema,
        "pg.local.test",
        _policy("sql_database: {allowed_hosts: ['pg.local.test:5432']}"),
    )
    result = project.cli("egress", "run", "warehouse", "--json", "--spec", project.spec)
    assert result.exit_code == 0, result.output
    assert _pg_count(h, pg_schema, table) == 20
    assert h.json_receipts(result)[0]["destination_host"] == "pg.local.test:5432"


def test_postgresql_on_another_host_is_refused(project: Any, pg_schema: str, h: Any) -> None:
    table = _pg_project(
        project, h, pg_schema, "127.0.0.1", _policy("sql_database: {allowed_hosts: [db.acme.test]}")
    )
    result = project.cli("egress", "run", "warehouse", "--spec", project.spec)
    _refused(result, "sql_database/warehouse", "127.0.0.1:5432 (its url)")
    assert _pg_count(h, pg_schema, table) == -1


def test_postgresql_behind_a_name_that_rebinds_is_refused_when_psycopg_connects(
    project: Any, pg_schema: str, h: Any, fake_dns: dict[str, list[str]], monkeypatch: Any
) -> None:
    """libpq connects from C, out of reach of ``no_foreign_connections``: the name rebinds to
    127.0.0.2, denied by the policy, so that even a broken guard sends nothing off the host."""
    answered = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "pg.rebind.test":
            lookups.append(host)
            fake_dns[host] = ["127.0.0.1"] if len(lookups) == 1 else ["127.0.0.2"]
        return answered(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    policy = _policy(top="denied_networks: [127.0.0.2/32]")
    table = _pg_project(project, h, pg_schema, "pg.rebind.test", policy)
    result = project.cli("egress", "run", "warehouse", "--spec", project.spec)
    _refused(
        result,
        "pg.rebind.test",
        "its name resolves to 127.0.0.2",
        "egress_policy.denied_networks 127.0.0.2/32",
    )
    assert len(lookups) >= 2
    assert _pg_count(h, pg_schema, table) == -1


@pytest.fixture
def maria_table() -> Iterator[str]:
    """A fresh table name in MariaDB's ``test`` database, dropped afterwards."""
    name = f"floe_it_{uuid.uuid4().hex[:10]}"
    try:
        conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", database="test")
    except pymysql.err.OperationalError as exc:
        pytest.fail(
            f"MariaDB is not reachable on 127.0.0.1:3306 ({exc}); "
            "start it with: bash scripts/services.sh"
        )
    try:
        yield name
    finally:
        with conn.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS `{name}`")
        conn.close()


def _maria_rows(table: str) -> int:
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", database="test")
    try:
        with conn.cursor() as cursor:
            cursor.execute("SHOW TABLES LIKE %s", (table,))
            if cursor.fetchone() is None:
                return -1
            cursor.execute(f"SELECT count(*) FROM `{table}`")
            row = cursor.fetchone()
    finally:
        conn.close()
    return int(row[0]) if row else 0


@pytest.mark.parametrize(
    ("allowed", "delivered"), [("'127.0.0.1:3306'", True), ("'127.0.0.1:5432'", False)]
)
def test_mariadb_is_allowed_by_host_and_port(
    project: Any, maria_table: str, fake_dns: dict[str, list[str]], allowed: str, delivered: bool
) -> None:
    project.secret("maria", url="mysql+pymysql://root@127.0.0.1:3306/test")
    project.write(
        SQL.format(name="maria", table=maria_table),
        manifest_extra=_policy(f"sql_database: {{allowed_hosts: [{allowed}]}}"),
    )
    result = project.cli("egress", "run", "maria", "--spec", project.spec)
    if delivered:
        assert result.exit_code == 0, result.output
        assert _maria_rows(maria_table) == 20
    else:
        _refused(result, "127.0.0.1:3306", "allowed_hosts (127.0.0.1:5432)")
        assert _maria_rows(maria_table) == -1


def test_sqlite_files_are_allowed_under_allowed_paths_only(project: Any) -> None:
    (project.root / "exports").mkdir()
    policy = _policy("sql_database: {allowed_paths: [exports]}")
    project.secret("local", url="sqlite:///exports/crm.db")
    project.write(SQL.format(name="local", table="customers"), manifest_extra=policy)
    result = project.cli("egress", "run", "local", "--json", "--spec", project.spec)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["receipts"][0]["destination_host"] == str(
        project.root / "exports" / "crm.db"
    )

    project.secret("local", url="sqlite:///elsewhere/crm.db")
    result = project.cli("egress", "run", "local", "--spec", project.spec)
    output = _refused(result, "may not write the file", "egress_policy.sinks.sql_database")
    assert str(Path(project.root / "elsewhere" / "crm.db")) in output
    assert not (project.root / "elsewhere" / "crm.db").exists()


# --- the check alone (what `floe check` calls) ----------------------------------------------


def test_check_destinations_refuses_what_egress_run_would_without_connecting(
    project: Any, http_server: Any, fake_dns: dict[str, list[str]]
) -> None:
    from floe_core.compiler import compile_project
    from floe_core.egress.gate import check_destinations
    from floe_core.registry import PluginRegistry
    from floe_core.secrets.resolver import SecretResolver

    fake_dns["crm.rebind.test"] = ["169.254.169.254"]
    project.secret("other-api", token=TOKEN, base_url="http://crm.rebind.test/in")
    project.secret("local", url="sqlite:///exports/crm.db")
    other = REST.replace("name: crm", "name: other").replace("crm-api", "other-api")
    project.write(
        REST + other + SQL.format(name="local", table="customers"),
        manifest_extra=_policy(
            f"rest_api: {{allowed_hosts: ['127.0.0.1:{_port(http_server)}', crm.rebind.test]}}"
        ),
    )
    registry = PluginRegistry.discover()
    plan = compile_project(project.spec, registry=registry).unwrap()
    secrets = SecretResolver.for_project(plan.project_dir, secrets_dir=plan.secrets_dir)

    refusals = check_destinations(plan, registry=registry, secrets=secrets)

    assert [(r.destination, r.sink_type) for r in refusals] == [("other", "rest_api")]
    assert "resolves to 169.254.169.254" in str(refusals[0])
    assert http_server.requests == []
    assert not (project.root / "exports").exists()


# --- on a Ray worker (the guard a task installs, run here in-process) ------------------------


def test_a_task_guard_refuses_a_name_rebinding_to_a_denied_address_while_it_lasts(
    project: Any, fake_dns: dict[str, list[str]]
) -> None:
    """What ``deliver_task`` wraps a task in on its worker, with the policy that travels with
    the task: the destination's name checked at once, then at every resolution; the process
    is left as it was after the task."""
    from floe_core.compiler import compile_project
    from floe_core.egress.destinations import worker_sink_config
    from floe_core.executors.sealed import Sealed
    from floe_core.executors.task import RunSpec, guarded
    from floe_core.registry import PluginRegistry
    from floe_core.sinks.errors import EgressPolicyError
    from floe_core.sinks.plugin import SinkPlugin

    fake_dns["crm.rebind.test"] = ["127.0.0.1"]
    project.write(REST, manifest_extra=_policy("rest_api: {allowed_hosts: [crm.rebind.test]}"))
    registry = PluginRegistry.discover()
    plan = compile_project(project.spec, registry=registry).unwrap()
    destination = plan.destination("crm")
    assert destination is not None
    plugin = registry.get(destination.plugin_name)
    assert isinstance(plugin, SinkPlugin)
    spec = RunSpec(
        run_id="0" * 32,
        destination=destination,
        plugin=plugin,
        snapshot_id=None,
        project_dir=str(plan.project_dir),
        state_url="",
        sealed=Sealed(b""),
        policy=plan.manifest.egress_policy,
        manifest_path=str(plan.manifest_path),
    )
    secret = {"token": TOKEN, "base_url": "http://crm.rebind.test:8080/api"}
    config = worker_sink_config(plugin, destination, secret, spec.project_dir)

    with guarded(spec, config, {}):
        assert socket.getaddrinfo("crm.rebind.test", 8080)[0][4][0] == "127.0.0.1"
        fake_dns["crm.rebind.test"] = ["169.254.169.254"]
        with pytest.raises(EgressPolicyError, match=r"resolves to 169\.254\.169\.254") as refused:
            socket.getaddrinfo("crm.rebind.test", 8080)
        assert TOKEN not in str(refused.value)
        assert "egress_policy" in str(refused.value)
    # After the task, the process resolves as before (the guard is gone).
    assert socket.getaddrinfo("crm.rebind.test", 8080)[0][4][0] == "169.254.169.254"

    # A task whose destination's name already answers a denied address sends nothing.
    with (
        pytest.raises(EgressPolicyError, match=r"resolves to 169\.254\.169\.254"),
        guarded(spec, config, {}),
    ):
        pytest.fail("the task ran")
