"""A REST catalog that cannot be used: one screen naming the catalog, its warehouse and the fix.

Transient failures (5xx, a reset connection) are retried with backoff and the run succeeds
when the catalog recovers; permanent ones (refused credentials, 403, unknown names) are not
retried. Nothing is sent to the destination when the source cannot be read.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from floe_test_rest_catalog import DROP_CONNECTION

DEST = """\
- name: warehouse
  sink_type: sql_database
  connection_secret_ref: pg
  source_table: {table}
  config: {{table: customers, schema: {schema}, mode: append}}
"""
LOAD = "GET .*/namespaces/gold/tables/customers$"


@pytest.fixture
def project(make_rest_project: Any, pg_schema: str) -> Any:
    proj = make_rest_project(rows=40)
    proj.secret("pg", url="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    proj.write(DEST.format(table="gold.customers", schema=pg_schema))
    return proj


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound to a socket that never listens: connections to it are refused."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])


def _fails(project: Any, rest_catalog: Any, *, expect: list[str]) -> str:
    result = project.cli("egress", "run", "warehouse", "--spec", project.spec)
    output = str(result.stdout + result.stderr)
    assert result.exit_code == 1, output
    assert "Traceback" not in output
    assert len(output.splitlines()) <= 25, output
    for text in expect:
        assert text in output, output
    assert "nothing was sent" in output
    assert rest_catalog.client_secret not in output
    assert not any(token in output for token in rest_catalog.tokens_issued)
    return output


def _delivered(project: Any, pg_schema: str, h: Any) -> list[dict[str, Any]]:
    result = project.cli("egress", "run", "warehouse", "--spec", project.spec)
    assert result.exit_code == 0, result.output
    return list(h.pg_rows(pg_schema, "customers", "customer_id"))


def _set_catalog(project: Any, old: str, new: str) -> None:
    manifest = project.root / "manifest.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")


@pytest.mark.requirement("R9")
def test_an_unreachable_catalog(project: Any, rest_catalog: Any, closed_port: int) -> None:
    _set_catalog(project, rest_catalog.url, f"http://127.0.0.1:{closed_port}")
    _fails(
        project,
        rest_catalog,
        expect=[
            f"cannot reach the rest catalog 'polaris' (http://127.0.0.1:{closed_port}/api/catalog",
            "warehouse 'gold_wh'",
            "tried 3 times",
            "catalog.uri",
        ],
    )


@pytest.mark.requirement("R9")
def test_bad_client_credentials_are_not_retried(project: Any, rest_catalog: Any) -> None:
    wrong = "wrong-secret-" + "5f1e9a0c"
    project.secret("polaris-reader", client_secret=wrong)
    before = len(rest_catalog.requests("POST /v1/oauth/tokens"))
    output = _fails(
        project,
        rest_catalog,
        expect=[
            f"rest catalog 'polaris' ({rest_catalog.url}/api/catalog, warehouse 'gold_wh')",
            "refused the credentials",
            "invalid_client",
            "client_id and client_secret in the Secret 'polaris-reader'",
        ],
    )
    assert wrong not in output
    asked = rest_catalog.requests("POST /v1/oauth/tokens")[before:]
    assert [(s.status, s.form["client_id"]) for s in asked] == [(401, rest_catalog.client_id)]


@pytest.mark.requirement("R9")
def test_an_unknown_warehouse(project: Any, rest_catalog: Any) -> None:
    _set_catalog(project, "warehouse: gold_wh", "warehouse: silver_wh")
    _fails(
        project,
        rest_catalog,
        expect=[
            "rest catalog 'polaris'",
            "has no warehouse 'silver_wh'",
            "Unable to find warehouse silver_wh",
            "set catalog.warehouse",
        ],
    )
    assert [s.status for s in rest_catalog.requests("GET /v1/config")][-1:] == [404]


@pytest.mark.requirement("R9")
def test_a_missing_namespace(project: Any, rest_catalog: Any, pg_schema: str) -> None:
    project.write(DEST.format(table="silver.customers", schema=pg_schema))
    _fails(
        project,
        rest_catalog,
        expect=[
            "namespace 'silver' (of table 'silver.customers') does not exist",
            "warehouse 'gold_wh'",
            "check source_table in floe.yaml; namespaces in this catalog: gold",
        ],
    )


@pytest.mark.requirement("R9")
def test_a_missing_table(project: Any, rest_catalog: Any, pg_schema: str) -> None:
    project.write(DEST.format(table="gold.nope", schema=pg_schema))
    _fails(
        project,
        rest_catalog,
        expect=[
            "table 'gold.nope' does not exist in the rest catalog 'polaris'",
            "warehouse 'gold_wh'",
            "tables in namespace 'gold': gold.customers",
        ],
    )
    assert len(rest_catalog.requests("GET .*/tables/nope$")) == 1


@pytest.mark.requirement("R9")
def test_forbidden_is_not_retried(project: Any, rest_catalog: Any) -> None:
    rest_catalog.fail(LOAD, 403, times=None)
    _fails(
        project,
        rest_catalog,
        expect=["denied access", "warehouse 'gold_wh'", "TABLE_READ_DATA", "PRINCIPAL_ROLE:ALL"],
    )
    assert [s.status for s in rest_catalog.requests(LOAD)] == [403]


@pytest.mark.requirement("R9")
def test_a_failing_catalog_is_retried_then_reported(project: Any, rest_catalog: Any) -> None:
    rest_catalog.fail(LOAD, 503, times=None)
    _fails(
        project,
        rest_catalog,
        expect=[
            "rest catalog 'polaris'",
            "warehouse 'gold_wh'",
            "answered with HTTP 503 (tried 3 times)",
            "check its health",
        ],
    )
    assert [s.status for s in rest_catalog.requests(LOAD)] == [503, 503, 503]


@pytest.mark.requirement("R9")
def test_transient_catalog_failures_are_retried_until_the_run_succeeds(
    project: Any, rest_catalog: Any, pg_schema: str, h: Any
) -> None:
    rest_catalog.fail("GET /v1/config", 500, times=1)
    rest_catalog.fail(LOAD, DROP_CONNECTION, times=1)
    rest_catalog.fail(LOAD, 502, times=1, delay_seconds=0.2)

    rows = _delivered(project, pg_schema, h)

    assert len(rows) == 40
    assert [s.status for s in rest_catalog.requests("GET /v1/config")][-2:] == [500, 200]
    assert [s.status for s in rest_catalog.requests(LOAD)] == [DROP_CONNECTION, 502, 200]
