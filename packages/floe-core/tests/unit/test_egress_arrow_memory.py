"""prefer_jemalloc: the egress command's Arrow allocator, and the user's choice kept."""

from __future__ import annotations

import os
import subprocess
import sys

import pyarrow as pa


def _pool_after_prefer(env: dict[str, str]) -> str:
    code = (
        "import pyarrow as pa\n"
        "from floe_core.egress.arrow_memory import prefer_jemalloc\n"
        "named = prefer_jemalloc()\n"
        "assert named == pa.default_memory_pool().backend_name, named\n"
        "print(named)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={k: v for k, v in {**os.environ, **env}.items() if v},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_jemalloc_becomes_the_pool_where_pyarrow_has_it() -> None:
    expected = "jemalloc" if "jemalloc" in pa.supported_memory_backends() else None
    named = _pool_after_prefer({"ARROW_DEFAULT_MEMORY_POOL": ""})
    assert named == (expected or pa.default_memory_pool().backend_name)


def test_a_pool_chosen_in_the_environment_is_kept() -> None:
    assert _pool_after_prefer({"ARROW_DEFAULT_MEMORY_POOL": "system"}) == "system"
