"""Choosing the executor, and the Ray executor's message when Ray is not installed."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from floe_core.executors.choice import executor_for
from floe_core.schemas.manifest import ExecutorConfig

# Runs in a fresh interpreter in which `ray` cannot be imported, as where it is not installed.
_WITHOUT_RAY = textwrap.dedent(
    """
    import sys
    from importlib.abc import MetaPathFinder

    class NotInstalled(MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "ray" or name.startswith("ray."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NotInstalled())
    from floe_core.executors.choice import executor_for
    from floe_core.schemas.manifest import ExecutorConfig
    from floe_core.errors import FloeError

    assert executor_for(ExecutorConfig(), None) is None  # local needs no Ray
    try:
        executor_for(ExecutorConfig(), "ray")
    except FloeError as exc:
        print(exc)
    """
)


def test_local_is_the_default_and_the_override_wins() -> None:
    assert executor_for(ExecutorConfig()) is None
    assert executor_for(ExecutorConfig(type="ray"), "local") is None
    assert executor_for(ExecutorConfig(), "ray") is not None


@pytest.mark.requirement("B13")
def test_choosing_ray_without_ray_installed_says_how_to_install_it() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", _WITHOUT_RAY], capture_output=True, text=True, check=True
    )

    assert "executor type ray needs ray, which is not installed" in completed.stdout
    assert "pip install 'floe-core[ray]'" in completed.stdout
