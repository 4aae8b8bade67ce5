"""A Polaris-like Iceberg REST catalog server for tests, checked against the REST OpenAPI spec.

Loaded by ``tests/integration/conftest.py`` as the module ``floe_test_rest_catalog`` (test
folders are not packages); see ``server.py`` for what it serves, ``tables.py`` for the tables
behind it and ``spec.py`` for the check against the spec.
"""

from .server import DROP_CONNECTION, VENDED_TOKEN_KEY, Fault, RecordingFileIO, RestCatalogServer
from .spec import OpenApiSpec

__all__ = [
    "DROP_CONNECTION",
    "VENDED_TOKEN_KEY",
    "Fault",
    "OpenApiSpec",
    "RecordingFileIO",
    "RestCatalogServer",
]
