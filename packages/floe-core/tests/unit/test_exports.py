"""The public surface of each floe-core package is what we mean it to be."""

from __future__ import annotations

import importlib

import pytest

EXPECTED = {
    "floe_core": {"__version__"},
    "floe_core.plugins": {
        "EgressResult",
        "HealthState",
        "HealthStatus",
        "IngestionConfig",
        "IngestionPlugin",
        "IngestionResult",
        "PluginMetadata",
        "SinkConfig",
        "SinkConnector",
    },
    "floe_core.schemas": {
        "SECRET_NAME_MAX_LENGTH",
        "SECRET_NAME_PATTERN",
        "CatalogConfig",
        "CredentialFinding",
        "DestinationConfig",
        "ExecutorConfig",
        "FloeMetadata",
        "FloeSpec",
        "ManifestMetadata",
        "ManifestScope",
        "PlatformManifest",
        "PlatformRef",
        "PluginsConfig",
        "RetryConfig",
        "SecretName",
        "SecretsConfig",
        "SinkWhitelistError",
        "StateConfig",
        "TransformSpec",
        "find_inline_credentials",
        "is_credential_key",
        "is_valid_secret_name",
        "url_has_credentials",
        "validate_sink_whitelist",
    },
    "floe_core.compiler": {
        "CompileResult",
        "CompiledDestination",
        "EgressPlan",
        "InvalidProjectError",
        "Problem",
        "compile_project",
    },
    "floe_core.sinks": {
        "BatchAck",
        "EgressPolicyError",
        "EgressResult",
        "Endpoint",
        "ErrorCategory",
        "Operation",
        "Payload",
        "PluginError",
        "PluginMetadata",
        "RowRejection",
        "SettingProblem",
        "Sink",
        "SinkAuthenticationError",
        "SinkCapabilities",
        "SinkConfig",
        "SinkConfigurationError",
        "SinkConnectionError",
        "SinkExample",
        "SinkPlugin",
        "SinkTransientWriteError",
        "SinkWriteError",
        "settings_error",
        "write",
    },
    "floe_core.sinks.testing": {
        "CONFORMANCE_RETRY",
        "Destination",
        "FakeClock",
        "SendLog",
        "Sent",
        "SinkConformance",
        "conformance_rows",
    },
    "floe_core.cli": {"main", "version_text"},
    # Packages whose modules are imported one by one (each package imports nothing itself).
    "floe_core.demo": set(),
    "floe_core.egress": set(),
    "floe_core.executors": set(),
    "floe_core.sync": set(),
    "floe_core.iceberg": set(),
    "floe_core.secrets": set(),
    "floe_core.registry": {
        "ENTRY_POINT_GROUPS",
        "SUPPORTED_API_MAJOR",
        "PluginInfo",
        "PluginProblem",
        "PluginRegistry",
    },
}


@pytest.mark.parametrize("module_name", sorted(EXPECTED))
def test_all_is_the_intended_public_surface(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert set(module.__all__) == EXPECTED[module_name]
    assert len(module.__all__) == len(set(module.__all__))
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{module_name}.{name} is missing"


@pytest.mark.requirement("R4")
def test_the_sink_contract_is_exported_from_plugins() -> None:
    from floe_core.plugins import EgressResult, SinkConfig, SinkConnector
    from floe_core.plugins.sink import EgressResult as E
    from floe_core.plugins.sink import SinkConfig as C
    from floe_core.plugins.sink import SinkConnector as S

    assert (SinkConnector, SinkConfig, EgressResult) == (S, C, E)
