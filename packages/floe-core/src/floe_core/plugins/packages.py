"""Where floe's own plugins come from: the package that provides each, and how to install one.

None of floe's packages is on a public index: a hint that says ``pip install
floe-ingestion-dlt`` would send the user to an error. These hints name the package, how to get
it (a wheel built from the floe repository, or its git URL) and the README section that says
it in full.
"""

from __future__ import annotations

__all__ = ["FIRST_PARTY_PACKAGES", "SINK_PACKAGE", "install_hint", "plugin_package"]

#: Plugin name (its entry point) -> the package that provides it, and its folder in the repo.
FIRST_PARTY_PACKAGES: dict[str, tuple[str, str]] = {
    "dlt": ("floe-ingestion-dlt", "plugins/floe-ingestion-dlt"),
}

#: The package that brings floe's own sink types.
SINK_PACKAGE = "floe-ingestion-dlt"

_README = "README: Installing floe into your own environment"


def plugin_package(plugin_name: str) -> str | None:
    """The package that provides floe's own plugin ``plugin_name``; None for another one."""
    known = FIRST_PARTY_PACKAGES.get(plugin_name)
    return known[0] if known else None


def install_hint(package: str = SINK_PACKAGE) -> str:
    """How to install ``package``: from a wheel built in the floe repository, or its git URL."""
    folder = next((f for p, f in FIRST_PARTY_PACKAGES.values() if p == package), package)
    wheel = package.replace("-", "_")
    return (
        f"install {package} (not on a public index): in a clone of the floe repository, "
        f"`uv build --all-packages` then `pip install dist/{wheel}-*.whl`, or "
        f"`pip install '{package} @ git+<repository url>#subdirectory={folder}'` ({_README})"
    )
