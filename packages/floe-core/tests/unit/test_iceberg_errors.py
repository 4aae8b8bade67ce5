"""Catalog errors: retried by type (transient or not), mapped once, never carrying a secret."""

from __future__ import annotations

import pytest
import requests
from floe_core.errors import SourceError
from floe_core.iceberg.errors import catalog_call, catalog_errors, is_transient
from floe_core.schemas.floe_spec import RetryConfig
from pyiceberg import exceptions as ice

WHERE = "rest catalog 'polaris' (http://polaris:8181/api/catalog, warehouse 'gold')"
NO_WAIT = RetryConfig(max_attempts=3, initial_backoff_seconds=0, max_backoff_seconds=0)


class _Flaky:
    """A catalog request that fails with the given errors, then answers ``"ok"``."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (ice.ServerError("InternalServerError: boom"), True),
        (ice.ServiceUnavailableError("ServiceUnavailable"), True),
        (ice.TooManyRequestsError("slow down"), True),
        (requests.ConnectionError("Connection reset by peer"), True),
        (requests.Timeout("read timed out"), True),
        (ice.CommitStateUnknownException("502"), False),
        (requests.exceptions.SSLError("certificate verify failed"), False),
        (ice.UnauthorizedError("NotAuthorizedException"), False),
        (ice.OAuthError("invalid_client"), False),
        (ice.ForbiddenError("ForbiddenException"), False),
        (ice.NoSuchTableError("gold.nope"), False),
        (ice.BadRequestError("bad"), False),
    ],
)
def test_retry_is_decided_by_the_error_type(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


def test_transient_failures_are_retried_until_the_catalog_answers() -> None:
    call = _Flaky(ice.ServiceUnavailableError("503"), requests.ConnectionError("reset"))
    assert catalog_call(call, WHERE, retry=NO_WAIT) == "ok"
    assert call.calls == 3


def test_retries_are_bounded_and_the_error_says_how_often_it_tried() -> None:
    call = _Flaky(*[ice.ServerError("InternalServerError: down")] * 5)
    with pytest.raises(SourceError) as caught:
        catalog_call(call, WHERE, retry=NO_WAIT)
    assert call.calls == 3
    assert f"the {WHERE} answered with an error (tried 3 times)" in str(caught.value)
    assert "check its health" in caught.value.hint


def test_refused_credentials_are_not_retried_and_name_the_secret() -> None:
    call = _Flaky(ice.OAuthError("invalid_client: The client could not be authenticated"))
    with pytest.raises(SourceError) as caught:
        catalog_call(call, WHERE, config={"credential_secret_ref": "polaris-reader"})
    assert call.calls == 1
    assert "refused the credentials: invalid_client" in caught.value.message
    assert "the Secret 'polaris-reader'" in caught.value.hint


def test_errors_floe_does_not_map_pass_through_unretried() -> None:
    call = _Flaky(ice.NoSuchTableError("Table does not exist: gold.nope"))
    with pytest.raises(ice.NoSuchTableError):
        catalog_call(call, WHERE, retry=NO_WAIT)
    assert call.calls == 1


def test_an_error_echoing_a_secret_is_masked_and_not_chained() -> None:
    secret = "cs-Planted-0a1b2c3d"
    with pytest.raises(SourceError) as caught, catalog_errors(WHERE, [secret]):
        raise ice.ForbiddenError(f"ForbiddenException: no (client_secret was {secret})")
    assert secret not in str(caught.value)
    assert "***" in caught.value.message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_an_error_without_secrets_keeps_its_cause() -> None:
    with pytest.raises(SourceError) as caught, catalog_errors(WHERE):
        raise ice.ForbiddenError("ForbiddenException: principal floe may not read gold")
    assert isinstance(caught.value.__cause__, ice.ForbiddenError)
    assert "TABLE_READ_DATA" in caught.value.hint


def _lookup_failure(code: int, text: str) -> requests.ConnectionError:
    """What requests raises when urllib3 cannot resolve the host (as it chains them)."""
    import socket

    from urllib3.connection import HTTPConnection
    from urllib3.exceptions import MaxRetryError, NameResolutionError

    host = "polaris.example.invalid"
    reason = NameResolutionError(host, HTTPConnection(host, 8181), socket.gaierror(code, text))
    return requests.ConnectionError(MaxRetryError(None, "/api/catalog/v1/config", reason))  # type: ignore[arg-type]


def test_a_host_name_that_does_not_resolve_is_said_so_and_not_retried() -> None:
    import socket

    call = _Flaky(_lookup_failure(socket.EAI_NONAME, "Name or service not known"))

    with pytest.raises(SourceError) as caught:
        catalog_call(call, WHERE, retry=NO_WAIT)

    assert call.calls == 1
    assert caught.value.message == (
        f"the host name 'polaris.example.invalid' of the {WHERE} does not resolve: "
        "Name or service not known"
    )
    assert "HTTPConnectionPool" not in str(caught.value) and "tried" not in str(caught.value)
    assert caught.value.hint.startswith("check the host name in catalog.uri in manifest.yaml")


def test_a_resolver_that_says_try_again_is_retried() -> None:
    import socket

    call = _Flaky(_lookup_failure(socket.EAI_AGAIN, "Temporary failure in name resolution"))

    assert catalog_call(call, WHERE, retry=NO_WAIT) == "ok"
    assert call.calls == 2
