"""The README as a user follows it: every command of its shell blocks runs as written, in order,
from the repository root, and every project file it quotes is the file in the repository.

A shell block is left out only when the line before it says why
(``<!-- not run by tests/integration/test_readme.py: REASON -->``); ``cd`` changes the
directory of the commands after it, as in a terminal.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass

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


@pytest.mark.requirement("B9")
def test_every_readme_command_runs_as_written() -> None:
    if shutil.which("uv") is None or shutil.which("make") is None:
        pytest.fail("the README's commands need uv and make on PATH: python3 -m pip install uv")
    scratch = REPO / "my-sync"  # what the README's `floe init` creates
    shutil.rmtree(scratch, ignore_errors=True)
    environ = {**os.environ, "COLUMNS": "80"}
    environ.pop("FLOE_STATE_URL", None)
    cwd = REPO
    ran = 0
    try:
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
                where = f"README.md:{block.line}: `{command}` in {cwd.relative_to(REPO)}"
                assert done.returncode == 0, (
                    f"{where} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
                )
                assert "Traceback" not in done.stderr, f"{where}\n{done.stderr}"
                ran += 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert ran >= 10
