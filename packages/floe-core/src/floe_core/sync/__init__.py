"""Incremental sync: send only what changed since the last run, per primary key.

Modules: ``modes`` (which operations a sync mode sends), ``fingerprint`` (keys and row
fingerprints), ``store`` (fingerprints kept per destination), ``history`` (what Iceberg's
snapshot history says must be read), ``diff`` (a run's plan: new, changed, unchanged, gone)
and ``delivery`` (sending the plan through a sink and advancing the fingerprints).
"""

from __future__ import annotations

from floe_core.sync.modes import SYNC_MODES, ModeOperations, derive_key_setting, mode_operations

__all__ = ["SYNC_MODES", "ModeOperations", "derive_key_setting", "mode_operations"]
