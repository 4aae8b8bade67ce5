"""floe installs into an environment of its own from the wheels ``uv build`` makes, with the
README's commands: the ``floe`` console script is there, byte-compiled, and works with the
plugin's sinks."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO
from .test_readme import README, _blocks, _commands

#: The README's install block, as written; the test runs each of them.
INSTALL = [
    "uv build --all-packages --wheel --out-dir dist",
    "pip install --compile dist/floe_core-*.whl "
    "'dist/floe_ingestion_dlt-0.1.0-py3-none-any.whl[postgres,mysql]'",
    "floe --version",
]


def test_the_readme_install_block_is_the_one_this_test_runs() -> None:
    [block] = [
        b
        for b in _blocks(README.read_text(encoding="utf-8"))
        if b.not_run is not None and "test_install.py" in b.not_run
    ]
    assert _commands(block.text) == INSTALL


@pytest.mark.requirement("B9")
def test_a_plain_uv_build_at_the_root_says_to_build_every_package(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not on PATH: python3 -m pip install uv (make bootstrap does)")

    done = subprocess.run(
        [uv, "build", "--out-dir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert done.returncode != 0
    assert "not a package: build every package with `uv build --all-packages`" in done.stderr
    assert "flat-layout" not in done.stderr
    assert not list(tmp_path.glob("*.whl")) and not list(tmp_path.glob("*.tar.gz"))


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
    build, install, _ = INSTALL

    # As written, but for where the wheels go (the test leaves the repository as it was).
    _run("bash", "-c", build.replace("--out-dir dist", f"--out-dir {dist}"))

    wheels = sorted(p.name.split("-")[0] for p in dist.glob("*.whl"))
    assert wheels == ["floe_core", "floe_ingestion_dlt", "floe_orchestrator_dagster"]
    [core] = dist.glob("floe_core-*.whl")
    shipped = zipfile.ZipFile(core).namelist()
    assert {
        f"floe_core/schemas/json/{k}.schema.json" for k in ("floe", "manifest", "output")
    } <= set(shipped)

    env = tmp_path / "env"
    _run(uv, "venv", "--quiet", "--python", "3.11", env)
    # The environment has no pip of its own: uv's pip, with the README's arguments (its
    # --compile is uv's --compile-bytecode, as the README says), from the same directory.
    python = env / "bin" / "python"
    with_uv = install.replace(
        "pip install --compile", f"{uv} pip install --quiet --python {python} --compile-bytecode"
    )
    _run("bash", "-c", with_uv, cwd=tmp_path)
    floe = env / "bin" / "floe"
    compiled = list(env.glob("lib/python3.11/site-packages/floe_core/cli/__pycache__/app.*.pyc"))
    assert compiled, "the README's install byte-compiles floe"
    assert list(env.glob("lib/python3.11/site-packages/psycopg/__init__.py"))  # the extras

    assert _run(floe, "--version").stdout.startswith("floe ")
    assert "sql_database" in _run(floe, "sinks").stdout
    _run(floe, "init", "mine", "--sink", "sql_database", cwd=tmp_path)
    assert "are valid" in _run(floe, "validate", "mine", cwd=tmp_path).stdout
