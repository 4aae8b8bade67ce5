"""Resolve ``connection_secret_ref`` names to credentials, the way Kubernetes delivers them.

A destination names a Secret (``connection_secret_ref: crm-api``); the Secret holds keys
(``token``, ``url``, ``username`` ...). Sources are asked in this order, and the first one that
has a Secret of that name provides all of its keys:

1. **Mounted Secret directory**: ``<dir>/<secret-name>/<key>``, one file per key, exactly as a
   Kubernetes Secret volume mounts them (hidden ``..data`` entries are ignored; one trailing
   newline is stripped, so ``echo value > file`` works). ``<dir>`` is ``$FLOE_SECRETS_DIR`` if
   set, else the manifest's ``secrets.dir``, else ``<project>/secrets`` then
   ``/var/run/secrets/floe``.
2. **Environment variables**: ``FLOE_SECRET_<NAME>__<KEY>``: the Secret name upper-cased with
   ``-`` and ``.`` turned into ``_``, a double underscore, then the key (lower-cased when read).
   ``FLOE_SECRET_CRM_API__TOKEN`` is key ``token`` of Secret ``crm-api``; it is never a key of
   Secret ``crm``, whose variables are ``FLOE_SECRET_CRM__<KEY>``. A key never holds a double
   underscore (that is what keeps the name and the key apart), so a key whose variable form
   would have one is read from a mounted directory or Kubernetes only. The one clash left is
   between names that differ only by ``-`` versus ``.`` (``crm-api``, ``crm.api``): they read
   the same variables.
3. **Kubernetes API**, only when running in a cluster (``KUBERNETES_SERVICE_HOST`` is set): the
   Secret is read from the pod's own namespace with the pod's service account token. The
   ``kubernetes`` client is imported only then (``pip install 'floe-core[k8s]'``); see
   :mod:`floe_core.secrets.kubernetes`.

Values are held as :class:`pydantic.SecretStr` and are revealed only when a sink is built.
Errors name Secrets, keys and paths, never values.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pydantic import SecretStr

from floe_core.schemas.secrets import is_valid_secret_name
from floe_core.secrets.errors import (
    SecretBackendError,
    SecretError,
    SecretKeyMissingError,
    SecretNotFoundError,
)
from floe_core.secrets.redact import credential_values

if TYPE_CHECKING:
    from floe_core.secrets.kubernetes import KubernetesSecrets

__all__ = [
    "DEFAULT_CLUSTER_SECRETS_DIR",
    "EnvironmentSecrets",
    "MountedSecretDirectory",
    "ResolvedSecret",
    "SecretResolver",
    "SecretSource",
    "env_var_name",
]

#: Where a pod mounts floe's Secrets when no directory is configured.
DEFAULT_CLUSTER_SECRETS_DIR = Path("/var/run/secrets/floe")

_ENV_PREFIX = "FLOE_SECRET_"
_ENV_SEPARATOR = "__"  # between the Secret name and the key


def env_var_name(ref: str, key: str) -> str:
    """The environment variable that provides ``key`` of Secret ``ref``.

    ``env_var_name("crm-api", "base_url") == "FLOE_SECRET_CRM_API__BASE_URL"``.
    """
    return f"{_env_prefix(ref)}{_env_form(key)}"


def _env_form(text: str) -> str:
    return re.sub(r"[-.]", "_", text).upper()


def _env_prefix(ref: str) -> str:
    return f"{_ENV_PREFIX}{_env_form(ref)}{_ENV_SEPARATOR}"


@dataclass(frozen=True)
class ResolvedSecret:
    """The keys of one Secret, and where they came from.

    Attributes:
        ref: The Secret name.
        source: Human description of where it was found (a path, "environment", ...).
        values: Key -> value, hidden behind ``SecretStr``.
        source_kind: Which source provided it (``"directory"``, ``"environment"``,
            ``"kubernetes"``), used to tell the user how to add a missing key.
    """

    ref: str
    source: str
    values: Mapping[str, SecretStr] = field(repr=False)
    source_kind: str = "directory"

    @property
    def keys(self) -> list[str]:
        """The key names (never the values), sorted."""
        return sorted(self.values)

    def require(self, keys: Iterable[str], *, destination: str = "", needed_by: str = "") -> None:
        """Raise :class:`SecretKeyMissingError` naming the first key this Secret lacks.

        Args:
            keys: The keys needed.
            destination: The destination that needs them, for the message.
            needed_by: Who needs them, when not a destination (``"the catalog"``).
        """
        for key in keys:
            if key not in self.values:
                self._missing(key, destination, needed_by=needed_by)

    def require_one_of(self, groups: Sequence[Sequence[str]], *, destination: str = "") -> None:
        """Require that the Secret holds every key of at least one of ``groups``."""
        if any(all(key in self.values for key in group) for group in groups):
            return
        first_missing = next(key for key in groups[0] if key not in self.values)
        self._missing(first_missing, destination, alternatives=groups)

    def reveal(self) -> dict[str, str]:
        """Plain values, for building a sink's connection config. Never log the result."""
        return {key: value.get_secret_value() for key, value in self.values.items()}

    def secret_values(self) -> list[str]:
        """The sensitive values, for scrubbing them from any text that leaves the process.

        Values of keys that name a credential (``password``, ``token``, ``api_key``,
        ``client_secret``, ...) are sensitive, and so is the password inside any URL value
        (the URL itself is not: messages keep naming its host and database). Plain settings
        kept in the Secret (``username``, ``base_url``, ``client_id``) are not sensitive
        either: scrubbing them would make messages unreadable without protecting anything.
        See :func:`floe_core.secrets.redact.credential_values`.
        """
        return credential_values(self.reveal())

    def how_to_add(self, key: str) -> str:
        """How to add ``key`` to this Secret, where it was found."""
        return _how_to_add(self.source_kind, self.ref, key, self.source)

    def _missing(
        self,
        key: str,
        destination: str,
        alternatives: Sequence[Sequence[str]] = (),
        *,
        needed_by: str = "",
    ) -> None:
        if not needed_by and destination:
            needed_by = f"destination '{destination}'"
        where = f" (needed by {needed_by})" if needed_by else ""
        has = ", ".join(self.keys) or "no keys"
        wanted = " or ".join("+".join(group) for group in alternatives) if alternatives else key
        raise SecretKeyMissingError(
            f"Secret '{self.ref}' from {self.source} has no key '{key}'{where}; "
            f"it needs {wanted} and has: {has}",
            hint=_how_to_add(self.source_kind, self.ref, key, self.source),
        )


