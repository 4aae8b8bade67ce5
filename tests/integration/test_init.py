"""``floe init`` end to end: the new project validates, checks and runs as written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.mark.requirement("B2")
def test_init_then_demo_check_and_run(tmp_path: Path, h: Any) -> None:
    created = h.run_floe("init", "acme", "--sink", "sql_database", cwd=tmp_path)
    assert created.returncode == 0, created.stderr

    validated = h.run_floe("validate", cwd=tmp_path / "acme")
    demo = h.run_floe("demo", "--project", "acme", "--rows", "50", cwd=tmp_path)
    checked = h.run_floe("check", "--project", "acme", cwd=tmp_path)
    ran = h.run_floe("egress", "run", "--all", "--project", "acme", cwd=tmp_path)

    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "now holds 50 rows" in demo.stdout
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "1 destination ready to run" in checked.stdout
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert (tmp_path / "acme" / ".floe" / "destination.db").exists()
