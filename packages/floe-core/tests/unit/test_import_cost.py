"""floe-core's contracts, schemas, registry, compiler and CLI import without heavy libraries."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("pyarrow", "dlt", "pyiceberg", "sqlalchemy", "httpx", "pytest", "dagster")


def _imported_after(statement: str) -> list[str]:
    code = (
        "import json, sys\n"
        f"{statement}\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return list(json.loads(completed.stdout.strip().splitlines()[-1]))


def test_contracts_and_schemas_import_without_pyarrow_dlt_or_pyiceberg() -> None:
    assert _imported_after("import floe_core.plugins, floe_core.schemas") == []


def test_registry_compiler_and_cli_import_without_heavy_libraries() -> None:
    statement = "import floe_core.registry, floe_core.compiler, floe_core.yamlio, floe_core.cli.app"
    assert _imported_after(statement) == []


def test_secrets_and_the_iceberg_catalog_config_import_without_heavy_libraries() -> None:
    statement = (
        "import floe_core.secrets.redact, floe_core.secrets.resolver, floe_core.iceberg.catalog, "
        "floe_core.demo"
    )
    assert _imported_after(statement) == []


def test_the_sink_sdk_and_its_conformance_suite_import_without_heavy_libraries() -> None:
    # A plugin imports floe_core.sinks at startup; the suite imports pytest only in its cases.
    statement = "import floe_core.sinks, floe_core.sinks.plugin, floe_core.sinks.testing"
    assert _imported_after(statement) == []


def test_what_an_orchestrator_embeds_imports_without_heavy_libraries() -> None:
    statement = "import floe_core.egress.session, floe_core.egress.partitions"
    assert _imported_after(statement) == []


def test_the_executors_import_without_ray_or_heavy_libraries() -> None:
    statement = (
        "import floe_core.executors.choice, floe_core.executors.planning, "
        "floe_core.executors.merge, floe_core.executors.ray, floe_core.executors.task\n"
        "assert 'ray' not in sys.modules"
    )
    assert _imported_after(statement) == []
