"""Config structuring and validation of the s3 and r2 drivers (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lexigram.storage import ConfigError, InsecureConfigError, StorageConfig
from lexigram.storage.registry import get_driver
from lexigram.storage.s3 import EncryptionConfig, StorageR2Config, StorageS3Config

CANARY = "canary-SECRET-value-9d8e7f"


def test_entry_points_name_both_drivers() -> None:
    assert get_driver("s3").config_class is StorageS3Config
    assert get_driver("r2").config_class is StorageR2Config
    assert get_driver("s3").distribution == "lexigram-storage-s3"


def test_s3_defaults_and_nested_encryption() -> None:
    config = StorageConfig.from_dict(
        {
            "default_driver": "s3",
            "drivers": {
                "s3": {
                    "bucket": "photos",
                    "encryption": {"enabled": True, "type": "aws:kms", "kms_key_id": "alias/k"},
                }
            },
        }
    )
    s3 = config.drivers["s3"]
    assert isinstance(s3, StorageS3Config)
    assert s3.region == "us-east-1"
    assert s3.encryption == EncryptionConfig(enabled=True, type="aws:kms", kms_key_id="alias/k")
    assert s3.access_key is None  # the default AWS chain
    assert s3.part_size == 8 * 1024 * 1024


def test_secrets_are_redacted_in_repr() -> None:
    config = StorageS3Config(
        bucket="b", access_key="AKIA" + CANARY, secret_key=CANARY, session_token=CANARY + "t"
    )
    text = repr(config)
    assert CANARY not in text
    assert "'***'" in text


@pytest.mark.parametrize(
    ("settings", "path"),
    [
        ({"bucket": "b", "encryption": {"type": "DES"}}, "$.storage.drivers.s3.encryption.type"),
        ({"bucket": "b", "part_size": 1024}, "$.storage.drivers.s3"),
        ({"bucket": "b", "surprise": 1}, "$.storage.drivers.s3"),
        ({}, "$.storage.drivers.s3.bucket"),
        ({"bucket": "b", "access_key": "AKIAONLY"}, "$.storage.drivers.s3.secret_key"),
        ({"bucket": "b", "endpoint_url": "localhost:9000"}, "$.storage.drivers.s3.endpoint_url"),
        (
            {"bucket": "b", "encryption": {"enabled": True, "kms_key_id": "k"}},
            "$.storage.drivers.s3.encryption.kms_key_id",
        ),
        ({"bucket": "b", "multipart_threshold": 1024}, "$.storage.drivers.s3.multipart_threshold"),
    ],
)
def test_bad_s3_settings_name_the_path(settings: dict[str, object], path: str) -> None:
    with pytest.raises(ConfigError) as caught:
        StorageConfig.from_dict({"default_driver": "s3", "drivers": {"s3": settings}})
    assert path in str(caught.value)


@pytest.mark.parametrize("missing", ["access_key", "secret_key", "endpoint_url"])
def test_r2_requires_keys_and_endpoint(missing: str) -> None:
    settings = {
        "bucket": "b",
        "access_key": "a" * 32,
        "secret_key": CANARY,
        "endpoint_url": "https://acct.r2.cloudflarestorage.com",
    }
    del settings[missing]
    with pytest.raises(ConfigError) as caught:
        StorageConfig.from_dict({"default_driver": "r2", "drivers": {"r2": settings}})
    assert f"$.storage.drivers.r2.{missing}" in str(caught.value)
    assert CANARY not in str(caught.value)


def test_r2_has_no_region_or_encryption_settings() -> None:
    with pytest.raises(ConfigError):
        StorageConfig.from_dict(
            {"default_driver": "r2", "drivers": {"r2": {"bucket": "b", "region": "eu"}}}
        )


def test_production_check_flags_aws_example_keys() -> None:
    config = StorageConfig.from_dict(
        {
            "default_driver": "s3",
            "drivers": {
                "s3": {
                    "bucket": "b",
                    "access_key": "AKIAIOSFODNN7EXAMPLE",
                    "secret_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                }
            },
        }
    )
    findings = config.validate_production_security(environment="development")
    assert any("access_key" in f for f in findings)
    assert any("secret_key" in f for f in findings)
    assert not any("wJalrXUtnFEMI" in f for f in findings)


def test_entry_point_module_does_not_import_the_sdk() -> None:
    import subprocess
    import sys

    code = (
        "import sys, lexigram.storage.s3\n"
        "assert 'aiobotocore' not in sys.modules and 'botocore' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _s3(**settings: object) -> StorageS3Config:
    config = StorageConfig.from_dict(
        {"default_driver": "s3", "drivers": {"s3": {"bucket": "b", **settings}}}
    )
    result: StorageS3Config = config.drivers["s3"]
    return result


@pytest.mark.parametrize(
    ("given", "expected"),
    [("false", False), ("False", False), ("no", False), ("off", False), ("0", False)],
)
def test_verify_ssl_reads_false_as_false(given: str, expected: bool) -> None:
    assert _s3(verify_ssl=given).verify_ssl is expected
    assert _s3(verify_ssl=given.upper(), encryption={"enabled": given}).encryption.enabled is False


@pytest.mark.parametrize("given", ["", " ", "maybe", "2", 2, [True]])
def test_verify_ssl_that_is_not_a_boolean_is_a_config_error(given: object) -> None:
    with pytest.raises(ConfigError) as caught:
        _s3(verify_ssl=given)
    assert "@ $.storage.drivers.s3.verify_ssl" in str(caught.value)


def test_an_unset_variable_does_not_turn_verification_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LXS_VERIFY", raising=False)
    path = tmp_path / "app.yaml"
    path.write_text(
        "storage:\n  drivers:\n    s3:\n      bucket: b\n      verify_ssl: ${LXS_VERIFY:-}\n"
    )
    with pytest.raises(ConfigError, match=r"@ \$\.storage\.drivers\.s3\.verify_ssl"):
        StorageConfig.from_yaml(path)
    monkeypatch.setenv("LXS_VERIFY", "false")
    assert StorageConfig.from_yaml(path).drivers["s3"].verify_ssl is False


@pytest.mark.parametrize(
    ("field", "given"),
    [
        ("connect_timeout", float("nan")),
        ("read_timeout", float("inf")),
        ("read_timeout", "nan"),
        ("connect_timeout", -1),
        ("max_concurrency", 2.5),
        ("max_concurrency", -4),
        ("max_attempts", True),
        ("region", ["eu-west-1"]),
        ("profile", 123),
    ],
)
def test_bad_typed_values_name_their_path(field: str, given: object) -> None:
    with pytest.raises(ConfigError) as caught:
        _s3(**{field: given})
    assert f"@ $.storage.drivers.s3.{field}" in str(caught.value)


def test_verify_ssl_false_is_a_production_finding() -> None:
    config = StorageConfig.from_dict(
        {"default_driver": "s3", "drivers": {"s3": {"bucket": "b", "verify_ssl": "false"}}}
    )
    with pytest.raises(InsecureConfigError) as caught:
        config.validate_production_security("production-eu")
    assert "storage.drivers.s3.verify_ssl" in str(caught.value)


@pytest.mark.parametrize(
    "placeholder", ["password123", "test123", "   ", "your-secret-here", "x" * 40, "0123456789" * 4]
)
def test_placeholder_keys_are_production_findings(placeholder: str) -> None:
    config = StorageConfig.from_dict(
        {
            "default_driver": "r2",
            "drivers": {
                "r2": {
                    "bucket": "b",
                    "access_key": placeholder,
                    "secret_key": placeholder,
                    "endpoint_url": "https://acct.r2.cloudflarestorage.com",
                }
            },
        }
    )
    with pytest.raises(InsecureConfigError) as caught:
        config.validate_production_security("prd")
    findings = caught.value.findings
    assert any(f.startswith("storage.drivers.r2.access_key ") for f in findings)
    assert any(f.startswith("storage.drivers.r2.secret_key ") for f in findings)
