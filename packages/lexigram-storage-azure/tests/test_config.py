"""Config structuring, validation, security findings and redaction (no network)."""

from __future__ import annotations

import pytest

from lexigram.storage import ConfigError, InsecureConfigError, StorageConfig
from lexigram.storage.azure import DRIVER, StorageAzureConfig
from lexigram.storage.azure.clients import resolve
from lexigram.storage.azure.config import security_problems, validate

CANARY = "Q2FuYXJ5U2VjcmV0S2V5LWRvLW5vdC1sZWFr" * 2


def problems(**settings: object) -> dict[str, str]:
    return dict(validate(StorageAzureConfig(**settings)))  # type: ignore[arg-type]


def test_account_key_config_is_valid() -> None:
    assert problems(account_name="acct", account_key=CANARY, container="c") == {}


def test_connection_string_config_is_valid() -> None:
    conn = (
        f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={CANARY};"
        "EndpointSuffix=core.windows.net"
    )
    assert problems(connection_string=conn, container="c") == {}
    assert problems(connection_string="UseDevelopmentStorage=true", container="c") == {}


def test_container_is_required() -> None:
    assert "container" in problems(account_name="acct", account_key=CANARY)


def test_account_or_connection_string_is_required() -> None:
    found = problems(container="c")
    assert "account_name" in found and "connection_string" in found["account_name"]


def test_a_credential_is_required() -> None:
    found = problems(account_name="acct", container="c")
    assert "account_key" in found
    assert "sas_token" in found["account_key"]
    assert problems(account_name="acct", container="c", sas_token="sv=x&sig=y") == {}
    assert problems(account_name="acct", container="c", use_default_credential=True) == {}


def test_service_principal_needs_all_three() -> None:
    found = problems(account_name="acct", container="c", tenant_id="t", client_id="i")
    assert "client_secret" in found
    assert (
        problems(
            account_name="acct",
            container="c",
            tenant_id="t",
            client_id="i",
            client_secret="s3cr3t-value",
        )
        == {}
    )


def test_connection_string_without_account() -> None:
    assert "connection_string" in problems(connection_string="Foo=bar", container="c")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("block_size", 5000 * 1024 * 1024),
        ("single_put_threshold", 6000 * 1024 * 1024),
        ("list_page_size", 0),
    ],
)
def test_limits(field: str, value: int) -> None:
    assert field in problems(account_name="a", account_key=CANARY, container="c", **{field: value})


def test_urls_need_a_scheme() -> None:
    found = problems(
        account_name="a",
        account_key=CANARY,
        container="c",
        endpoint_url="127.0.0.1:1",
        public_url="cdn",
    )
    assert set(found) == {"endpoint_url", "public_url"}


def test_attrs_validators() -> None:
    with pytest.raises(ValueError, match="block_size"):
        StorageAzureConfig(container="c", block_size=0)
    with pytest.raises(ValueError, match="max_retries"):
        StorageAzureConfig(container="c", max_retries=-1)
    with pytest.raises(ValueError, match="retry_backoff"):
        StorageAzureConfig(container="c", retry_backoff=-0.1)


def test_sdk_retry_backoff_comes_from_the_config() -> None:
    from lexigram.storage.azure.clients import build_service_client, resolve

    config = StorageAzureConfig(
        container="c",
        connection_string="UseDevelopmentStorage=true",
        max_retries=4,
        retry_backoff=0.25,
    )
    client, _ = build_service_client(config, resolve(config))
    policy = client._config.retry_policy
    assert (policy.total_retries, policy.initial_backoff) == (4, 0.25)
    # the first wait is the backoff (± jitter), not the SDK's default 15 s
    assert all(policy.get_backoff_time({"count": 0}) <= 0.75 for _ in range(50))


def test_secrets_never_in_repr() -> None:
    config = StorageAzureConfig(
        account_name="acct",
        account_key=CANARY,
        connection_string=f"AccountName=acct;AccountKey={CANARY}",
        sas_token=CANARY + "sas",
        client_secret=CANARY + "ad",
        container="c",
    )
    text = repr(config)
    assert CANARY not in text
    assert "acct" in text
    assert CANARY not in repr(resolve(config))


