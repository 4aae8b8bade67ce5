"""Bad input to ``floe egress run``: a clear one-screen error, exit code 1, nothing sent."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

DEST = """\
- name: crm
  sink_type: rest_api
  connection_secret_ref: crm-api
  source_table: {table}
  config: {{path: /contacts, auth: bearer}}
  field_mapping: {{{mapping}: ltv}}
"""


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound to a socket that never listens: connections are refused, and no other
    process can take the port while the test runs."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])


@pytest.fixture
def project(make_project: Any, http_server: Any) -> Any:
    proj = make_project(rows=20)
    http_server.token = "tok-bad-input-31"
    proj.secret("crm-api", token=http_server.token, base_url=http_server.url)
    proj.write(DEST.format(table="gold.customers", mapping="lifetime_value"))
    return proj


def _fails(project: Any, http_server: Any, *args: str, expect: list[str]) -> None:
    result = project.cli("egress", "run", *args, "--spec", project.spec)
    output = result.stdout + result.stderr
    assert result.exit_code == 1, output
    assert "Traceback" not in output
    assert len(output.splitlines()) <= 25, output
    for text in expect:
        assert text in output, output
    assert [r for r in http_server.requests if r["method"] == "POST"] == []


@pytest.mark.requirement("B1")
def test_the_good_project_works(project: Any, http_server: Any) -> None:
    result = project.cli("egress", "run", "crm", "--spec", project.spec)
    assert result.exit_code == 0, result.output
    assert len(http_server.records) == 20


@pytest.mark.requirement("B1")
def test_unknown_destination(project: Any, http_server: Any) -> None:
    _fails(project, http_server, "nope", expect=["destination 'nope' is not declared", "crm"])


@pytest.mark.requirement("R17")
def test_unapproved_sink_type(project: Any, http_server: Any) -> None:
    project.write(
        DEST.format(table="gold.customers", mapping="lifetime_value"),
        manifest_extra="scope: enterprise\napproved_sinks: [sql_database]\n",
    )
    _fails(project, http_server, "crm", expect=["rest_api", "approved", "nothing was sent"])


@pytest.mark.requirement("B3")
def test_missing_secret(project: Any, http_server: Any) -> None:
    (project.root / "secrets" / "crm-api" / "token").unlink()
    (project.root / "secrets" / "crm-api" / "base_url").unlink()
    (project.root / "secrets" / "crm-api").rmdir()
    _fails(
        project,
        http_server,
        "crm",
        expect=[
            "Secret 'crm-api' for destination 'crm' was not found",
            "FLOE_SECRET_CRM_API__<KEY>",
        ],
    )


@pytest.mark.requirement("B3")
def test_missing_key_in_secret(project: Any, http_server: Any) -> None:
    (project.root / "secrets" / "crm-api" / "token").unlink()
    _fails(project, http_server, "crm", expect=["no key 'token'", "secrets/crm-api/token"])


@pytest.mark.requirement("B1")
def test_unreachable_catalog(project: Any, http_server: Any, closed_port: int) -> None:
    port = closed_port
    manifest = project.root / "manifest.yaml"
    text = manifest.read_text(encoding="utf-8")
    catalog = text[text.index("catalog:") :]
    manifest.write_text(
        text.replace(catalog, f"catalog:\n  type: rest\n  uri: http://127.0.0.1:{port}\n"),
        encoding="utf-8",
    )
    _fails(project, http_server, "crm", expect=[f"127.0.0.1:{port}", "cannot reach"])


@pytest.mark.requirement("B1")
def test_missing_source_table(project: Any, http_server: Any) -> None:
    project.write(DEST.format(table="gold.nope", mapping="lifetime_value"))
    _fails(project, http_server, "crm", expect=["gold.nope", "does not exist", "customers"])


@pytest.mark.requirement("R14")
def test_field_mapping_naming_a_missing_column(project: Any, http_server: Any) -> None:
    project.write(DEST.format(table="gold.customers", mapping="lifetime_val"))
    _fails(project, http_server, "crm", expect=["'lifetime_val'", "lifetime_value"])


@pytest.mark.requirement("R7")
def test_destination_refusing_the_credentials(project: Any, http_server: Any) -> None:
    http_server.token = "a-different-token"
    _fails(project, http_server, "crm", expect=["401", "crm"])


@pytest.mark.requirement("B1")
def test_invalid_yaml_lists_problems(project: Any, http_server: Any) -> None:
    (project.root / "floe.yaml").write_text("destinations: [\n", encoding="utf-8")
    _fails(project, http_server, "crm", expect=["floe.yaml", "nothing was sent"])


@pytest.mark.requirement("B1")
def test_json_error_for_machines(project: Any, http_server: Any, h: Any) -> None:
    import json

    result = project.cli("egress", "run", "nope", "--spec", project.spec, "--json")
    assert result.exit_code == 1
    output = json.loads(result.stdout)
    assert (output["schema_version"], output["command"], output["ok"]) == (1, "egress run", False)
    error = output["error"]
    assert error["type"] == "EgressConfigError" and "nope" in error["message"]
