"""Config of the gcs driver: structuring, config-time checks, production findings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lexigram.storage import ConfigError, StorageConfig
from lexigram.storage.gcs import StorageGCSConfig
from lexigram.storage.gcs.config import security_check, validate

CANARY = "CANARY-PRIVATE-KEY-0d1e2f"


def _config(**drivers: object) -> StorageConfig:
    return StorageConfig.from_dict({"default_driver": "gcs", "drivers": {"gcs": drivers}})


def test_minimal_config_and_defaults() -> None:
    config = _config(bucket="photos")
    settings = config.resolved_backends()["gcs"].settings
    assert isinstance(settings, StorageGCSConfig)
    assert settings.bucket == "photos"
    assert settings.api_root == "https://storage.googleapis.com"
    assert settings.is_anonymous is False
    assert settings.chunk_size % (256 * 1024) == 0


def test_endpoint_means_anonymous_unless_told() -> None:
    emulator = StorageGCSConfig(bucket="b", endpoint_url="http://127.0.0.1:4443/")
    assert emulator.is_anonymous and emulator.api_root == "http://127.0.0.1:4443"
    private = StorageGCSConfig(bucket="b", endpoint_url="https://gcs.internal", anonymous=False)
    assert not private.is_anonymous


def test_unknown_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="region"):
        _config(bucket="b", region="eu")


def test_missing_bucket_is_refused() -> None:
    with pytest.raises(ConfigError, match="bucket"):
        _config(project_id="p")


@pytest.mark.parametrize("size", [1000, 256 * 1024 + 1, 3 * 1024 * 1024 + 7])
def test_chunk_size_must_be_a_multiple_of_256_kib(size: int) -> None:
    with pytest.raises(ConfigError, match=r"256 KiB.*chunk_size"):
        _config(bucket="b", chunk_size=size)


def test_bad_urls_are_refused() -> None:
    with pytest.raises(ConfigError, match="endpoint_url"):
        _config(bucket="b", endpoint_url="127.0.0.1:4443")
    with pytest.raises(ConfigError, match="public_url"):
        _config(bucket="b", public_url="cdn.example.com")


def test_unreadable_credentials_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(ConfigError) as caught:
        _config(bucket="b", credentials_path=str(missing))
    assert str(missing) in str(caught.value)
    assert "credentials_path" in str(caught.value)


@pytest.mark.parametrize(
    "content",
    [
        "not json at all " + CANARY,
        json.dumps({"private_key": CANARY}),  # no "type"
        json.dumps({"type": "service_account", "private_key": CANARY}),  # no client_email
        json.dumps([CANARY]),
    ],
)
def test_malformed_credentials_never_quote_the_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "sa.json"
    path.write_text(content)
    with pytest.raises(ConfigError) as caught:
        _config(bucket="b", credentials_path=str(path))
    message = str(caught.value)
    assert str(path) in message
    assert CANARY not in message
    assert CANARY not in repr(caught.value)


def test_binary_credentials_file(tmp_path: Path) -> None:
    path = tmp_path / "sa.json"
    path.write_bytes(b"\xff\xfe\x00" + CANARY.encode())
    problems = validate(StorageGCSConfig(bucket="b", credentials_path=str(path)))
    assert [f for f, _ in problems] == ["credentials_path"]
    assert CANARY not in problems[0][1]


def test_valid_service_account_file(tmp_path: Path) -> None:
    path = tmp_path / "sa.json"
    path.write_text(
        json.dumps({"type": "service_account", "client_email": "a@b", "private_key": CANARY})
    )
    config = _config(bucket="b", credentials_path=str(path))
    assert config.resolved_backends()["gcs"].settings.credentials_path == str(path)
    assert CANARY not in repr(config)


def test_security_findings() -> None:
    assert security_check(StorageGCSConfig(bucket="b")) == []
    local = security_check(StorageGCSConfig(bucket="b", endpoint_url="http://localhost:4443"))
    assert [f for f, _ in local] == ["endpoint_url", "anonymous"]
    config = _config(bucket="b", endpoint_url="http://127.0.0.1:4443")
    with pytest.raises(ValueError, match="endpoint_url"):
        config.validate_production_security("production")
    assert config.validate_production_security("development")


@pytest.mark.parametrize(
    ("given", "expected"),
    [("false", False), ("FALSE", False), ("no", False), ("off", False), ("0", False)],
)
def test_anonymous_false_as_text_is_false(given: str, expected: bool) -> None:
    settings = _config(bucket="b", endpoint_url="https://gcs.internal", anonymous=given)
    gcs = settings.drivers["gcs"]
    assert gcs.anonymous is expected and gcs.is_anonymous is False
    assert _config(bucket="b", checksums=given).drivers["gcs"].checksums is False


@pytest.mark.parametrize("given", ["", "  ", "nope", 5])
def test_anonymous_that_is_not_a_boolean_is_a_config_error(given: object) -> None:
    with pytest.raises(ConfigError) as caught:
        _config(bucket="b", anonymous=given)
    assert "@ $.storage.drivers.gcs.anonymous" in str(caught.value)


@pytest.mark.parametrize(
    ("field", "given"),
    [
        ("timeout", float("nan")),
        ("connect_timeout", "inf"),
        ("timeout", -5),
        ("chunk_size", 262144.5),
        ("max_connections", False),
        ("bucket", ["a", "b"]),
        ("project_id", 1234),
    ],
)
def test_bad_typed_values_name_their_path(field: str, given: object) -> None:
    with pytest.raises(ConfigError) as caught:
        _config(**({"bucket": "b"} | {field: given}))
    assert f"@ $.storage.drivers.gcs.{field}" in str(caught.value)
