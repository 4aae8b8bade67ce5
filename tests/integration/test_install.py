"""floe installs into an environment of its own from the wheels ``uv build`` makes, as the
README says: the ``floe`` console script is there and works with the plugin's sinks."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO


def _run(*args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, f"{' '.join(map(str, args))}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.mark.requirement("B9")
def test_the_wheels_build_and_install_with_the_floe_command(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not on PATH: python3 -m pip install uv (make bootstrap does)")
    dist = tmp_path / "dist"

    _run(uv, "build", "--all-packages", "--wheel", "--out-dir", dist)

    wheels = sorted(p.name.split("-")[0] for p in dist.glob("*.whl"))
    assert wheels == ["floe_core", "floe_ingestion_dlt", "floe_orchestrator_dagster"]
    [core] = dist.glob("floe_core-*.whl")
    shipped = zipfile.ZipFile(core).namelist()
    assert {
        f"floe_core/schemas/json/{k}.schema.json" for k in ("floe", "manifest", "output")
    } <= set(shipped)
    [plugin] = dist.glob("floe_ingestion_dlt-*.whl")

    env = tmp_path / "env"
    _run(uv, "venv", "--quiet", "--python", "3.11", env)
    _run(uv, "pip", "install", "--quiet", "--python", env / "bin" / "python", core, plugin)
    floe = env / "bin" / "floe"

    assert _run(floe, "--version").stdout.startswith("floe ")
    assert "sql_database" in _run(floe, "sinks").stdout
    _run(floe, "init", "mine", "--sink", "sql_database", cwd=tmp_path)
    assert "are valid" in _run(floe, "validate", "mine", cwd=tmp_path).stdout
