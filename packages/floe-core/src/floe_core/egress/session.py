"""A runner ready to run a compiled project: its state store and Secrets opened as
``floe egress run`` opens them, for the CLI and for anything that embeds floe (an orchestrator).

``open_runner`` is the one place that decides where the state store is (an explicit URL, else
``$FLOE_STATE_URL``, else the manifest's ``state.url``, else ``<project>/.floe/state.db``) and
where Secrets are read from (an explicit directory, else the manifest's ``secrets.dir``, then the
environment and the Kubernetes API).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from floe_core.compiler import EgressPlan
    from floe_core.egress.progress import Progress
    from floe_core.egress.runner import EgressRunner
    from floe_core.egress.state import StateStore
    from floe_core.executors.choice import ExecutorType
    from floe_core.registry import PluginRegistry
    from floe_core.secrets.resolver import SecretResolver

__all__ = ["open_runner", "project_secrets", "resolve_state_url"]


@contextmanager
def open_runner(
    plan: EgressPlan,
    *,
    registry: PluginRegistry,
    progress: Progress | None = None,
    dry_run: bool = False,
    allow_deletes: bool = False,
    full_refresh: bool = False,
    executor: ExecutorType | None = None,
    state_url: str | None = None,
    secrets_dir: Path | None = None,
) -> Iterator[EgressRunner]:
    """An ``EgressRunner`` for ``plan``, with its state store open until the block ends.

    Args:
        plan: The compiled project.
        registry: The plugins ``plan`` was compiled against.
        progress: Told how delivery advances; nothing is shown when None.
        dry_run: Plan and diff, send nothing, store nothing (see ``EgressRunner``).
        allow_deletes: Let a ``mirror`` run delete more than its ``max_delete_fraction``.
        full_refresh: Send every sync destination every row, forgetting what it was sent.
        executor: ``local`` or ``ray``, over the manifest's ``executor.type``.
        state_url: The state store, instead of ``$FLOE_STATE_URL`` or the manifest's.
        secrets_dir: A directory of mounted Secrets, instead of the manifest's ``secrets.dir``.

    Raises:
        StateStoreError: The state store cannot be opened.
    """
    from floe_core.egress.runner import EgressRunner

    with _state_store(resolve_state_url(plan, state_url), dry_run=dry_run) as state:
        yield EgressRunner(
            plan,
            registry=registry,
            secrets=project_secrets(plan, secrets_dir),
            state=state,
            progress=progress,
            dry_run=dry_run,
            allow_deletes=allow_deletes,
            full_refresh=full_refresh,
            executor=executor,
        )


@contextmanager
def _state_store(url: str, *, dry_run: bool) -> Iterator[StateStore]:
    """The state store at ``url``; for a dry run where it does not exist yet (a SQLite file
    not created), an empty one in a temporary directory, removed afterwards: a dry run
    stores nothing, not even an empty state store."""
    import tempfile

    from floe_core.egress.state import StateStore, state_store_exists

    if not dry_run or state_store_exists(url):
        with StateStore(url) as state:
            yield state
        return
    with (
        tempfile.TemporaryDirectory(prefix="floe-dry-run-") as scratch,
        StateStore(f"sqlite:///{Path(scratch) / 'state.db'}") as state,
    ):
        yield state


def resolve_state_url(plan: EgressPlan, state_url: str | None = None) -> str:
    """The state store of ``plan``: ``state_url``, else ``$FLOE_STATE_URL``, else the
    manifest's ``state.url``, else ``<project>/.floe/state.db``."""
    from floe_core.egress.state import state_url_for

    return state_url or state_url_for(plan.project_dir, plan.state_url)


def project_secrets(plan: EgressPlan, secrets_dir: Path | None = None) -> SecretResolver:
    """Where ``plan``'s Secrets are read: ``secrets_dir``, else the manifest's ``secrets.dir``,
    then ``<project>/secrets``, the environment and the Kubernetes API."""
    from floe_core.secrets.resolver import SecretResolver

    return SecretResolver.for_project(plan.project_dir, secrets_dir=secrets_dir or plan.secrets_dir)
