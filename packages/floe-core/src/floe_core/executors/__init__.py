"""Where a destination's delivery runs: in the ``floe`` process, or fanned out over Ray.

The run itself (``floe_core.egress.runner``) prepares a destination, holds its lease and
stores its receipt wherever the rows are sent from. With ``executor: {type: ray}`` it hands
the sending to :class:`floe_core.executors.ray.RayExecutor`:

- :mod:`~floe_core.executors.planning`: the snapshot's data files bin-packed into tasks, each
  with a stable identity (destination, snapshot, file set);
- :mod:`~floe_core.executors.sealed`: the destination's Secret, encrypted for the workers;
- :mod:`~floe_core.executors.coordinator`: the Ray actor holding the run's key and the
  destination's rate limit and concurrency budget for all tasks;
- :mod:`~floe_core.executors.task`: what one task does on its worker (read its files,
  deliver them through the engine under the egress policy, record confirmed batches in the
  run journal);
- :mod:`~floe_core.executors.sync_task`: an incremental sync's part in a task (the diff of
  its files against the fingerprints of their keys, confirmed as it goes);
- :mod:`~floe_core.executors.merge`: the tasks' results as one result, in task order;
- :mod:`~floe_core.executors.ray`: the driver side (start, submit, wait, merge).

Nothing here is imported until a run asks for Ray; Ray itself is imported by the modules that
need it, and missing, says how to install it (``pip install 'floe-core[ray]'``).
"""

from __future__ import annotations

__all__: list[str] = []
