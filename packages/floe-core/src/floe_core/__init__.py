"""floe core: plugin contracts, configuration schemas, governance and the ``floe`` CLI."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("floe-core")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["__version__"]
