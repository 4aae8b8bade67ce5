"""``floe validate`` on the quickstart and on every broken example."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from floe_core.cli.app import app
from floe_core.registry import PluginRegistry
from typer.testing import CliRunner

runner = CliRunner()


def _validate(args: list[str], registry: PluginRegistry | None = None) -> tuple[int, str]:
    result = runner.invoke(app, ["validate", *args], obj=registry)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout


def test_the_quickstart_is_valid(repo_root: Path) -> None:
    code, out = _validate([str(repo_root / "examples" / "quickstart")])
    assert code == 0, out
    assert "are valid: 1 destination" in out
    assert "customers_to_sqlite: gold.customers -> sql_database (plugin dlt" in out


@pytest.mark.parametrize("manifest", ["manifest.yaml", "manifest-polaris.yaml"])
def test_the_own_table_example_is_valid_with_either_catalog(repo_root: Path, manifest: str) -> None:
    project = repo_root / "examples" / "own_table"
    code, out = _validate([str(project), "--manifest", str(project / manifest)])
    assert code == 0, out
    assert "orders_to_app: sales.orders -> sql_database" in out


def test_json_output_for_ci(repo_root: Path) -> None:
    code, out = _validate(
        ["--spec", str(repo_root / "examples" / "quickstart" / "floe.yaml"), "--json"]
    )
    assert code == 0
    report = json.loads(out)
    assert report["ok"] is True
    assert report["problems"] == []
    assert report["destinations"] == [
        {
            "name": "customers_to_sqlite",
            "sink_type": "sql_database",
            "plugin": "dlt",
            "source_table": "gold.customers",
            "connection_secret_ref": "quickstart-sqlite",
        }
    ]


BROKEN = [
    pytest.param(
        "unapproved_sink",
        "destinations[0].sink_type",
        "sink type 'rest_api', which is not in the manifest's approved_sinks",
        marks=pytest.mark.requirement("R17"),
        id="unapproved_sink",
    ),
    pytest.param(
        "duplicate_names",
        "destinations[1].name",
        "destination name 'customers_out' is already used by destinations[0]",
        marks=pytest.mark.requirement("R11"),
        id="duplicate_names",
    ),
    pytest.param(
        "hardcoded_password",
        "destinations[0].config.password",
        "the key 'password' holds a credential",
        marks=pytest.mark.requirement("R18"),
        id="hardcoded_password",
    ),
    pytest.param(
        "bad_secret_ref",
        "destinations[0].connection_secret_ref",
        "is not a valid Kubernetes Secret name",
        marks=pytest.mark.requirement("R18"),
        id="bad_secret_ref",
    ),
    pytest.param(
        "unknown_sink_type",
        "destinations[0].sink_type",
        "no installed plugin provides sink type 'salesforce'",
        id="unknown_sink_type",
    ),
    pytest.param("invalid_yaml", "", "is not valid YAML", id="invalid_yaml"),
    pytest.param(
        "misspelt_setting",
        "destinations[0].config.tabel",
        "unknown key `tabel`",
        id="misspelt_setting",
    ),
]


@pytest.mark.parametrize(("example", "path", "message"), BROKEN)
def test_each_broken_example_fails_with_its_message(
    repo_root: Path, example: str, path: str, message: str
) -> None:
    code, out = _validate([str(repo_root / "examples" / "broken" / example)])
    assert code == 1
    assert "✗ 1 problem in" in out
    assert message in out
    assert path in out
    assert "fix: " in out


@pytest.mark.parametrize(("example", "path", "message"), BROKEN)
def test_each_broken_example_in_json(
    repo_root: Path, example: str, path: str, message: str
) -> None:
    code, out = _validate([str(repo_root / "examples" / "broken" / example), "--json"])
    assert code == 1
    report = json.loads(out)
    assert report["ok"] is False
    (problem,) = report["problems"]
    assert problem["path"] == path
    assert message in problem["message"]
    assert problem["line"] is not None
    assert problem["file"].endswith("floe.yaml")


@pytest.mark.requirement("R18")
def test_the_password_itself_is_never_printed(repo_root: Path) -> None:
    example = repo_root / "examples" / "broken" / "hardcoded_password"
    for args in ([str(example)], [str(example), "--json"]):
        _, out = _validate(args)
        assert "not-a-real-password-but-still-refused" not in out
        assert "'app-db'" in out


def test_all_problems_are_listed_at_once(repo_root: Path) -> None:
    code, out = _validate([str(repo_root / "examples" / "broken" / "many_problems")])
    assert code == 1
    assert "✗ 8 problems in" in out
    for expected in (
        "metadata.version",
        "destinations[0].sink_type",
        "destinations[0].config.headers.Authorization",
        "destinations[1].name",
        "destinations[1].connection_secret_ref",
        "destinations[2].sinktype",
        "did you mean `sink_type`?",
        "destinations[2].config.tabel",
        "did you mean `table`?",
        "destinations[3].sink_type",
        "no installed plugin provides sink type 'zendesk'",
    ):
        assert expected in out
    assert "not-a-real-token" not in out
    # Approval would not make an uninstalled type work: it is not advised.
    assert "add 'zendesk' to approved_sinks" not in out


def test_an_injected_registry_is_used(repo_root: Path, sinks_registry: PluginRegistry) -> None:
    code, out = _validate([str(repo_root / "examples" / "quickstart")], sinks_registry)
    assert code == 1
    assert "plugin 'dlt' is not installed (installed: testsinks)" in out
    assert "install floe-ingestion-dlt (not on a public index)" in " ".join(out.split())


def test_project_and_a_spec_in_it_combine(repo_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo_root)
    spec = "examples/quickstart/floe.yaml"
    result = runner.invoke(app, ["validate", "examples/quickstart", "--spec", spec])
    elsewhere = runner.invoke(app, ["validate", "examples/own_table", "--spec", spec])

    assert result.exit_code == 0, result.output
    assert "examples/quickstart/floe.yaml and examples/quickstart/manifest.yaml" in result.stdout
    assert elsewhere.exit_code == 2
    assert "is not in the project directory examples/own_table" in elsewhere.stderr
    assert "drop PROJECT to make examples/quickstart the project" in elsewhere.stderr


def test_default_is_floe_yaml_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out = _validate([])
    assert code == 1
    assert "floe.yaml" in out and "file not found" in out


def test_a_directory_that_does_not_exist_is_one_problem_saying_so(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent"
    code, out = _validate([str(missing)])
    assert code == 1
    assert f"✗ 1 problem in {missing}\n" in out
    assert f"directory {missing} does not exist" in out
    assert f"`floe init {missing}`" in " ".join(out.split())
    assert "file not found" not in out

    code, out = _validate([str(missing), "--json"])
    (problem,) = json.loads(out)["problems"]
    assert problem["file"] == str(missing)
    assert json.loads(out)["manifest"] == str(missing / "manifest.yaml")


def test_a_missing_yaml_file_is_still_a_file_not_found(tmp_path: Path) -> None:
    code, out = _validate([str(tmp_path / "staging.yaml")])
    assert code == 1
    assert f"{tmp_path / 'staging.yaml'}\n  ✗ file not found" in out


def test_the_installed_command_never_shows_a_traceback(repo_root: Path) -> None:
    for example in ("invalid_yaml", "many_problems"):
        completed = subprocess.run(
            [sys.executable, "-m", "floe_core.cli", "validate", f"examples/broken/{example}"],
            cwd=repo_root,
            capture_output=True,
            text=True,
            check=False,
        )
        assert completed.returncode == 1, completed.stderr
        assert "Traceback" not in completed.stdout + completed.stderr
        assert f"examples/broken/{example}/floe.yaml:" in completed.stdout


def test_a_misspelt_sink_setting_is_found_by_the_installed_plugin_with_file_and_line(
    repo_root: Path,
) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "floe_core.cli", "validate", "examples/broken/misspelt_setting"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 1, completed.stderr
    assert (
        "examples/broken/misspelt_setting/floe.yaml:12:14  destinations[0].config.tabel"
        in completed.stdout
    )
    assert "✗ unknown key `tabel`" in completed.stdout
    assert "fix: did you mean `table`?" in completed.stdout
    # url comes from the Secret: not offered as a key to write in config (the Secret's
    # warning names it as the key its file must be).
    assert "`url`" not in completed.stdout and "url:" not in completed.stdout


@pytest.fixture
def no_secrets_project(repo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The quickstart without its secrets/ directory, and no Secret in the environment."""
    for name in ("floe.yaml", "manifest.yaml"):
        (tmp_path / name).write_text((repo_root / "examples" / "quickstart" / name).read_text())
    for variable in ("FLOE_SECRETS_DIR", "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv("FLOE_SECRET_QUICKSTART_SQLITE__URL", raising=False)
    return tmp_path


def test_a_secret_no_local_source_holds_is_a_warning_with_its_line(
    no_secrets_project: Path,
) -> None:
    code, out = _validate([str(no_secrets_project)])

    assert code == 0, out  # the files are right: CI without Secrets still validates
    assert "1 warning" in out
    assert "floe.yaml:" in out and "destinations[0].connection_secret_ref" in out
    assert "Secret 'quickstart-sqlite' of destination 'customers_to_sqlite' is not on" in out
    assert "FLOE_SECRET_QUICKSTART_SQLITE__URL=<value>" in out  # the key the sink needs
    assert "--from-literal=url=<value>" in out and "<key>" not in out

    code, out = _validate([str(no_secrets_project), "--json"])
    (warning,) = json.loads(out)["warnings"]
    assert warning["path"] == "destinations[0].connection_secret_ref"
    assert warning["line"] is not None


def test_a_secret_in_the_environment_or_in_a_cluster_is_no_warning(
    no_secrets_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOE_SECRET_QUICKSTART_SQLITE__URL", "sqlite:///x.db")
    assert "warning" not in _validate([str(no_secrets_project)])[1]

    monkeypatch.delenv("FLOE_SECRET_QUICKSTART_SQLITE__URL")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")  # only the API could tell
    assert "warning" not in _validate([str(no_secrets_project)])[1]


def test_a_missing_secret_is_warned_of_with_the_problems(
    no_secrets_project: Path,
) -> None:
    spec = no_secrets_project / "floe.yaml"
    spec.write_text(spec.read_text().replace("mode: upsert", "mode: upsrt"))

    code, out = _validate([str(no_secrets_project)])

    assert code == 1
    assert "'upsrt' is not a valid mode" in out
    assert "! 1 warning" in out
    assert "Secret 'quickstart-sqlite' of destination 'customers_to_sqlite' is not on" in out

    code, out = _validate([str(no_secrets_project), "--json"])
    report = json.loads(out)
    assert report["ok"] is False
    (warning,) = report["warnings"]
    assert warning["path"] == "destinations[0].connection_secret_ref"


def test_every_missing_secret_of_the_many_problems_example_is_warned_of(repo_root: Path) -> None:
    code, out = _validate([str(repo_root / "examples" / "broken" / "many_problems"), "--json"])
    assert code == 1
    report = json.loads(out)
    assert len(report["problems"]) == 8
    # destinations[1]'s 'App_DB' is no Secret name: that is a problem, not a warning.
    assert [w["path"] for w in report["warnings"]] == [
        "destinations[0].connection_secret_ref",
        "destinations[2].connection_secret_ref",
        "destinations[3].connection_secret_ref",
    ]


def test_a_secret_lacking_a_key_its_sink_needs_is_a_warning_naming_the_keys(
    no_secrets_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = no_secrets_project / "secrets" / "quickstart-sqlite"
    folder.mkdir(parents=True)
    (folder / "uri").write_text("sqlite:///app.db\n")
    spec = no_secrets_project / "floe.yaml"
    spec.write_text(
        spec.read_text() + "  - name: contacts_to_crm\n"
        "    sink_type: rest_api\n"
        "    connection_secret_ref: crm-api\n"
        "    source_table: gold.customers\n"
        "    config: {path: /contacts, auth: bearer}\n"
    )
    monkeypatch.setenv("FLOE_SECRET_CRM_API__BASE_URL", "https://crm.example.com")

    code, out = _validate([str(no_secrets_project), "--json"])

    assert code == 0, out  # the files are right
    sql, rest = json.loads(out)["warnings"]
    assert sql["path"] == "destinations[0].connection_secret_ref"
    assert sql["message"] == (
        "Secret 'quickstart-sqlite' of destination 'customers_to_sqlite' has no key 'url' "
        f"(found in {folder}, keys: uri); the sql_database sink needs url, so a run here would "
        "stop before sending"
    )
    assert sql["hint"] == (
        "its key 'uri' is likely a misspelling of 'url': rename it, or write the value to the "
        f"file {folder / 'url'}"
    )
    assert rest["path"] == "destinations[1].connection_secret_ref"
    assert "Secret 'crm-api' of destination 'contacts_to_crm' has no key 'token'" in rest["message"]
    assert "keys: base_url); the rest_api sink needs token" in rest["message"]
    assert rest["hint"] == "export FLOE_SECRET_CRM_API__TOKEN=<value>"

    (folder / "uri").rename(folder / "url")
    monkeypatch.setenv("FLOE_SECRET_CRM_API__TOKEN", "not-a-real-token")
    code, out = _validate([str(no_secrets_project)])
    assert code == 0
    assert "warning" not in out


def test_an_empty_primary_key_is_one_problem_not_also_its_sinks_key_setting(
    no_secrets_project: Path,
) -> None:
    spec = no_secrets_project / "floe.yaml"
    spec.write_text(spec.read_text().replace("primary_key: [customer_id]", "primary_key: []"))

    code, out = _validate([str(no_secrets_project), "--json"])

    assert code == 1
    (problem,) = json.loads(out)["problems"]
    assert (problem["path"], problem["message"]) == (
        "destinations[0].primary_key",
        "must not be empty",
    )


def test_a_database_url_in_config_is_refused_and_a_far_key_gets_no_did_you_mean(
    no_secrets_project: Path,
) -> None:
    spec = no_secrets_project / "floe.yaml"
    spec.write_text(
        spec.read_text().replace(
            "      table: customers\n",
            '      table: customers\n      bearer: 1\n      url: "sqlite:///app.db"\n',
        )
    )

    code, out = _validate([str(no_secrets_project), "--json"])

    assert code == 1
    problems = {p["path"]: p for p in json.loads(out)["problems"]}
    assert set(problems) == {"destinations[0].config.bearer", "destinations[0].config.url"}
    assert problems["destinations[0].config.url"]["message"] == (
        "the key 'url' is read from the destination's Secret; connection settings must not be "
        "written in floe.yaml (a URL can carry a password)"
    )
    # bearer is a value of no sql_database setting, and no misspelling of one either.
    assert problems["destinations[0].config.bearer"]["hint"].startswith("remove `bearer`")


def test_a_rest_api_base_url_in_config_is_accepted_as_documented(
    no_secrets_project: Path,
) -> None:
    spec = no_secrets_project / "floe.yaml"
    spec.write_text(
        spec.read_text() + "  - name: contacts_to_crm\n"
        "    sink_type: rest_api\n"
        "    connection_secret_ref: crm-api\n"
        "    source_table: gold.customers\n"
        "    config: {base_url: 'https://crm.example.com', path: /contacts, bearer: x}\n"
    )

    code, out = _validate([str(no_secrets_project), "--json"])

    assert code == 1
    (problem,) = json.loads(out)["problems"]
    assert problem["path"] == "destinations[1].config.bearer"
    assert problem["hint"] == "'bearer' is a value of `auth`, not a key: write `auth: bearer`"


def test_problems_on_one_line_come_in_the_order_they_are_written(
    no_secrets_project: Path,
) -> None:
    spec = no_secrets_project / "floe.yaml"
    spec.write_text(
        spec.read_text()
        .replace(
            "      table: customers\n      mode: upsert\n",
            '      {table: customers, mode: upsert, url: "sqlite:///app.db", passwd: secret}\n',
        )
        .replace("    config:\n      {", "    config: {")
    )

    code, out = _validate([str(no_secrets_project), "--json"])

    assert code == 1
    paths = [p["path"] for p in json.loads(out)["problems"]]
    assert paths == ["destinations[0].config.url", "destinations[0].config.passwd"]


def test_a_catalog_secret_lacking_a_key_is_a_warning_naming_the_keys(
    repo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = repo_root / "examples" / "own_table"
    for name in ("floe.yaml", "manifest-polaris.yaml"):
        (tmp_path / name).write_text((own / name).read_text())
    for variable in ("FLOE_SECRETS_DIR", "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("FLOE_SECRET_POLARIS_FLOE_READER__CLIENT_ID", "floe-reader")
    monkeypatch.delenv("FLOE_SECRET_POLARIS_FLOE_READER__CLIENT_SECRET", raising=False)
    manifest = str(tmp_path / "manifest-polaris.yaml")

    code, out = _validate([str(tmp_path), "--manifest", manifest, "--json"])

    assert code == 0, out
    [catalog] = [w for w in json.loads(out)["warnings"] if w["path"].startswith("catalog")]
    assert catalog["path"] == "catalog.credential_secret_ref"
    assert catalog["message"].startswith(
        "Secret 'polaris-floe-reader' of the catalog has no key 'client_secret'"
    )
    assert "a rest catalog needs client_id, client_secret" in catalog["message"]
    assert catalog["hint"] == "export FLOE_SECRET_POLARIS_FLOE_READER__CLIENT_SECRET=<value>"
