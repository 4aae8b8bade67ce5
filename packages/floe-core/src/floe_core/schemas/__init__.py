"""floe's configuration files as Pydantic models: ``floe.yaml``, ``manifest.yaml`` and the
governance checks between them.

Importing this package needs pydantic only (no pyarrow, dlt or pyiceberg).
"""

from floe_core.schemas.credentials import (
    CredentialFinding,
    find_inline_credentials,
    is_credential_key,
    url_has_credentials,
)
from floe_core.schemas.floe_spec import (
    DestinationConfig,
    FloeMetadata,
    FloeSpec,
    PlatformRef,
    RetryConfig,
    TransformSpec,
)
from floe_core.schemas.manifest import (
    CatalogConfig,
    ExecutorConfig,
    ManifestMetadata,
    ManifestScope,
    PlatformManifest,
    PluginsConfig,
    SecretsConfig,
    StateConfig,
)
from floe_core.schemas.plugins import SinkWhitelistError, validate_sink_whitelist
from floe_core.schemas.secrets import (
    SECRET_NAME_MAX_LENGTH,
    SECRET_NAME_PATTERN,
    SecretName,
    is_valid_secret_name,
)

__all__ = [
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
]
