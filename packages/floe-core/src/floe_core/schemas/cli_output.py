"""The one shape of every command's ``--json`` output, as a model; its JSON Schema ships as
``floe_core/schemas/json/output.schema.json`` (``floe schema output`` prints it).

Every output has ``schema_version``, ``command``, ``ok``, ``problems`` and ``error``; the
command's own keys follow, each documented here. ``schema_version`` changes when a key
changes meaning or goes away, not when one is added.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CliOutput", "ErrorInfo", "ProblemInfo"]

Command = Literal[
    "validate",
    "check",
    "init",
    "sinks",
    "egress run",
    "egress history",
    "egress show",
    "egress rejected",
    "demo",
]


class ProblemInfo(BaseModel):
    """One thing wrong with the project, where it is and how to fix it."""

    model_config = ConfigDict(extra="forbid")

    file: str = Field(description="The file, as the user named it.")
    path: str = Field(description="Where in the file, e.g. destinations[2].sink_type.")
    message: str = Field(description="What is wrong.")
    hint: str = Field(description="How to fix it.")
    line: int | None = Field(default=None, description="1-based line, when known.")
    column: int | None = Field(default=None, description="1-based column, when known.")


class ErrorInfo(BaseModel):
    """What stopped the command."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(description="What went wrong; never a secret value.")
    hint: str = Field(description="What to do about it.")
    type: str = Field(description="The error's class, e.g. EgressConfigError.")


class CliOutput(BaseModel):
    """What a floe command prints with ``--json``."""

    model_config = ConfigDict(extra="forbid", title="floe --json output")

    schema_version: Literal[1] = Field(description="The version of this shape.")
    command: Command = Field(description="The command that printed it.")
    ok: bool = Field(description="The command did what it was asked (exit code 0).")
    problems: list[ProblemInfo] = Field(
        description="Problems in the project, as floe validate lists them."
    )
    error: ErrorInfo | None = Field(description="What stopped the command; null when nothing did.")
    # validate, check
    warnings: list[ProblemInfo] | None = Field(
        default=None,
        description="validate: what a run on this machine would stop on although the files "
        "are right (a Secret neither the secrets directory nor the environment holds).",
    )
    spec: str | None = Field(default=None, description="validate, check: the floe.yaml read.")
    manifest: str | None = Field(
        default=None, description="validate, check: the manifest.yaml read."
    )
    destinations: list[dict[str, Any]] | None = Field(
        default=None,
        description="validate: each destination (name, sink_type, plugin, source_table, "
        "connection_secret_ref); check: each destination's checks (destination, sink_type, "
        "ok, checks: [{check, outcome: passed|warning|failed|skipped, detail, hint}]).",
    )
    # init
    directory: str | None = Field(default=None, description="init: the project's directory.")
    files: list[str] | None = Field(default=None, description="init: the files written.")
    # sinks
    plugins: list[dict[str, Any]] | None = Field(
        default=None,
        description="sinks: installed plugins (name, version, floe_api_version, ingestion, "
        "sink_types, source).",
    )
    sink_types: dict[str, list[str]] | None = Field(
        default=None, description="sinks: each sink type and the plugins providing it."
    )
    plugin_problems: list[dict[str, Any]] | None = Field(
        default=None,
        description="sinks: plugins that failed to load (plugin, source, message, hint).",
    )
    # egress
    receipts: list[dict[str, Any]] | None = Field(
        default=None, description="egress run, demo: one receipt per destination run."
    )
    receipt: dict[str, Any] | None = Field(
        default=None, description="egress show: the run's receipt."
    )
    runs: list[dict[str, Any]] | None = Field(
        default=None, description="egress history: receipts, newest first."
    )
    destination: str | None = Field(
        default=None, description="egress rejected: the destination asked about."
    )
    rejected: list[dict[str, Any]] | None = Field(
        default=None,
        description="egress rejected: the rows the destination refused, first refused first "
        "(the first --limit of them; every one with --limit 0).",
    )
    rejected_total: int | None = Field(
        default=None, description="egress rejected: how many rows it refused, listed or not."
    )
    reasons: list[dict[str, Any]] | None = Field(
        default=None,
        description="egress rejected: each reason it gave and how many of the rows have it "
        "(reason, rows), most rows first.",
    )
    # demo
    gold_table: dict[str, Any] | None = Field(
        default=None,
        description="demo: the quickstart's Iceberg table (catalog, table, rows, snapshot_id, "
        "created: whether this run wrote it).",
    )
    destination_tables: list[dict[str, Any]] | None = Field(
        default=None,
        description="demo: the rows each SQL destination table holds afterwards (destination, "
        "table, database, rows).",
    )
