"""``floe egress history``, ``show`` and ``rejected`` as a person reads them, how every
project command finds its project, and the usage errors of ``floe egress run``."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from floe_core.cli.app import app
from floe_core.egress.receipt import Receipt, RunStatus
from floe_core.egress.state import StateStore, state_url_for
from typer.testing import CliRunner

runner = CliRunner()

LONG_ERROR = (
    "[rest_api/contacts_to_crm] the destination answered HTTP 503 Service Unavailable for "
    "batch 3 after 5 attempts over 62 seconds; it was still refusing when floe gave up"
)


@pytest.fixture
def project(
    write_project: Callable[..., Path],
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: Callable[..., dict[str, Any]],
) -> Path:
    """A project directory declaring ``contacts_to_crm`` and ``orders_to_warehouse``."""
    spec_data["destinations"] = [
        make_destination(),
        make_destination(name="orders_to_warehouse", source_table="gold.orders"),
    ]
    return write_project(spec_data, manifest_data).parent


def _record(project: Path, *receipts: Receipt) -> None:
    with StateStore(state_url_for(project, environ={})) as store:
        for receipt in receipts:
            store.start_run(receipt)
            store.finish_run(receipt)


def _receipt(run_id: str, destination: str, status: RunStatus, **values: Any) -> Receipt:
    started = datetime(2026, 11, 30, 9, 16, 7, tzinfo=UTC)
    return Receipt(
        run_id=run_id,
        destination=destination,
        sink_type="rest_api",
        status=status,
        started_at=started,
        finished_at=started + timedelta(seconds=4),
        source_table="gold.customers",
        **values,
    )


def _later(receipt: Receipt, *, minutes: int) -> Receipt:
    receipt.started_at += timedelta(minutes=minutes)
    receipt.finished_at = receipt.started_at + timedelta(seconds=4)
    return receipt


def _invoke(*args: str, columns: int = 80) -> Any:
    return runner.invoke(app, list(args), env={"COLUMNS": str(columns), "FLOE_STATE_URL": ""})


def _state_db(project: Path) -> Path:
    return project / ".floe" / "state.db"


def test_history_fits_80_columns_and_shows_the_first_error_of_a_failed_run(
    project: Path,
) -> None:
    _record(
        project,
        _receipt("a" * 32, "orders_to_warehouse", RunStatus.SUCCESS, rows_delivered=120_000),
        _receipt(
            "b" * 32,
            "contacts_to_crm",
            RunStatus.FAILED,
            rows_read=200,
            errors=[LONG_ERROR, "second error, not shown"],
        ),
    )

    result = _invoke("egress", "history", "--project", str(project))

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, result.stdout
    assert "…" not in result.stdout
    rows = [line for line in lines if line.startswith("2026-")]
    [failed_row] = [line for line in rows if "contacts_to_crm" in line]
    assert "failed" in failed_row and "bbbbbbbb" in failed_row
    [ok_row] = [line for line in rows if "orders_to_warehouse" in line]
    assert "success" in ok_row and "120,000" in ok_row and "2026-11-30 09:16:07" in ok_row
    assert LONG_ERROR in " ".join(line.strip() for line in lines)
    assert "second error" not in result.stdout


def test_a_long_destination_name_wraps_instead_of_being_cut(project: Path) -> None:
    name = "contacts_to_the_crm_of_the_european_subsidiary"
    _record(project, _receipt("c" * 32, name, RunStatus.PARTIAL, rows_rejected=3))

    result = _invoke("egress", "history", name, "--project", str(project))

    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert "…" not in result.stdout
    assert "partial" in result.stdout and "2026-11-30 09:16:07" in result.stdout
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("started (UTC)"))
    start, end = lines[header].index("destination"), lines[header].index("status")
    table_rows = lines[header + 1 : -1]  # the last line points at `floe egress show`
    assert "".join(line[start:end].strip() for line in table_rows) == name


def test_show_prints_one_receipt_in_full_from_its_short_id(project: Path) -> None:
    _record(
        project,
        _receipt("d" * 32, "contacts_to_crm", RunStatus.FAILED, errors=[LONG_ERROR]),
        _receipt("e" * 32, "contacts_to_crm", RunStatus.SUCCESS, rows_delivered=7),
    )

    shown = _invoke("egress", "show", "dddddddd", "--project", str(project), columns=240)
    as_json = _invoke("egress", "show", "d" * 32, "-p", str(project), "--json")

    assert shown.exit_code == 0, shown.output
    assert "d" * 32 in shown.stdout and "failed" in shown.stdout
    assert LONG_ERROR in shown.stdout
    assert as_json.exit_code == 0, as_json.output
    receipt = json.loads(as_json.stdout)["receipt"]
    assert (receipt["run_id"], receipt["status"]) == ("d" * 32, "failed")
    assert receipt["errors"] == [LONG_ERROR]


def test_show_last_prints_the_latest_run(project: Path) -> None:
    _record(
        project,
        _receipt("b" * 32, "contacts_to_crm", RunStatus.FAILED),
        _later(_receipt("a" * 32, "contacts_to_crm", RunStatus.SUCCESS), minutes=5),
    )

    result = _invoke("egress", "show", "last", "--project", str(project), "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["receipt"]["run_id"] == "a" * 32


def test_show_of_an_unknown_run_id_is_an_error(project: Path) -> None:
    _record(project, _receipt("f" * 32, "contacts_to_crm", RunStatus.SUCCESS))

    result = _invoke("egress", "show", "0123abcd", "--project", str(project))

    assert result.exit_code == 1
    assert "no run '0123abcd'" in result.stderr
    assert "floe egress history lists the run ids" in result.stderr


def test_an_unknown_destination_is_an_error_naming_the_known_ones(project: Path) -> None:
    _record(project, _receipt("1" * 32, "retired_destination", RunStatus.SUCCESS))

    history = _invoke("egress", "history", "contacts_to_cmr", "--project", str(project))
    rejected = _invoke("egress", "rejected", "contacts_to_cmr", "--project", str(project))
    retired = _invoke("egress", "history", "retired_destination", "--project", str(project))

    for result in (history, rejected):
        assert result.exit_code == 1
        assert "destination 'contacts_to_cmr' is not declared" in result.stderr
        assert (
            "destinations: contacts_to_crm, orders_to_warehouse, retired_destination"
            in result.stderr
        )
    assert retired.exit_code == 0 and "retired_destination" in retired.stdout


def test_read_only_commands_never_create_the_state_store(project: Path) -> None:
    history = _invoke("egress", "history", "--project", str(project))
    one = _invoke("egress", "history", "contacts_to_crm", "--project", str(project))
    as_json = _invoke("egress", "history", "--project", str(project), "--json")
    rejected = _invoke("egress", "rejected", "contacts_to_crm", "--project", str(project))
    show = _invoke("egress", "show", "abcdef12", "--project", str(project))
    unknown = _invoke("egress", "history", "no_such_name", "--project", str(project))

    assert not _state_db(project).exists()
    assert not (project / ".floe").exists()
    assert (history.exit_code, history.stdout) == (0, "no runs recorded yet\n")
    assert one.stdout == "no runs recorded for contacts_to_crm yet\n"
    assert json.loads(as_json.stdout)["runs"] == []
    assert rejected.exit_code == 0 and "no runs recorded yet" in rejected.stdout
    assert show.exit_code == 1 and "no runs recorded yet" in show.stderr
    assert unknown.exit_code == 1
    assert "destinations: contacts_to_crm, orders_to_warehouse" in unknown.stderr


@pytest.mark.parametrize(
    "where",
    [
        pytest.param(["--project", "{dir}"], id="--project"),
        pytest.param(["-p", "{dir}"], id="-p"),
        pytest.param(["--spec", "{dir}"], id="--spec directory"),
        pytest.param(["--spec", "{dir}/floe.yaml"], id="--spec file"),
        pytest.param([], id="current directory"),
    ],
)
def test_every_way_of_pointing_at_the_project_finds_it(
    project: Path, where: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _record(project, _receipt("2" * 32, "contacts_to_crm", RunStatus.SUCCESS, rows_delivered=9))
    monkeypatch.chdir(project)
    args = [arg.format(dir=project) for arg in where]

    history = _invoke("egress", "history", *args, "--json")

    assert history.exit_code == 0, history.output
    assert [r["run_id"] for r in json.loads(history.stdout)["runs"]] == ["2" * 32]


def test_validate_takes_the_project_as_argument_or_option(project: Path) -> None:
    positional = _invoke("validate", str(project), "--json")
    option = _invoke("validate", "--project", str(project), "--json")
    spec_dir = _invoke("validate", "--spec", str(project), "--json")

    outputs = [json.loads(r.stdout) for r in (positional, option, spec_dir)]
    assert {o["spec"] for o in outputs} == {str(project / "floe.yaml")}
    assert "is a directory" not in json.dumps(outputs)


def test_the_project_given_twice_is_a_usage_error(project: Path) -> None:
    both = _invoke("validate", str(project), "--project", str(project))

    assert both.exit_code == 2
    assert "either PROJECT or --project" in both.stderr


def test_project_and_spec_combine_when_the_spec_is_in_the_project(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _record(project, _receipt("2" * 32, "contacts_to_crm", RunStatus.SUCCESS, rows_delivered=9))
    (project / "other.yaml").write_text((project / "floe.yaml").read_text())
    monkeypatch.chdir(project.parent)
    name = project.name

    here = _invoke("egress", "history", "-p", name, "-s", f"{name}/other.yaml", "--json")
    monkeypatch.chdir(project)
    dot = _invoke("egress", "history", "-p", ".", "-s", "floe.yaml", "--json")
    checked = _invoke("validate", "-p", ".", "-s", "other.yaml", "-m", "manifest.yaml")
    elsewhere = _invoke("egress", "history", "-p", str(tmp_path), "-s", "floe.yaml")

    for result in (here, dot):
        assert result.exit_code == 0, result.output
        assert [r["run_id"] for r in json.loads(result.stdout)["runs"]] == ["2" * 32]
    assert checked.exit_code == 0, checked.output
    assert "other.yaml and manifest.yaml are valid" in checked.stdout
    assert elsewhere.exit_code == 2
    assert f"--spec floe.yaml is not in the project directory {tmp_path}" in elsewhere.stderr
    assert f"give --spec {tmp_path / 'floe.yaml'}" in elsewhere.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param([], "no destination given", id="no name"),
        pytest.param(["contacts_to_crm", "--all"], "names or --all, not both", id="both"),
    ],
)
def test_run_usage_errors_exit_2_before_reading_anything(
    project: Path, args: list[str], message: str
) -> None:
    result = _invoke("egress", "run", *args, "--project", str(project))

    assert result.exit_code == 2
    assert message in result.stderr
    assert not (project / ".floe").exists()


@pytest.mark.parametrize(
    "command",
    [
        ["validate"],
        ["check"],
        ["init"],
        ["sinks"],
        ["egress", "run"],
        ["egress", "history"],
        ["egress", "show"],
    ],
)
def test_help_shows_flags_as_flags(command: list[str]) -> None:
    result = _invoke(*command, "--help", columns=100)

    assert result.exit_code == 0
    assert "--json" in result.stdout
    assert "<bool>" not in result.stdout


def test_history_outside_a_project_says_how_to_point_at_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    result = _invoke("egress", "history")

    assert result.exit_code == 1
    assert "floe.yaml: file not found" in result.stderr
    assert "--project DIR" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [["history"], ["rejected", "crm"]])
def test_history_of_a_directory_that_does_not_exist_says_so(
    tmp_path: Path, command: list[str]
) -> None:
    missing = tmp_path / "no_such_project"

    result = _invoke("egress", *command, "--project", str(missing))

    assert result.exit_code == 1
    assert f"directory {missing} does not exist" in result.stderr
    assert "floe.yaml: file not found" not in result.stderr
    assert not missing.exists()


def test_show_and_rejected_honour_columns_when_piped(project: Path) -> None:
    _record(project, _receipt("f" * 32, "contacts_to_crm", RunStatus.PARTIAL, rows_rejected=1))
    with StateStore(state_url_for(project, environ={})) as store:
        row = {"customer_id": 7, "email": "not-an-email"}
        store.save_rejected_rows("contacts_to_crm", "f" * 32, [row], LONG_ERROR, ["customer_id"])
    where = ["--project", str(project)]

    narrow = [
        _invoke("egress", "show", "last", *where, columns=80),
        _invoke("egress", "rejected", "contacts_to_crm", *where, columns=80),
    ]
    unset = {"COLUMNS": None, "FLOE_STATE_URL": ""}
    wide = runner.invoke(app, ["egress", "show", "last", *where], env=unset)

    for result in narrow:
        assert result.exit_code == 0, result.output
        assert max(len(line) for line in result.stdout.splitlines()) <= 80, result.stdout
    assert "HTTP 503" in narrow[1].stdout and "floe gave up" in narrow[1].stdout  # wrapped
    assert "f" * 32 in "".join(narrow[0].stdout.split())
    # Piped with no COLUMNS, a receipt stays wide enough for its hashes to be on one line.
    assert wide.exit_code == 0 and "f" * 32 in wide.stdout


REFUSED = (
    "[sql_database/app] writing a batch of 50 rows on "
    "postgresql+psycopg://postgres:***@127.0.0.1:5432/test table public.customers failed: "
    'invalid input syntax for type boolean: "463.24" (hint: the database refused the rows; '
    "fix the data or the table definition)"
)


def _refuse(project: Path, reason: str, ids: range) -> None:
    with StateStore(state_url_for(project, environ={})) as store:
        rows = [{"customer_id": i, "email": f"c{i}@example.com"} for i in ids]
        store.save_rejected_rows("contacts_to_crm", "f" * 32, rows, reason, ["customer_id"])


def test_rejected_lists_each_reason_once_and_the_first_20_rows_within_80_columns(
    project: Path,
) -> None:
    _record(project, _receipt("f" * 32, "contacts_to_crm", RunStatus.PARTIAL, rows_rejected=35))
    _refuse(project, REFUSED, range(1, 31))
    _refuse(project, "HTTP 400: email is not valid", range(31, 36))
    where = ["--project", str(project)]

    listed = _invoke("egress", "rejected", "contacts_to_crm", *where)
    every = _invoke("egress", "rejected", "contacts_to_crm", *where, "--limit", "0")

    assert listed.exit_code == every.exit_code == 0, listed.output + every.output
    lines = listed.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, listed.stdout
    assert "35 rows refused" in listed.stdout
    words = listed.stdout.split()  # the reasons wrap at spaces: every word stays whole
    assert all(word in words for word in REFUSED.split())
    assert listed.stdout.count("#1  30 rows") == 1 and "#2   5 rows" in listed.stdout
    assert len(lines) < 40  # not a line per row and reason
    keys = [line for line in lines if line.startswith("[")]
    assert len(keys) == 20 and "#1" in keys[0]
    assert "20 of 35 rows listed" in listed.stdout and "--limit 0" in listed.stdout
    assert len([line for line in every.stdout.splitlines() if line.startswith("[")]) == 35
    assert "rows listed" not in every.stdout


def test_rejected_json_has_the_limited_rows_every_reason_and_the_total(project: Path) -> None:
    from floe_core.schemas.cli_output import CliOutput

    _refuse(project, REFUSED, range(1, 31))
    where = ["--project", str(project), "--json"]

    default = json.loads(_invoke("egress", "rejected", "contacts_to_crm", *where).stdout)
    every = json.loads(_invoke("egress", "rejected", "contacts_to_crm", *where, "-n", "0").stdout)

    for output in (default, every):
        CliOutput.model_validate(output)
        assert output["rejected_total"] == 30
        assert output["reasons"] == [{"reason": REFUSED, "rows": 30}]
    assert len(default["rejected"]) == 20 and len(every["rejected"]) == 30
    assert every["rejected"][0]["row"] == {"customer_id": 1, "email": "c1@example.com"}


def test_history_hangs_wrapped_lines_under_their_text_and_shows_partial_runs_errors(
    project: Path,
) -> None:
    from floe_core.sync.summary import SyncSummary

    sync = SyncSummary(mode="upsert", inserted=4000, snapshot_to=6472244402550853238)
    _record(
        project,
        _receipt("a" * 32, "contacts_to_crm", RunStatus.PARTIAL, errors=[REFUSED], sync=sync),
        _later(
            _receipt("b" * 32, "contacts_to_crm", RunStatus.FAILED, errors=[LONG_ERROR]),
            minutes=1,
        ),
    )

    result = _invoke("egress", "history", "--project", str(project))

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, result.stdout
    assert "first error of each failed or partial run:" in result.stdout
    blocks = {"aaaaaaaa": [], "bbbbbbbb": []}  # type: dict[str, list[str]]
    current = ""
    for line in lines[lines.index("incremental syncs:") + 1 :]:
        if line[:8] in blocks:
            current = line[:8]
            blocks[current].append("")
        elif line.startswith(" ") and current:
            assert line.startswith(" " * 10) and line[10] != " ", line  # under the text
            blocks[current][-1] += " "
        else:
            current = ""
            continue
        blocks[current][-1] += line[10:].strip()
    assert blocks["aaaaaaaa"][0].startswith("upsert: 4,000 inserted")
    assert blocks["aaaaaaaa"][1] == REFUSED and blocks["bbbbbbbb"] == [LONG_ERROR]


def test_history_says_how_many_runs_it_did_not_list(project: Path) -> None:
    _record(
        project,
        *[
            _later(_receipt(f"{i}" * 32, "contacts_to_crm", RunStatus.SUCCESS), minutes=i)
            for i in range(3)
        ],
    )
    where = ["--project", str(project)]

    two = _invoke("egress", "history", *where, "-n", "2")
    every = _invoke("egress", "history", *where, "--limit", "0", "--json")

    assert two.exit_code == every.exit_code == 0, two.output + every.output
    assert "2 of 3 runs listed" in two.stdout and "--limit 0" in two.stdout
    assert len(json.loads(every.stdout)["runs"]) == 3
