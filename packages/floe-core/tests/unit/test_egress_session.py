"""``open_runner``: the runner as ``floe egress run`` builds it, with overrides for embedders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from floe_core.compiler import compile_project
from floe_core.demo.data import create_customers_table
from floe_core.egress.receipt import RunStatus
from floe_core.egress.session import open_runner, resolve_state_url
from floe_core.egress.state import StateStore
from floe_core.registry import PluginRegistry

QUICKSTART = Path(__file__).resolve().parents[4] / "examples" / "quickstart"


@pytest.mark.requirement("B12")
def test_a_runner_with_its_own_state_store_and_secrets_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLOE_STATE_URL", raising=False)
    project = tmp_path / "project"
    shutil.copytree(QUICKSTART, project, ignore=shutil.ignore_patterns(".floe", "secrets"))
    mounted = tmp_path / "mounted" / "quickstart-sqlite"
    mounted.mkdir(parents=True)
    (mounted / "url").write_text(f"sqlite:///{tmp_path / 'dest.db'}", encoding="utf-8")
    registry = PluginRegistry.discover()
    plan = compile_project(project / "floe.yaml", registry=registry).unwrap()
    assert plan.catalog is not None
    create_customers_table(plan.catalog, rows=25)
    state_url = f"sqlite:///{tmp_path / 'elsewhere' / 'state.db'}"
    assert resolve_state_url(plan) == f"sqlite:///{project / '.floe' / 'state.db'}"
    assert resolve_state_url(plan, state_url) == state_url

    with open_runner(
        plan, registry=registry, state_url=state_url, secrets_dir=tmp_path / "mounted"
    ) as runner:
        [receipt] = runner.run(plan.destinations)

    assert (receipt.status, receipt.rows_delivered) == (RunStatus.SUCCESS, 25)
    assert (tmp_path / "dest.db").is_file()
    assert not (project / ".floe" / "state.db").exists()
    with StateStore(state_url) as state:
        assert [r.run_id for r in state.runs("customers_to_sqlite")] == [receipt.run_id]
