"""The Azure driver's MD5 helpers and the mapping of checksum failures."""

from __future__ import annotations

import base64
import hashlib

from azure.core.exceptions import AzureError, HttpResponseError

from lexigram.storage.azure.config import StorageAzureConfig
from lexigram.storage.azure.errors import classify_azure
from lexigram.storage.azure.transfer import md5_header
from lexigram.storage.errors import ErrorCode
from lexigram.storage.integrity import MD5

BODY = b"the quick brown fox"
DIGEST = hashlib.md5(BODY).digest()


def test_md5_and_its_header() -> None:
    assert MD5.now(memoryview(BODY)) == DIGEST
    assert md5_header(DIGEST) == {"Content-MD5": base64.b64encode(DIGEST).decode()}


def _http_error(status: int, code: str, reason: str) -> HttpResponseError:
    err = HttpResponseError(message=reason)
    err.status_code = status
    err.reason = reason
    err.error_code = code
    return err


def test_the_service_refusing_a_body_is_data_corrupted() -> None:
    azure = _http_error(400, "Md5Mismatch", "The MD5 value specified in the request did not match")
    azurite = _http_error(400, "InvalidOperation", "Provided contentMD5 doesn't match.")
    other = _http_error(400, "InvalidOperation", "Something else")
    assert classify_azure(azure) is ErrorCode.DATA_CORRUPTED
    assert classify_azure(azurite) is ErrorCode.DATA_CORRUPTED
    assert classify_azure(other) is ErrorCode.INVALID_ARGUMENT


def test_the_sdk_finding_a_download_altered_is_data_corrupted() -> None:
    mismatch = AzureError("MD5 mismatch. Expected value is 'a', computed value is 'b'.")
    assert classify_azure(mismatch) is ErrorCode.DATA_CORRUPTED
    assert classify_azure(AzureError("something else")) is ErrorCode.UNKNOWN


def test_checksums_on_by_default() -> None:
    assert StorageAzureConfig(
        container="c", connection_string="UseDevelopmentStorage=true"
    ).checksums