def _how_to_add(kind: str, ref: str, key: str, source: str) -> str:
    if kind == "environment":
        return f"export {env_var_name(ref, key)}=<value>"
    if kind == "kubernetes":
        return (
            f"add the key to the Kubernetes Secret: kubectl patch secret {ref} "
            f'--type merge -p \'{{"stringData":{{"{key}":"<value>"}}}}\''
        )
    return f"write the value to the file {Path(source) / key}"


class SecretSource(Protocol):
    """One place Secrets can come from."""

    kind: str

    def lookup(self, ref: str) -> ResolvedSecret | None:
        """The Secret ``ref``, or None when this source does not have it."""

    def looked_at(self, ref: str) -> str:
        """Where this source looked for ``ref``, for a not-found message."""


class MountedSecretDirectory:
    """Secrets as directories of files, one file per key (a Kubernetes Secret volume).

    Args:
        directories: Parent directories, tried in order; ``<dir>/<ref>/`` is the Secret.
    """

    kind = "directory"

    def __init__(self, directories: Sequence[Path]) -> None:
        self.directories = [Path(d) for d in directories]

    def lookup(self, ref: str) -> ResolvedSecret | None:
        """Read ``<dir>/<ref>/*`` from the first directory that has the Secret."""
        for parent in self.directories:
            folder = parent / ref
            if folder.is_dir():
                return ResolvedSecret(ref, str(folder), self._read(folder), self.kind)
        return None

    def looked_at(self, ref: str) -> str:
        """The directories tried for ``ref``."""
        return "mounted directory " + " and ".join(str(d / ref) for d in self.directories)

    @staticmethod
    def _read(folder: Path) -> dict[str, SecretStr]:
        values: dict[str, SecretStr] = {}
        for entry in sorted(folder.iterdir()):
            # Kubernetes keeps the real files under ..data/ and timestamped ..2024_* dirs.
            if entry.name.startswith(".") or not entry.is_file():
                continue
            try:
                text = entry.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise SecretBackendError(
                    f"cannot read secret file {entry}: {type(exc).__name__}",
                    hint="check the file's permissions and that it holds UTF-8 text",
                ) from exc
            values[entry.name] = SecretStr(_strip_newline(text))
        return values


