"""A new project's files, as ``floe init`` writes them: floe.yaml with one destination of the
chosen sink type, manifest.yaml with an embedded Iceberg catalog, and secrets/ with the
destination's Secret and a .gitignore that keeps it out of version control.

Every setting has a comment saying what it does. What a destination of a sink type looks
like (its ``config:`` settings, its Secret's keys) the sink declares itself
(``Sink.example``); a sink that declares nothing gets an empty ``config:`` to fill in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from floe_core.errors import FloeError

if TYPE_CHECKING:
    from floe_core.sinks.base import SinkExample

__all__ = ["Scaffold", "project_name"]

_FLOE_YAML = """\
# A floe data product: which Gold Iceberg tables are sent where.
#   floe validate   checks this file and manifest.yaml, without connecting
#   floe check      checks everything a run would, connecting (sends nothing)
#   floe egress run --all   sends
apiVersion: floe.dev/v1          # the format of this file
kind: FloeSpec
metadata:
  name: {name}   # the data product: lower-case letters, digits and '-'
  version: 0.1.0                 # its version (semantic versioning)
  owner: data-team@example.com   # who to ask about it
destinations:
  - name: {destination}   # `floe egress run {destination}` sends it
    sink_type: {sink_type}   # where rows go; `floe sinks` lists the installed types
    # The Kubernetes Secret with the credentials. Locally: one file per key in
    # secrets/{secret}/ ({keys}), or variables FLOE_SECRET_{env}__<KEY>.
    connection_secret_ref: {secret}
    source_table: gold.customers   # the Iceberg table to send: namespace.table
{destination_extra}\
    # field_mapping: {{lifetime_value: ltv}}   # source column -> destination field name
    batch_size: 1000               # rows per batch (request, transaction)
    config:                        # the {sink_type} sink's settings
{config}"""

_MANIFEST_YAML = """\
# The platform side: where Gold tables are read from, and where data may be sent.
apiVersion: floe.dev/v1
kind: Manifest
metadata:
  name: {name}-platform
scope: enterprise                # enterprise: only approved_sinks may be used
catalog:
  # An embedded Iceberg catalog: a SQLite file and a local warehouse folder. Relative
  # paths are relative to the project directory. For Polaris or another REST catalog:
  # type: rest, uri: https://.../api/catalog, warehouse: <catalog>, credential_secret_ref.
  type: sql
  name: {name}                   # must be the name the catalog's tables were created under
  uri: sqlite:///.floe/catalog.db
  warehouse: .floe/warehouse
approved_sinks: [{sink_type}]   # the sink types destinations may use
"""

_SECRETS_GITIGNORE = """\
# Secret values never go into version control: everything here but this file is ignored.
*
!.gitignore
"""

_PROJECT_GITIGNORE = """\
# floe's local state: the embedded catalog, run history, fingerprints.
.floe/
"""


def project_name(directory: Path) -> str:
    """A valid data-product name made from a directory's name (``My Project`` -> ``my-project``)."""
    name = re.sub(r"[^a-z0-9]+", "-", directory.resolve().name.lower()).strip("-")
    if not name or not name[0].isalpha():
        name = f"floe-{name}" if name else "floe-project"
    return name[:63].rstrip("-")


@dataclass(frozen=True)
class Scaffold:
    """The files of a new project with one destination of ``sink_type``.

    Attributes:
        directory: Where the project goes.
        sink_type: The destination's sink type.
        example: What the sink says a destination of it looks like, if it says.
        name: The data product's name (default: from the directory's name).
    """

    directory: Path
    sink_type: str
    example: SinkExample | None = None
    name: str = ""
    files: Mapping[Path, str] = field(init=False)

    def __post_init__(self) -> None:
        name = self.name or project_name(self.directory)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "files", self._files(name))

    @property
    def secret_ref(self) -> str:
        """The Secret the destination's credentials are read from."""
        return f"{self.name}-{self.sink_type.replace('_', '-')}"[:253]

    def write(self, *, force: bool = False) -> list[Path]:
        """Write the files; return their paths.

        Raises:
            FloeError: A file exists already (and not ``force``).
        """
        existing = [path for path in self.files if path.exists()]
        if existing and not force:
            raise FloeError(
                f"{', '.join(str(p) for p in existing)} exist already; nothing was written",
                hint="choose another directory, or pass --force to overwrite them",
            )
        for path, text in self.files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return list(self.files)

    def _files(self, name: str) -> dict[Path, str]:
        example = self.example
        secret = dict(example.secret) if example is not None else {}
        config = example.config if example is not None else "# see the sink's documentation\n"
        extra = example.destination if example is not None else ""
        ref = self.secret_ref
        root = self.directory
        files = {
            root / "floe.yaml": _FLOE_YAML.format(
                name=name,
                destination=f"customers_to_{self.sink_type}",
                sink_type=self.sink_type,
                secret=ref,
                keys=", ".join(secret) or "the keys the sink needs",
                env=re.sub(r"[^A-Z0-9]", "_", ref.upper()),
                destination_extra=_indent(extra, 4),
                config=_indent(config, 6) if example is not None else "      {}\n",
            ),
            root / "manifest.yaml": _MANIFEST_YAML.format(name=name, sink_type=self.sink_type),
            root / ".gitignore": _PROJECT_GITIGNORE,
            root / "secrets" / ".gitignore": _SECRETS_GITIGNORE,
        }
        for key, value in secret.items():
            files[root / "secrets" / ref / key] = value + "\n"
        return files


def _indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    return "".join(pad + line if line.strip() else line for line in text.splitlines(True))
