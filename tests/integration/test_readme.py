"""The README as a user follows it: every command of its shell blocks runs as written, in order,
from the root of a fresh copy of the repository, and every project file it quotes is the file
in the repository.

A shell block is left out only when the line before it says why
(``<!-- not run by tests/integration/test_readme.py: REASON -->``); ``cd`` changes the
directory of the commands after it, as in a terminal.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from .conftest import REPO

README = REPO / "README.md"
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_NOT_RUN = re.compile(r"<!-- not run by tests/integration/test_readme\.py: (.+) -->")


@dataclass(frozen=True)
class Block:
    language: str
    text: str
    line: int
    not_run: str | None


def _blocks(text: str) -> list[Block]:
    blocks = []
    for match in _FENCE.finditer(text):
        before = text[: match.start()].rstrip().splitlines()
        marker = _NOT_RUN.search(before[-1]) if before else None
        line = text.count("\n", 0, match.start()) + 1
        reason = marker.group(1) if marker else None
        blocks.append(Block(match.group(1), match.group(2), line, reason))
    return blocks


def _commands(block: str) -> list[str]:
    """The block's commands: continuation lines joined, comments and blank lines dropped."""
    commands: list[str] = []
    pending = ""
    for raw in block.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        command = re.sub(r"\s+#\s.*$", "", pending + line).strip()
        pending = ""
        if command:
            commands.append(command)
    return commands


def test_the_readme_blocks_are_found() -> None:
    blocks = _blocks(README.read_text(encoding="utf-8"))
    shell = [b for b in blocks if b.language == "bash"]

    assert len(shell) >= 3
    assert all(b.not_run.strip() for b in shell if b.not_run is not None)
    assert _commands("a \\\n  b  # note\n# only a comment\nc") == ["a b", "c"]


def test_the_quoted_project_files_are_the_real_ones() -> None:
    quoted = 0
    for block in _blocks(README.read_text(encoding="utf-8")):
        first = block.text.splitlines()[0] if block.text else ""
        match = re.match(r"# (examples/\S+)", first)
        if block.language != "yaml" or match is None:
            continue
        real = yaml.safe_load((REPO / match.group(1)).read_text(encoding="utf-8"))
        assert yaml.safe_load(block.text) == real, f"README.md:{block.line} {match.group(1)}"
        quoted += 1
    assert quoted >= 2


def fresh_copy(destination: Path) -> Path:
    """The repository as a clone of it would be, in ``destination``: the files git tracks and
    the new ones it would (``git ls-files --cached --others --exclude-standard``), as they are
    in the working tree, so that uncommitted changes are what is tested; nothing git ignores
    (no ``.venv``, no ``.floe/`` state, no ``dist/``)."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert listed.returncode == 0, f"the README test copies a git checkout: {listed.stderr}"
    for name in filter(None, listed.stdout.split("\0")):
        source = REPO / name
        if not source.exists():  # deleted in the working tree, not yet committed
            continue
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    return destination


def _environment() -> dict[str, str]:
    """The commands' environment: the test's own, an 80-column terminal, and uv pointed at
    the environment this test runs in, never syncing it (see the test's docstring)."""
    environ = {**os.environ, "COLUMNS": "80"}
    environ.pop("FLOE_STATE_URL", None)
    environ.pop("VIRTUAL_ENV", None)
    environ.update(
        UV_PROJECT_ENVIRONMENT=sys.prefix,  # the workspace's environment, with floe in it
        UV_NO_SYNC="1",  # `uv run` runs in it as it is
        MAKEFLAGS="BOOTSTRAP=",  # `make demo` without its `uv sync` (see the Makefile)
    )
    return environ


@pytest.mark.requirement("B9")
def test_every_readme_command_runs_as_written(tmp_path: Path) -> None:
    """Every command, as the README writes it, in a fresh copy of the repository.

    The copy (:func:`fresh_copy`) is what CI's clean clone holds, with this working tree's
    changes: no ``.floe/`` state from earlier runs, no build output, so that a command that
    only works after another one left something behind fails here as it would for a user.

    The commands run in the copy but in the environment this test runs in: ``uv run`` is
    pointed at it (``UV_PROJECT_ENVIRONMENT``) and does not sync it (``UV_NO_SYNC``), so
    ``floe`` imports the workspace's sources, the same code as the copy's, while every file
    it reads and writes is the copy's. Syncing is left out on purpose: into a new
    environment in the copy it would re-install everything (minutes), and into this one it
    would re-point its editable installs at the copy. For the same reason ``make demo`` runs
    as written but without its ``bootstrap`` prerequisite (``MAKEFLAGS=BOOTSTRAP=``, which
    the Makefile honours); the bootstrap itself (``uv sync --frozen --compile-bytecode``,
    compiling floe's sources) is exercised by CI's own run on a clean clone, ``.ci/run``,
    whose ``make test`` starts with it.
    """
    if shutil.which("uv") is None or shutil.which("make") is None or shutil.which("git") is None:
        pytest.fail(
            "the README's commands need uv, make and git on PATH: python3 -m pip install uv"
        )
    installs = _editable_installs()
    root = fresh_copy(tmp_path / "floe")
    assert not list(root.rglob(".floe")) and not (root / ".venv").exists()
    environ = _environment()
    cwd = root
    ran = 0
    for block in _blocks(README.read_text(encoding="utf-8")):
        if block.language != "bash" or block.not_run is not None:
            continue
        for command in _commands(block.text):
            if command.startswith("cd "):
                cwd = (cwd / command[3:].strip()).resolve()
                continue
            done = subprocess.run(
                ["bash", "-c", command],
                cwd=cwd,
                env=environ,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            where = f"README.md:{block.line}: `{command}` in {cwd.relative_to(root)}"
            assert done.returncode == 0, (
                f"{where} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
            )
            assert "Traceback" not in done.stderr, f"{where}\n{done.stderr}"
            ran += 1
    assert ran >= 10
    assert (root / "examples" / "quickstart" / ".floe" / "state.db").is_file()  # in the copy
    assert not (root / ".venv").exists()  # nothing was installed there
    assert _editable_installs() == installs  # and this environment still runs this tree


def _editable_installs() -> dict[str, str]:
    """Where this environment's editable installs point (``*.pth`` files)."""
    site = Path(sys.prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    return {p.name: p.read_text() for p in (site / "site-packages").glob("*.pth")}
