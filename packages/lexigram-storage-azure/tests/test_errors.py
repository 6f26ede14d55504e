"""The error mapping and safe details, on the SDK's own exception classes (no network)."""

from __future__ import annotations

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    IncompleteReadError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from lexigram.storage.azure import StorageAzureConfig
from lexigram.storage.azure.driver import AzureBlobDriver
from lexigram.storage.azure.errors import already_exists, classify_azure, safe_detail, scrub
from lexigram.storage.errors import DriverError, ErrorCode

SECRET = "U2VjcmV0S2V5VGhhdE11c3ROb3RMZWFr"


def http_error(
    cls: type[HttpResponseError], status: int, code: str, message: str = ""
) -> HttpResponseError:
    err = cls(message=message or f"{code} happened")
    err.status_code = status
    err.error_code = code  # type: ignore[attr-defined]
    return err


@pytest.mark.parametrize(
    ("cls", "status", "code", "expected"),
    [
        (ResourceNotFoundError, 404, "BlobNotFound", ErrorCode.NOT_FOUND),
        (ResourceNotFoundError, 404, "CannotVerifyCopySource", ErrorCode.NOT_FOUND),
        (ResourceNotFoundError, 404, "ContainerNotFound", ErrorCode.BUCKET_NOT_FOUND),
        (ResourceExistsError, 409, "BlobAlreadyExists", ErrorCode.ALREADY_EXISTS),
        (ResourceModifiedError, 412, "ConditionNotMet", ErrorCode.FAILED_PRECONDITION),
        (ClientAuthenticationError, 403, "AuthenticationFailed", ErrorCode.PERMISSION_DENIED),
        (HttpResponseError, 403, "AuthorizationPermissionMismatch", ErrorCode.PERMISSION_DENIED),
        (HttpResponseError, 416, "InvalidRange", ErrorCode.INVALID_RANGE),
        (HttpResponseError, 503, "ServerBusy", ErrorCode.UNAVAILABLE),
        (HttpResponseError, 500, "InternalError", ErrorCode.UNAVAILABLE),
        (HttpResponseError, 429, "", ErrorCode.UNAVAILABLE),
        (HttpResponseError, 409, "LeaseIdMissing", ErrorCode.FAILED_PRECONDITION),
        (HttpResponseError, 400, "InvalidHeaderValue", ErrorCode.INVALID_ARGUMENT),
    ],
)
def test_http_errors(
    cls: type[HttpResponseError], status: int, code: str, expected: ErrorCode
) -> None:
    assert classify_azure(http_error(cls, status, code)) is expected


def test_create_only_conflicts_are_already_exists() -> None:
    assert classify_azure(
        http_error(ResourceModifiedError, 412, "ConditionNotMet"), create=True
    ) is (ErrorCode.ALREADY_EXISTS)
    assert (
        classify_azure(http_error(HttpResponseError, 409, "BlobAlreadyExists"))
        is ErrorCode.ALREADY_EXISTS
    )


def test_transport_errors_are_unavailable() -> None:
    assert classify_azure(ServiceRequestError("connection refused")) is ErrorCode.UNAVAILABLE
    assert classify_azure(ServiceResponseError("reset")) is ErrorCode.UNAVAILABLE
    assert classify_azure(ClientAuthenticationError("no token")) is ErrorCode.PERMISSION_DENIED
    assert classify_azure(ValueError("x")) is None


def test_a_body_cut_short_is_unavailable() -> None:
    # What the SDK raises when a download's connection closes before Content-Length
    # bytes: transient (retried by the core), never a generic error.
    cut = IncompleteReadError("Response payload is not completed")
    assert classify_azure(cut) is ErrorCode.UNAVAILABLE


def test_driver_classify_falls_back_to_the_core() -> None:
    driver = AzureBlobDriver(
        StorageAzureConfig(account_name="a", account_key=SECRET, container="c")
    )
    assert driver.classify(TimeoutError()) is ErrorCode.UNAVAILABLE
    assert driver.classify(DriverError(ErrorCode.NOT_FOUND)) is ErrorCode.NOT_FOUND
    assert (
        driver.classify(http_error(ResourceNotFoundError, 404, "BlobNotFound"))
        is ErrorCode.NOT_FOUND
    )
    assert driver.classify(KeyError("x")) is ErrorCode.UNKNOWN


def test_detail_keeps_only_the_first_line_and_no_secret() -> None:
    message = (
        "Server failed to authenticate the request.\n"
        "RequestId:1\nauthenticationerrordetail:"
        f"The MAC signature found in the HTTP request '{SECRET}' "
        "is not the same as any computed signature."
    )
    err = http_error(ClientAuthenticationError, 403, "AuthenticationFailed", message)
    detail = safe_detail(err, [SECRET])
    assert "AuthenticationFailed" in detail and "403" in detail
    assert SECRET not in detail and "MAC" not in detail


def test_scrub_removes_query_strings_and_secrets() -> None:
    text = f"GET http://127.0.0.1:1/acct/c/k?sv=1&sig={SECRET} failed with key {SECRET}"
    out = scrub(text, [SECRET])
    assert SECRET not in out
    assert "http://127.0.0.1:1/acct/c/k?<query removed>" in out


def test_missing_container_detail_names_it() -> None:
    driver = AzureBlobDriver(
        StorageAzureConfig(account_name="a", account_key=SECRET, container="photos")
    )
    exc = http_error(ResourceNotFoundError, 404, "ContainerNotFound")
    assert driver.classify(exc) is ErrorCode.BUCKET_NOT_FOUND
    assert "container 'photos' does not exist" in driver.describe(exc)
    denied = http_error(ClientAuthenticationError, 403, "AuthenticationFailed")
    assert "check account_key / sas_token" in driver.describe(denied)
    assert SECRET in driver.secrets()


def test_a_create_refused_with_409_or_412_is_already_exists() -> None:
    for status in (409, 412):
        err = already_exists(http_error(HttpResponseError, status, "ConditionNotMet"))
        assert err is not None and err.code is ErrorCode.ALREADY_EXISTS
    assert already_exists(http_error(HttpResponseError, 403, "AuthenticationFailed")) is None
    assert already_exists(ValueError("x")) is None


def test_driver_repr_and_urls_hold_no_secret() -> None:
    driver = AzureBlobDriver(
        StorageAzureConfig(
            account_name="acct", account_key=SECRET, container="c", public_url="https://cdn.test/x"
        )
    )
    assert SECRET not in repr(driver)
    assert driver.native_url("a b/c~d") == "https://acct.blob.core.windows.net/c/a%20b/c~d"
    assert driver.public_base_url == "https://cdn.test/x"
    assert driver.location == "container 'c' (account 'acct')"
