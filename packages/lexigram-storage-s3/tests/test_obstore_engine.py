"""``engine: obstore`` of the s3 and r2 drivers: its config, how it is built, and how
obstore's exceptions map to error codes with safe details (no network; the engine's
requests are tested against moto in tests-integration/s3 and the reliability suite)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from typing import Any

import pytest
from obstore.exceptions import (
    AlreadyExistsError,
    GenericError,
    NotFoundError,
    NotModifiedError,
    PermissionDeniedError,
    PreconditionError,
)

from lexigram.storage import ConfigError, StorageConfig, StorageProvider
from lexigram.storage.errors import ErrorCode
from lexigram.storage.s3.driver import R2Driver, S3Driver
from lexigram.storage.s3.obstore_engine import ObstoreR2Driver, ObstoreS3Driver
from lexigram.storage.s3.obstore_errors import obstore_code, safe_detail

ACCESS = "AKIAOBSTOREENGINEKEY1"
SECRET = "obstore-engine-secret-never-shown-0123"
R2 = {
    "bucket": "b",
    "access_key": ACCESS,
    "secret_key": SECRET,
    "endpoint_url": "https://acct.r2.cloudflarestorage.com",
}


def _store(driver: str, **settings: Any) -> Any:
    base = R2 if driver == "r2" else {"bucket": "b"}
    config = StorageConfig.from_dict({"drivers": {driver: {**base, **settings}}})
    return StorageProvider(config=config).store()


def test_the_default_engine_is_the_sdk() -> None:
    assert type(_store("s3").driver) is S3Driver
    assert type(_store("r2").driver) is R2Driver


def test_engine_obstore_builds_the_obstore_driver_with_the_same_capabilities() -> None:
    s3, r2 = _store("s3", engine="obstore").driver, _store("r2", engine="obstore").driver
    assert type(s3) is ObstoreS3Driver and type(r2) is ObstoreR2Driver
    assert s3.capabilities == S3Driver.capabilities
    assert r2.capabilities == R2Driver.capabilities
    assert (s3.name, r2.name) == ("s3", "r2")


def test_an_unknown_engine_is_a_config_error_at_its_path() -> None:
    with pytest.raises(ConfigError) as caught:
        _store("s3", engine="boto3")
    assert "$.storage.drivers.s3" in str(caught.value) and "engine" in str(caught.value)


def test_a_profile_is_refused_with_engine_obstore() -> None:
    with pytest.raises(ConfigError) as caught:
        _store("s3", engine="obstore", profile="work")
    assert "$.storage.drivers.s3.profile" in str(caught.value)
    assert "engine: sdk" in str(caught.value)


@pytest.mark.parametrize("driver", ["s3", "r2"])
def test_engine_obstore_without_obstore_names_the_extra(
    driver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec

    def without_obstore(name: str, *args: Any) -> Any:
        return None if name == "obstore" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without_obstore)
    with pytest.raises(ConfigError) as caught:
        _store(driver, engine="obstore")
    message = str(caught.value)
    assert f"$.storage.drivers.{driver}.engine" in message
    assert "pip install 'lexigram-storage-s3[obstore]'" in message


def test_the_entry_point_module_does_not_import_obstore() -> None:
    code = "import sys, lexigram.storage.s3\nassert 'obstore' not in sys.modules\n"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_store_settings_follow_the_config() -> None:
    driver = _store(
        "s3",
        engine="obstore",
        access_key=ACCESS,
        secret_key=SECRET,
        endpoint_url="http://127.0.0.1:9000",
        max_attempts=4,
        read_timeout=7,
        verify_ssl=False,
        encryption={"enabled": True, "type": "aws:kms", "kms_key_id": "alias/k"},
    ).driver
    kwargs = driver.store_kwargs()
    config, client = kwargs["config"], kwargs["client_options"]
    assert config["endpoint"] == "http://127.0.0.1:9000"
    assert config["virtual_hosted_style_request"] is False  # an IP endpoint: path style
    assert config["server_side_encryption"] == "aws:kms"
    assert config["sse_kms_key_id"] == "alias/k"
    assert client["allow_http"] is True and client["allow_invalid_certificates"] is True
    assert client["read_timeout"].total_seconds() == 7
    assert kwargs["retry_config"]["max_retries"] == 3
    assert SECRET not in repr(driver) and ACCESS not in repr(driver)


SIGNATURE_ERROR = (
    "Generic S3 error: Error performing PUT http://127.0.0.1:1/b/k in 2ms - Server returned "
    'non-2xx status code: 403 Forbidden: <?xml version="1.0"?><Error><Code>'
    "SignatureDoesNotMatch</Code><Message>The request signature we calculated does not "
    f"match</Message><AWSAccessKeyId>{ACCESS}</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256 "
    f"{SECRET}</StringToSign></Error>"
)


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (
            NotFoundError(
                "Object at location k not found: ... 404 Not Found: <Code>NoSuchKey</Code>"
            ),
            ErrorCode.NOT_FOUND,
        ),
        (NotFoundError("... 404 Not Found: <Code>NoSuchBucket</Code>"), ErrorCode.BUCKET_NOT_FOUND),
        (
            GenericError("... list request ... 404 Not Found: <Code>NoSuchBucket</Code>"),
            ErrorCode.BUCKET_NOT_FOUND,
        ),
        (
            FileNotFoundError(
                "Object at location k not found: Error performing HEAD http://127.0.0.1:1/b/k"
                " - Server returned non-2xx status code: 404 Not Found: "
            ),
            ErrorCode.NOT_FOUND,
        ),
        (AlreadyExistsError("Object at location k already exists"), ErrorCode.ALREADY_EXISTS),
        (
            PreconditionError("Request precondition failure for path k"),
            ErrorCode.FAILED_PRECONDITION,
        ),
        (NotModifiedError("Object at location k not modified"), ErrorCode.NOT_MODIFIED),
        (PermissionDeniedError("denied"), ErrorCode.PERMISSION_DENIED),
        (GenericError(SIGNATURE_ERROR), ErrorCode.PERMISSION_DENIED),
        (
            GenericError("... status code: 416 Range Not Satisfiable: <Code>InvalidRange</Code>"),
            ErrorCode.INVALID_RANGE,
        ),
        (
            GenericError("... status code: 503 Service Unavailable: <Code>SlowDown</Code>"),
            ErrorCode.UNAVAILABLE,
        ),
        (
            GenericError("... status code: 400 Bad Request: <Code>BadDigest</Code>"),
            ErrorCode.DATA_CORRUPTED,
        ),
        (
            GenericError("... status code: 400 Bad Request: <Code>InvalidArgument</Code>"),
            ErrorCode.INVALID_ARGUMENT,
        ),
        (
            GenericError("Error performing GET http://127.0.0.1:1/b/k - error sending request"),
            ErrorCode.UNAVAILABLE,
        ),
        (GenericError("something else entirely"), ErrorCode.UNKNOWN),
    ],
)
def test_obstore_exceptions_map_to_error_codes(exc: BaseException, code: ErrorCode) -> None:
    assert obstore_code(exc) is code
    assert _store("s3", engine="obstore").driver.classify(exc) is code


def test_other_exceptions_are_not_obstore_ones() -> None:
    assert obstore_code(ValueError("x")) is None


def test_details_keep_the_code_and_message_never_the_signing_material() -> None:
    detail = safe_detail(GenericError(SIGNATURE_ERROR), [ACCESS, SECRET])
    assert detail.startswith("GenericError SignatureDoesNotMatch (HTTP 403) from PUT")
    assert "The request signature we calculated does not match" in detail
    assert ACCESS not in detail and SECRET not in detail
    assert "StringToSign" not in detail


def test_secrets_in_a_message_without_an_answer_are_scrubbed() -> None:
    detail = safe_detail(GenericError(f"error sending request for {SECRET}"), [SECRET])
    assert SECRET not in detail and "***" in detail


def test_the_core_does_not_retry_what_object_store_retried() -> None:
    driver = _store("s3", engine="obstore").driver
    failed = GenericError("Error performing GET http://127.0.0.1:1/b/k - error sending request")
    assert driver.classify(failed) is ErrorCode.UNAVAILABLE
    assert not driver.is_retryable(failed, ErrorCode.UNAVAILABLE)
    # the SDK engine's exceptions (the operations it does) keep its own retry rule
    assert driver.is_retryable(ConnectionResetError(), ErrorCode.UNAVAILABLE)


def test_the_detail_names_a_missing_bucket_and_keeps_no_secret() -> None:
    driver = _store("s3", engine="obstore", access_key=ACCESS, secret_key=SECRET).driver
    missing = GenericError("... list request ... 404 Not Found: <Code>NoSuchBucket</Code>")
    assert driver.describe(missing) == "bucket 'b' does not exist (s3)"
    assert SECRET not in driver.describe(GenericError(SIGNATURE_ERROR))
    assert {ACCESS, SECRET} <= set(driver.secrets())