def test_structured_from_dict_through_the_entry_point() -> None:
    config = StorageConfig.from_dict(
        {
            "default_driver": "azure",
            "drivers": {"azure": {"account_name": "acct", "account_key": CANARY, "container": "c"}},
        }
    )
    settings = config.drivers["azure"]
    assert isinstance(settings, StorageAzureConfig)
    assert settings.block_size == 8 * 1024 * 1024


def test_config_errors_name_the_field() -> None:
    with pytest.raises(ConfigError) as caught:
        StorageConfig.from_dict(
            {"default_driver": "azure", "drivers": {"azure": {"account_name": "acct"}}}
        )
    text = str(caught.value)
    assert "container" in text and "account_key" in text
    with pytest.raises(ConfigError) as extra:
        StorageConfig.from_dict(
            {"default_driver": "azure", "drivers": {"azure": {"container": "c", "bucket": "x"}}}
        )
    assert "bucket" in str(extra.value)


def test_production_security_flags_emulator_and_http() -> None:
    config = StorageConfig.from_dict(
        {
            "default_driver": "azure",
            "drivers": {
                "azure": {
                    "connection_string": "UseDevelopmentStorage=true",
                    "container": "c",
                }
            },
        }
    )
    findings = config.validate_production_security(environment="dev")
    assert any("connection_string" in f for f in findings)
    with pytest.raises(ValueError):
        config.validate_production_security(environment="production")
    plain = StorageAzureConfig(
        account_name="a",
        account_key=CANARY,
        container="c",
        endpoint_url="http://blob.example.test/a",
    )
    assert [f for f, _ in security_problems(plain)] == ["endpoint_url"]
    local = StorageAzureConfig(
        account_name="a", account_key=CANARY, container="c", endpoint_url="http://127.0.0.1:10000/a"
    )
    assert security_problems(local) == []


def test_spec() -> None:
    assert DRIVER.name == "azure"
    assert DRIVER.distribution == "lexigram-storage-azure"
    assert DRIVER.config_class is StorageAzureConfig


@pytest.mark.parametrize(
    "placeholder", ["changeme", "your-account-key", "<account-key>", "password123", "   ", "a" * 88]
)
def test_a_placeholder_account_key_inside_a_connection_string_is_found(placeholder: str) -> None:
    config = StorageConfig.from_dict(
        {
            "default_driver": "azure",
            "drivers": {
                "azure": {
                    "connection_string": "DefaultEndpointsProtocol=https;AccountName=acct;"
                    f"AccountKey={placeholder};EndpointSuffix=core.windows.net",
                    "container": "c",
                }
            },
        }
    )
    with pytest.raises(InsecureConfigError) as caught:
        config.validate_production_security("live")
    (finding,) = caught.value.findings
    assert finding.startswith("storage.drivers.azure.connection_string (its AccountKey= part)")
    if placeholder.strip():
        assert placeholder not in str(caught.value)


@pytest.mark.parametrize("field", ["account_key", "sas_token", "client_secret"])
def test_placeholder_secrets_are_found_in_every_field(field: str) -> None:
    settings: dict[str, object] = {"account_name": "acct", "container": "c", field: "test123"}
    if field == "client_secret":
        settings |= {"tenant_id": "t", "client_id": "c"}
    config = StorageConfig.from_dict({"default_driver": "azure", "drivers": {"azure": settings}})
    with pytest.raises(InsecureConfigError) as caught:
        config.validate_production_security("prod-westeurope")
    assert any(f.startswith(f"storage.drivers.azure.{field} ") for f in caught.value.findings)


@pytest.mark.parametrize(
    ("field", "given"),
    [
        ("checksums", ""),
        ("use_default_credential", "maybe"),
        ("retry_backoff", float("nan")),
        ("copy_timeout", float("inf")),
        ("block_size", 1.5),
        ("container", ["c"]),
    ],
)
def test_bad_typed_values_name_their_path(field: str, given: object) -> None:
    with pytest.raises(ConfigError) as caught:
        StorageConfig.from_dict(
            {
                "default_driver": "azure",
                "drivers": {
                    "azure": {"account_name": "a", "account_key": CANARY, "container": "c"}
                    | {field: given}
                },
            }
        )
    assert f"@ $.storage.drivers.azure.{field}" in str(caught.value)