def _strip_newline(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


class EnvironmentSecrets:
    """Secrets from ``FLOE_SECRET_<NAME>__<KEY>`` environment variables."""

    kind = "environment"

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def lookup(self, ref: str) -> ResolvedSecret | None:
        """Collect the Secret's variables; None when there is none.

        A variable with the Secret's prefix whose rest holds a double underscore belongs to
        another Secret (``FLOE_SECRET_CRM__API__TOKEN`` is Secret ``crm--api``'s, not a key
        ``api__token`` of ``crm``).
        """
        prefix = _env_prefix(ref)
        values = {
            name[len(prefix) :].lower(): SecretStr(value)
            for name, value in self.environ.items()
            if name.startswith(prefix)
            and len(name) > len(prefix)
            and _ENV_SEPARATOR not in name[len(prefix) :]
        }
        if not values:
            return None
        return ResolvedSecret(ref, f"environment ({prefix}*)", values, self.kind)

    def looked_at(self, ref: str) -> str:
        """The variable prefix tried for ``ref``."""
        return f"environment variables {_env_prefix(ref)}*"


class SecretResolver:
    """Resolve Secret names against an ordered list of sources.

    Args:
        sources: Tried in order; the first one that has the Secret wins.
    """

    def __init__(self, sources: Sequence[SecretSource]) -> None:
        self.sources = list(sources)
        self._cache: dict[str, ResolvedSecret] = {}

    @classmethod
    def for_project(
        cls,
        project_dir: Path,
        *,
        secrets_dir: Path | None = None,
        environ: Mapping[str, str] | None = None,
        kubernetes: KubernetesSecrets | None = None,
    ) -> SecretResolver:
        """The standard order for a project: mounted directory, environment, Kubernetes API.

        Args:
            project_dir: Directory holding floe.yaml; ``<project>/secrets`` is a default dir.
            secrets_dir: The manifest's ``secrets.dir`` (already absolute), if any.
            environ: Environment to read (defaults to ``os.environ``).
            kubernetes: A pre-built Kubernetes source (tests inject one).
        """
        from floe_core.secrets.kubernetes import KubernetesSecrets

        env = os.environ if environ is None else environ
        if env.get("FLOE_SECRETS_DIR"):
            directories = [Path(env["FLOE_SECRETS_DIR"]).expanduser().absolute()]
        elif secrets_dir is not None:
            directories = [secrets_dir]
        else:
            directories = [project_dir / "secrets", DEFAULT_CLUSTER_SECRETS_DIR]
        return cls(
            [
                MountedSecretDirectory(directories),
                EnvironmentSecrets(env),
                kubernetes or KubernetesSecrets(env),
            ]
        )

    def resolve(self, ref: str, *, destination: str = "") -> ResolvedSecret:
        """Find Secret ``ref``.

        Raises:
            SecretNotFoundError: No source has it; the message lists where it looked.
            SecretBackendError: A source exists but could not be read.
        """
        if not is_valid_secret_name(ref):
            raise SecretError(
                f"'{ref}' is not a valid Secret name",
                hint="use a Kubernetes Secret name: lower-case letters, digits, '-' and '.'",
            )
        if ref in self._cache:
            return self._cache[ref]
        for source in self.sources:
            found = source.lookup(ref)
            if found is not None:
                self._cache[ref] = found
                return found
        who = f" for destination '{destination}'" if destination else ""
        looked = "; ".join(source.looked_at(ref) for source in self.sources)
        raise SecretNotFoundError(
            f"Secret '{ref}'{who} was not found. Looked in: {looked}", hint=self.how_to_add(ref)
        )

    def missing_here(self, ref: str) -> str | None:
        """Where Secret ``ref`` was looked for, when no source can provide it here without a
        network call; ``None`` when one has it, or when a source that would need one (the
        Kubernetes API, in a cluster) might. For ``floe validate``, which connects nowhere.

        Raises:
            SecretBackendError: A mounted Secret file could not be read.
        """
        held = self._here(ref)
        return held if isinstance(held, str) else None

    def held_here(self, ref: str) -> ResolvedSecret | None:
        """Secret ``ref`` as a run here would get it, read without a network call; ``None``
        when no source here has it, or when one that would need a network call comes first.

        Raises:
            SecretBackendError: A mounted Secret file could not be read.
        """
        held = self._here(ref)
        return held if isinstance(held, ResolvedSecret) else None

    def _here(self, ref: str) -> ResolvedSecret | str | None:
        """The Secret from the first local source that has it, or where it was looked for when
        none has; ``None`` when only a network call (or a source floe does not know) can tell."""
        from floe_core.secrets.kubernetes import KubernetesSecrets

        if not is_valid_secret_name(ref):
            return None  # validate reports the name itself
        local: list[SecretSource] = []
        for source in self.sources:
            if isinstance(source, KubernetesSecrets):
                if source.active:  # only the API can tell
                    return None
            elif isinstance(source, MountedSecretDirectory | EnvironmentSecrets):
                found = source.lookup(ref)
                if found is not None:
                    return found
                local.append(source)
            else:  # a source floe does not know: it might have it
                return None
        return "; ".join(source.looked_at(ref) for source in local)

    def how_to_add(self, ref: str, keys: Sequence[str] = ()) -> str:
        """How to provide Secret ``ref``, in each kind of source, with ``keys`` (the keys it
        must hold, when known; else a ``<key>`` placeholder)."""
        if not keys:
            return (
                f"create {self._first_dir(ref)}/<key> files (one per key), or export "
                f"{_env_prefix(ref)}<KEY>=<value>, or in Kubernetes: "
                f"kubectl create secret generic {ref} --from-literal=<key>=<value>"
            )
        files = " and ".join(f"{self._first_dir(ref)}/{key}" for key in keys)
        exports = " ".join(f"{env_var_name(ref, key)}=<value>" for key in keys)
        literals = " ".join(f"--from-literal={key}=<value>" for key in keys)
        return (
            f"create the file{'s' if len(keys) > 1 else ''} {files} (one per key, holding its "
            f"value), or export {exports}, or in Kubernetes: "
            f"kubectl create secret generic {ref} {literals}"
        )

    def _first_dir(self, ref: str) -> str:
        for source in self.sources:
            if isinstance(source, MountedSecretDirectory) and source.directories:
                return str(source.directories[0] / ref)
        return f"<secrets dir>/{ref}"
