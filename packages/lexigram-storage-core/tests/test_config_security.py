"""``validate_production_security``: placeholders in every secret field and in the secret
parts of connection strings, blank and predictable secrets, TLS verification turned off,
and environment names that mean production. Findings name the field and say what to do;
none repeats the value."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

from lexigram.storage import (
    DriverSpec,
    InsecureConfigError,
    StorageConfig,
    register_driver,
    secret_field,
)
from lexigram.storage.memory import MemoryDriver
from lexigram.storage.registry import unregister_driver

SECRET_FIELDS = ("access_key", "secret_key", "connection_string")
ACTIONS = ("set ", "generate", "remove")


@attrs.define(frozen=True, kw_only=True)
class VaultConfig:
    bucket: str = "b"
    endpoint_url: str | None = None
    access_key: str | None = secret_field()
    secret_key: str | None = secret_field()
    connection_string: str | None = secret_field()
    verify_ssl: bool = True


@pytest.fixture(autouse=True)
def vault() -> Iterator[None]:
    register_driver(
        DriverSpec(
            name="vault",
            config_class=VaultConfig,
            factory=lambda cfg: MemoryDriver(),
            distribution="test",
        ),
        replace=True,
    )
    yield
    unregister_driver("vault")


def _config(**settings: Any) -> StorageConfig:
    return StorageConfig.from_dict({"drivers": {"vault": settings}})


def _connection_string(key: str) -> str:
    return (
        "DefaultEndpointsProtocol=https;AccountName=acct;"
        f"AccountKey={key};EndpointSuffix=core.windows.net"
    )


def _real_key() -> str:
    return base64.b64encode(secrets.token_bytes(64)).decode()


PLACEHOLDERS = [
    "changeme",
    "CHANGE_ME",
    "your-key-here",
    "YOUR_SECRET_KEY",
    "<your-secret-key>",
    "xxx",
    "XXXXXXXXXXXXXXXX",
    "********",
    "password",
    "password123",
    "Passw0rd!",
    "p@ssw0rd",
    "test123",
    "testing",
    "secret",
    "s3cr3t",
    "my-secret-key",
    "supersecret",
    "example",
    "example-key",
    "sample_token",
    "dummy",
    "placeholder",
    "TODO",
    "replace-me",
    "insert-key-here",
    "put-your-access-key-here",
    "{{ secret_key }}",
    "AKIA...",
    "abc123",
    "admin",
    "none",
    "12345678",
    "   ",
    "\t",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "0123456789" * 4,
    "abcdefghijklmnopqrstuvwxyz012345",
    "ab" * 20,
    "password" * 10,
    "aaaaaaaabbbbbbbbccccccccdddddddd",
    "short",
]


@pytest.mark.parametrize("placeholder", PLACEHOLDERS)
def test_placeholders_are_found_in_every_secret_field_and_connection_string_key(
    placeholder: str,
) -> None:
    config = _config(
        access_key=placeholder,
        secret_key=placeholder,
        connection_string=_connection_string(placeholder),
    )
    with pytest.raises(InsecureConfigError) as caught:
        config.validate_production_security("prod-us-east-1")
    findings = caught.value.findings
    for field in SECRET_FIELDS:
        assert any(f.startswith(f"storage.drivers.vault.{field} ") for f in findings), (
            field,
            findings,
        )
    assert any("AccountKey" in f for f in findings)
    for finding in findings:
        assert any(action in finding for action in ACTIONS), finding


@pytest.mark.parametrize(
    "value",
    [
        "<insert-your-account-key-here>",
        "your-super-secret-signing-key-goes-here",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "0123456789" * 4,
        "passwordpasswordpasswordpassword",
    ],
)
def test_findings_never_repeat_the_value(value: str) -> None:
    config = _config(secret_key=value, connection_string=_connection_string(value))
    findings = config.validate_production_security("staging")
    assert len(findings) == 2
    with pytest.raises(InsecureConfigError) as caught:
        config.validate_production_security("live")
    assert value not in str(caught.value)
    assert value not in repr(caught.value.findings)


def test_every_secret_part_of_a_connection_string_is_checked() -> None:
    good = _real_key()
    config = _config(
        connection_string=f"AccountName=acct;AccountKey={good};"
        "SharedAccessSignature=sv=2022-11-02&ss=b&sig=xxx"
    )
    (finding,) = config.validate_production_security("dev")
    assert "connection_string (its SharedAccessSignature= part)" in finding
    assert good not in finding


def test_real_looking_secrets_pass_where_placeholders_do_not() -> None:
    real = _config(
        access_key="AKIAQ3EGRXXY5ZBQ7H2K",
        secret_key=secrets.token_urlsafe(32),
        connection_string=_connection_string(_real_key()),
    )
    assert real.validate_production_security("production") == []
    fake = _config(
        access_key="AKIAQ3EGRXXY5ZBQ7H2K",
        secret_key=secrets.token_urlsafe(32),
        connection_string=_connection_string("your-account-key"),
    )
    with pytest.raises(InsecureConfigError, match="AccountKey"):
        fake.validate_production_security("production")


def test_verify_ssl_false_is_a_production_finding() -> None:
    assert _config(verify_ssl=True).validate_production_security("production") == []
    config = _config(verify_ssl="false")
    with pytest.raises(InsecureConfigError) as caught:
        config.validate_production_security("production")
    (finding,) = caught.value.findings
    assert finding.startswith("storage.drivers.vault.verify_ssl ")
    assert "TLS" in finding and "remove" in finding


def test_placeholders_in_other_fields_are_found_too() -> None:
    config = _config(endpoint_url="https://<your-account>.blob.core.windows.net")
    (finding,) = config.validate_production_security("dev")
    assert finding.startswith("storage.drivers.vault.endpoint_url ")


@pytest.mark.parametrize(
    "environment",
    [
        "prd",
        "PRD",
        "live",
        "LIVE",
        "production-eu",
        "prod-us-east-1",
        "eu-prod",
        "prod2",
        "Production EU",
        "us_live_1",
    ],
)
def test_environment_names_that_mean_production(environment: str) -> None:
    config = _config(secret_key="changeme")
    with pytest.raises(InsecureConfigError):
        config.validate_production_security(environment)


def test_environment_names_that_do_not_mean_production(monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config(secret_key="changeme")
    for environment in ("staging", "dev", "preprod", "pre-prod", "non-prod", "productivity", ""):
        assert len(config.validate_production_security(environment)) == 1, environment
    monkeypatch.setenv("LEXIGRAM_ENV", "prod-eu-west-1")
    with pytest.raises(InsecureConfigError):
        config.validate_production_security()


def test_plain_words_in_other_fields_are_not_placeholders() -> None:
    # a bucket may be called "todo"; "your-bucket" or "<bucket>" is a placeholder
    assert _config(bucket="todo").validate_production_security("production") == []
    for placeholder in ("your-bucket-name", "<bucket>", "change-me"):
        (finding,) = _config(bucket=placeholder).validate_production_security("dev")
        assert finding.startswith("storage.drivers.vault.bucket ")
