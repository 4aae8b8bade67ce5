"""Secret resolution: mounted directories, environment variables and the Kubernetes API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from floe_core.secrets.errors import (
    SecretError,
    SecretKeyMissingError,
    SecretNotFoundError,
)
from floe_core.secrets.resolver import (
    SecretResolver,
    env_var_name,
)
from pydantic import SecretStr

PLANTED = "s3cr3t-Planted-Value-91f2"


def _mount(root: Path, ref: str, **keys: str) -> Path:
    folder = root / ref
    folder.mkdir(parents=True)
    for key, value in keys.items():
        (folder / key).write_text(value, encoding="utf-8")
    return folder


def _resolver(project: Path, environ: dict[str, str], **kwargs: Any) -> SecretResolver:
    return SecretResolver.for_project(project, environ=environ, **kwargs)


@pytest.mark.requirement("B3")
def test_mounted_directory_one_file_per_key(tmp_path: Path) -> None:
    _mount(tmp_path / "secrets", "crm-api", token=PLANTED + "\n", base_url="https://x")

    secret = _resolver(tmp_path, {}).resolve("crm-api")

    assert secret.keys == ["base_url", "token"]
    assert secret.reveal() == {"token": PLANTED, "base_url": "https://x"}
    assert isinstance(secret.values["token"], SecretStr)
    assert secret.source_kind == "directory"
    assert PLANTED not in repr(secret)
    assert PLANTED not in str(secret.values)


@pytest.mark.requirement("B3")
def test_mounted_directory_ignores_kubernetes_internal_entries(tmp_path: Path) -> None:
    # A Secret volume: real files under ..2024_x/, ..data -> ..2024_x, key -> ..data/key.
    folder = tmp_path / "secrets" / "db"
    stamped = folder / "..2024_01_01_00_00_00.1"
    stamped.mkdir(parents=True)
    (stamped / "url").write_text("sqlite:///x.db", encoding="utf-8")
    (folder / "..data").symlink_to(stamped.name)
    (folder / "url").symlink_to("..data/url")

    secret = _resolver(tmp_path, {}).resolve("db")

    assert secret.reveal() == {"url": "sqlite:///x.db"}


@pytest.mark.requirement("B3")
def test_secrets_dir_from_environment_overrides_manifest_and_defaults(tmp_path: Path) -> None:
    _mount(tmp_path / "secrets", "db", url="from-default")
    _mount(tmp_path / "manifest-dir", "db", url="from-manifest")
    _mount(tmp_path / "env-dir", "db", url="from-env")

    by_env = _resolver(
        tmp_path,
        {"FLOE_SECRETS_DIR": str(tmp_path / "env-dir")},
        secrets_dir=tmp_path / "manifest-dir",
    )
    by_manifest = _resolver(tmp_path, {}, secrets_dir=tmp_path / "manifest-dir")
    by_default = _resolver(tmp_path, {})

    assert by_env.resolve("db").reveal() == {"url": "from-env"}
    assert by_manifest.resolve("db").reveal() == {"url": "from-manifest"}
    assert by_default.resolve("db").reveal() == {"url": "from-default"}


@pytest.mark.requirement("B3")
def test_environment_variables(tmp_path: Path) -> None:
    environ = {
        "FLOE_SECRET_CRM_API_V2__TOKEN": PLANTED,
        "FLOE_SECRET_CRM_API_V2__BASE_URL": "https://crm",
        "FLOE_SECRET_OTHER__TOKEN": "nope",
    }

    secret = _resolver(tmp_path, environ).resolve("crm-api.v2")

    assert secret.reveal() == {"token": PLANTED, "base_url": "https://crm"}
    assert secret.source_kind == "environment"
    assert env_var_name("crm-api.v2", "base_url") == "FLOE_SECRET_CRM_API_V2__BASE_URL"


@pytest.mark.requirement("B3")
def test_environment_variables_of_one_secret_never_become_keys_of_another(
    tmp_path: Path,
) -> None:
    environ = {
        "FLOE_SECRET_CRM__TOKEN": "token-of-crm",
        "FLOE_SECRET_CRM_API__TOKEN": "token-of-crm-api",
        "FLOE_SECRET_CRM_API__BASE_URL": "https://crm",
        "FLOE_SECRET_CRM__API__TOKEN": "token-of-crm--api",
    }
    resolver = _resolver(tmp_path, environ)

    assert resolver.resolve("crm").reveal() == {"token": "token-of-crm"}
    assert resolver.resolve("crm-api").reveal() == {
        "token": "token-of-crm-api",
        "base_url": "https://crm",
    }
    assert resolver.resolve("crm--api").reveal() == {"token": "token-of-crm--api"}


@pytest.mark.requirement("B3")
def test_a_variable_without_the_double_underscore_is_not_read(tmp_path: Path) -> None:
    with pytest.raises(SecretNotFoundError) as caught:
        _resolver(tmp_path, {"FLOE_SECRET_CRM_TOKEN": "x"}).resolve("crm")
    assert "FLOE_SECRET_CRM__<KEY>=<value>" in caught.value.hint


@pytest.mark.requirement("B3")
def test_mounted_directory_wins_over_environment(tmp_path: Path) -> None:
    _mount(tmp_path / "secrets", "db", url="from-file")
    secret = _resolver(tmp_path, {"FLOE_SECRET_DB__URL": "from-env"}).resolve("db")
    assert secret.reveal() == {"url": "from-file"}


@pytest.mark.requirement("B3")
def test_missing_secret_names_every_place_and_how_to_provide(tmp_path: Path) -> None:
    with pytest.raises(SecretNotFoundError) as caught:
        _resolver(tmp_path, {}).resolve("crm-api", destination="contacts")

    text = str(caught.value)
    assert "Secret 'crm-api' for destination 'contacts' was not found" in text
    assert str(tmp_path / "secrets" / "crm-api") in text
    assert "FLOE_SECRET_CRM_API__*" in text
    assert "not running in a cluster" in text
    assert "kubectl create secret generic crm-api" in caught.value.hint


@pytest.mark.requirement("B3")
def test_missing_key_names_key_and_how_to_add_it(tmp_path: Path) -> None:
    _mount(tmp_path / "secrets", "db", password=PLANTED)
    secret = _resolver(tmp_path, {}).resolve("db")

    with pytest.raises(SecretKeyMissingError) as caught:
        secret.require(["url"], destination="warehouse_copy")

    text = str(caught.value)
    assert "Secret 'db'" in text and "no key 'url'" in text and "warehouse_copy" in text
    assert "has: password" in text
    assert str(tmp_path / "secrets" / "db" / "url") in caught.value.hint
    assert PLANTED not in text


@pytest.mark.requirement("B3")
def test_missing_key_from_environment_hints_the_variable(tmp_path: Path) -> None:
    secret = _resolver(tmp_path, {"FLOE_SECRET_API__USERNAME": "u"}).resolve("api")
    with pytest.raises(SecretKeyMissingError) as caught:
        secret.require_one_of([["token"], ["username", "password"]])
    assert "token or username+password" in str(caught.value)
    assert "FLOE_SECRET_API__TOKEN" in caught.value.hint


@pytest.mark.requirement("B3")
@pytest.mark.parametrize("name", ["../etc", "crm..api", "crm.-api", "Crm", "x" * 254])
def test_invalid_secret_name_is_refused_before_touching_the_filesystem(
    tmp_path: Path, name: str
) -> None:
    # The same names floe validate refuses (floe_core.schemas.secrets).
    with pytest.raises(SecretError, match="not a valid Secret name"):
        _resolver(tmp_path, {}).resolve(name)


@pytest.mark.requirement("B3")
def test_only_sensitive_values_are_scrubbed(tmp_path: Path) -> None:
    _mount(
        tmp_path / "secrets",
        "mixed",
        url="postgresql+psycopg://app:pw-in-url-77@db:5432/app",
        username="admin",
        base_url="https://api.example.com",
        token="tok-abcdef",
        client_secret="cs-123456",
        api_key="ak-999999",
    )
    secret = _resolver(tmp_path, {}).resolve("mixed")
    assert sorted(secret.secret_values()) == [
        "ak-999999",
        "cs-123456",
        "pw-in-url-77",
        "tok-abcdef",
    ]


def test_held_here_reads_a_local_secret_without_asking_a_cluster(tmp_path: Path) -> None:
    folder = _mount(tmp_path / "secrets", "crm-api", base_url="https://x")
    resolver = _resolver(tmp_path, {"FLOE_SECRET_APP_DB__URL": "sqlite:///a.db"})

    mounted = resolver.held_here("crm-api")
    assert mounted is not None and mounted.keys == ["base_url"]
    assert mounted.how_to_add("token") == f"write the value to the file {folder / 'token'}"
    from_env = resolver.held_here("app-db")
    assert from_env is not None and from_env.how_to_add("user") == (
        "export FLOE_SECRET_APP_DB__USER=<value>"
    )
    assert resolver.held_here("nowhere") is None
    assert resolver.missing_here("crm-api") is None
    assert resolver.missing_here("nowhere") is not None
    # In a cluster, only the API could say what a Secret no local source holds has.
    in_cluster = _resolver(tmp_path, {"KUBERNETES_SERVICE_HOST": "10.0.0.1"})
    assert in_cluster.held_here("nowhere") is None
    assert in_cluster.missing_here("nowhere") is None
    assert in_cluster.held_here("crm-api") is not None
