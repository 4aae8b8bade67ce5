"""``floe demo``: the quickstart on the embedded default, twice in a row."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from floe_core.schemas.cli_output import CliOutput

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"


@pytest.mark.requirement("B2")
def test_demo_runs_twice_without_duplicating(tmp_path: Path, h: Any) -> None:
    project = tmp_path / "quickstart"
    shutil.copytree(QUICKSTART, project, ignore=shutil.ignore_patterns(".floe"))

    first = h.run_floe("demo", "--project", str(project), "--rows", "3000")
    second = h.run_floe("demo", "--rows", "3000", cwd=project)  # like every command: ./

    assert first.returncode == 0, first.stdout + first.stderr
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Traceback" not in first.stderr + second.stderr
    assert "gold.customers: 3,000 rows" in first.stdout and "(created)" in first.stdout
    assert "already there, unchanged" in second.stdout
    assert "nothing changed in the table" not in first.stdout
    assert "nothing changed in the table since the last run" in second.stdout  # a sync
    assert "up to date" in second.stdout
    for out in (first.stdout, second.stdout):
        assert "floe egress receipt: customers_to_sqlite" in out
        assert "success" in out and "3,000" in out
        assert "now holds 3,000 rows" in out
    database = project / ".floe" / "quickstart.db"
    with sqlite3.connect(database) as conn:
        rows = conn.execute(
            "SELECT count(*), count(DISTINCT customer_id) FROM customers"
        ).fetchone()
        columns = [row[1] for row in conn.execute("PRAGMA table_info(customers)")]
    assert rows == (3000, 3000)
    assert {"ltv", "customer_segment", "email"} <= set(columns)
    history = h.run_floe("egress", "history", "--spec", str(project / "floe.yaml"), "--json")
    assert history.returncode == 0
    assert history.stdout.count('"status": "success"') == 2


@pytest.mark.requirement("B1")
def test_demo_json_is_the_envelope_with_the_table_and_the_receipts(tmp_path: Path, h: Any) -> None:
    project = tmp_path / "quickstart"
    shutil.copytree(QUICKSTART, project, ignore=shutil.ignore_patterns(".floe"))

    result = h.run_floe("demo", "--project", str(project), "--rows", "200", "--json")

    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)  # stdout is the JSON alone: no banner, no bar
    CliOutput.model_validate(data)
    assert (data["command"], data["ok"], data["error"]) == ("demo", True, None)
    assert data["gold_table"]["table"] == "gold.customers"
    assert (data["gold_table"]["rows"], data["gold_table"]["created"]) == (200, True)
    [receipt] = data["receipts"]
    assert (receipt["destination"], receipt["rows_delivered"]) == ("customers_to_sqlite", 200)
    [count] = data["destination_tables"]
    assert (count["destination"], count["table"], count["rows"]) == (
        "customers_to_sqlite",
        "customers",
        200,
    )


def test_demo_names_the_next_commands_as_the_user_runs_floe(tmp_path: Path, h: Any) -> None:
    project = tmp_path / "quickstart"
    shutil.copytree(QUICKSTART, project, ignore=shutil.ignore_patterns(".floe"))
    # As `make demo` and the README's tour run it: under `uv run`, whose PATH has the
    # environment's floe, which the user's shell may not.
    under_uv = {"UV_RUN_RECURSION_DEPTH": "1"}

    result = h.run_floe("demo", "--project", str(project), "--rows", "100", env=under_uv)
    # (make test runs the suite under uv run too: the plain run clears what it set)
    plain = h.run_floe(
        "demo", "--project", str(project), "--rows", "100", env={"UV_RUN_RECURSION_DEPTH": ""}
    )

    assert result.returncode == plain.returncode == 0, result.stdout + result.stderr
    assert f"next: uv run floe egress history --project {project}" in result.stdout
    assert f"next: floe egress history --project {project}" in plain.stdout


@pytest.mark.requirement("B2")
def test_demo_without_a_project_says_where_to_run_it(tmp_path: Path, h: Any) -> None:
    named = h.run_floe("demo", "--project", str(tmp_path / "nothing"))
    here = h.run_floe("demo", cwd=tmp_path)

    assert named.returncode == here.returncode == 1
    assert f"no project in {tmp_path / 'nothing'} (no floe.yaml there)" in named.stderr
    assert f"no project in {tmp_path} (no floe.yaml there)" in here.stderr
    assert "--project examples/quickstart" in here.stderr and "Traceback" not in here.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.requirement("B2")
def test_the_tour_points_at_the_project_from_its_parent_directory(tmp_path: Path, h: Any) -> None:
    project = tmp_path / "examples" / "quickstart"
    shutil.copytree(QUICKSTART, project, ignore=shutil.ignore_patterns(".floe"))
    where = ("--project", "examples/quickstart")

    before = h.run_floe("egress", "history", *where, cwd=tmp_path)
    valid = h.run_floe("validate", *where, cwd=tmp_path)
    demo = h.run_floe("demo", *where, "--rows", "300", cwd=tmp_path)
    run = h.run_floe("egress", "run", "--all", *where, "--json", cwd=tmp_path)
    again = h.run_floe("egress", "run", "--all", "--spec", "examples/quickstart", cwd=tmp_path)
    history = h.run_floe("egress", "history", *where, cwd=tmp_path, env={"COLUMNS": "80"})

    assert (before.returncode, before.stdout) == (0, "no runs recorded yet\n"), before.stderr
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "floe egress run --all --project examples/quickstart" in demo.stdout
    assert run.returncode == again.returncode == 0, run.stderr + again.stderr
    [receipt] = h.json_receipts(run)
    assert (receipt["destination"], receipt["rows_delivered"]) == ("customers_to_sqlite", 0)
    assert receipt["sync"]["read_path"] == "up_to_date"  # the demo delivered the 300 rows
    assert history.returncode == 0, history.stderr
    rows = [line for line in history.stdout.splitlines() if "customers_to_sqlite" in line]
    assert len(rows) == 3 and all("success" in row for row in rows)
    assert max(len(line) for line in history.stdout.splitlines()) <= 80
    assert receipt["run_id"][:8] in history.stdout
