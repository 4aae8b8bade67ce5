"""manifest.yaml's egress_policy: the entries' syntax, what they match, and floe validate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from floe_core.cli.app import app
from floe_core.schemas import PlatformManifest
from floe_core.schemas.egress_policy import EgressPolicyConfig, HostPattern
from pydantic import ValidationError
from typer.testing import CliRunner

pytestmark = pytest.mark.requirement("R17")


def _manifest(policy: dict[str, Any], scope: str = "enterprise") -> dict[str, Any]:
    return {
        "apiVersion": "floe.dev/v1",
        "kind": "Manifest",
        "metadata": {"name": "p"},
        "scope": scope,
        "egress_policy": policy,
    }


@pytest.mark.parametrize(
    ("entry", "host", "port", "allowed"),
    [
        ("api.example.com", "api.example.com", 443, True),
        ("api.example.com", "API.Example.COM.", 443, True),  # case and a trailing dot
        ("api.example.com", "evil-api.example.com", 443, False),
        ("api.example.com", "api.example.com.evil.test", 443, False),
        ("*.example.com", "a.example.com", 443, True),
        ("*.example.com", "a.b.example.com", 443, True),
        ("*.example.com", "example.com", 443, False),
        ("*.example.com", "evilexample.com", 443, False),
        ("*.example.com", "example.com.evil.test", 443, False),
        ("api.example.com:443", "api.example.com", 443, True),
        ("api.example.com:443", "api.example.com", 8443, False),
        ("*.example.com:5432", "db.example.com", 5432, True),
        ("*.example.com:5432", "db.example.com", 3306, False),
        ("10.1.2.3", "10.1.2.3", 5432, True),
        ("10.1.2.3", "10.1.2.4", 5432, False),
        ("10.1.2.0/24", "10.1.2.200", 80, True),
        ("10.1.2.0/24", "10.1.3.1", 80, False),
        ("10.1.2.0/24", "ten.example.com", 80, False),  # a network matches addresses only
        ("[2001:db8::1]:5432", "2001:db8::1", 5432, True),
        ("[2001:db8::1]:5432", "[2001:db8::1]", 5432, True),
        ("2001:db8::1", "2001:db8::1", 1, True),
    ],
)
def test_allowed_host_entries_match(entry: str, host: str, port: int, allowed: bool) -> None:
    assert HostPattern.parse(entry).matches(host, port) is allowed


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("api.*.example.com", "a wildcard may only be the first label"),
        ("*", "would allow every host; leave allowed_hosts out"),
        ("https://api.example.com", "is a URL; allowed_hosts lists host names only"),
        ("api.example.com:0", "a port is a number from 1 to 65535"),
        ("api.example.com:https", "a port is a number from 1 to 65535"),
        ("10.0.0.1/8", "has host bits set; write 10.0.0.0/8"),
        ("under_score..example.com", "is not a valid host name"),
        ("-bad.example.com", "is not a valid host name"),
    ],
)
def test_bad_allowed_host_entries_say_what_is_wrong(entry: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PlatformManifest.model_validate(
            _manifest({"sinks": {"rest_api": {"allowed_hosts": [entry]}}})
        )
    (error,) = caught.value.errors()
    assert message in error["msg"]
    assert error["ctx"]["nested"][0]["path"] == [0]


@pytest.mark.parametrize("network", ["10.0.0.0/33", "not-a-network", "10.0.0.1/8"])
def test_bad_denied_networks_are_refused(network: str) -> None:
    nested = {"sinks": {"rest_api": {"denied_networks": [network]}}}
    for policy in ({"denied_networks": [network]}, nested):
        with pytest.raises(ValidationError, match="denied network"):
            PlatformManifest.model_validate(_manifest(policy))


def test_a_full_policy_validates() -> None:
    manifest = PlatformManifest.model_validate(
        _manifest(
            {
                "denied_networks": ["10.0.0.0/8", "fd00::/8"],
                "sinks": {
                    "rest_api": {"allowed_hosts": ["api.hubapi.com", "*.salesforce.com:443"]},
                    "sql_database": {
                        "allowed_hosts": ["db.internal:5432"],
                        "allowed_paths": ["exports"],
                        "denied_networks": ["192.168.0.0/16"],
                    },
                },
                "catalog": {"allowed_hosts": ["polaris.internal"]},
            }
        )
    )
    policy = manifest.egress_policy
    assert isinstance(policy, EgressPolicyConfig)
    assert [str(n) for n in policy.networks()] == ["10.0.0.0/8", "fd00::/8"]
    patterns = policy.sinks["rest_api"].host_patterns()
    assert patterns is not None and patterns[1].suffix == ".salesforce.com"
    assert patterns[1].port == 443


@pytest.mark.parametrize("scope", ["domain", "none"])
def test_egress_policy_needs_enterprise_scope(scope: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PlatformManifest.model_validate(_manifest({}, scope=scope))
    (error,) = caught.value.errors()
    assert "egress_policy is only valid with scope: enterprise" in error["msg"]
    assert error["ctx"]["nested"][0]["path"] == ["egress_policy"]


def test_unknown_policy_keys_are_refused() -> None:
    with pytest.raises(ValidationError, match="allowed_host"):
        PlatformManifest.model_validate(
            _manifest({"sinks": {"rest_api": {"allowed_host": ["a.example.com"]}}})
        )


def test_floe_validate_points_at_the_bad_entry_with_its_line(repo_root: Path) -> None:
    example = repo_root / "examples" / "broken" / "bad_egress_policy"
    result = CliRunner().invoke(app, ["validate", str(example), "--json"])
    assert result.exit_code == 1, result.output
    (problem,) = json.loads(result.stdout)["problems"]
    assert problem["file"].endswith("manifest.yaml")
    assert problem["path"] == "egress_policy.sinks.rest_api.allowed_hosts[2]"
    assert "a wildcard may only be the first label" in problem["message"]
    assert problem["line"] == 20
