"""StorageConfig: both shapes, interpolation, errors with paths, secrets, production checks."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lexigram.storage import (
    ConfigError,
    DriverNotFoundError,
    DriverSpec,
    InsecureConfigError,
    StorageConfig,
    register_driver,
    registry,
    secret_field,
)
from lexigram.storage.config import interpolate
from lexigram.storage.memory import MemoryDriver
from lexigram.storage.registry import unregister_driver


@attrs.define(frozen=True, kw_only=True)
class FakeCloudConfig:
    bucket: str
    region: str = "us-east-1"
    access_key: str | None = secret_field()
    secret_key: str | None = secret_field()
    max_connections: int = 10


@pytest.fixture(autouse=True)
def fakecloud() -> Any:
    register_driver(
        DriverSpec(
            name="fakecloud",
            config_class=FakeCloudConfig,
            factory=lambda cfg: MemoryDriver(),
            distribution="test",
            validate=lambda cfg: (
                [("bucket", "bucket must be lowercase")] if cfg.bucket != cfg.bucket.lower() else []
            ),
        ),
        replace=True,
    )
    yield
    unregister_driver("fakecloud")


def test_direct_construction_structures_plain_dicts() -> None:
    config = StorageConfig(default_driver="memory", drivers={"memory": {}})
    assert config.primary_backend == "memory"
    assert list(config.resolved_backends()) == ["memory"]


def test_drivers_shape() -> None:
    config = StorageConfig.from_dict(
        {"default_driver": "fakecloud", "drivers": {"fakecloud": {"bucket": "b"}, "memory": {}}}
    )
    assert isinstance(config.drivers["fakecloud"], FakeCloudConfig)
    assert config.drivers["fakecloud"].bucket == "b"
    assert config.primary_backend == "fakecloud"
    backends = config.resolved_backends()
    assert set(backends) == {"fakecloud", "memory"}
    assert backends["fakecloud"].primary


def test_backends_shape_with_two_of_the_same_driver() -> None:
    config = StorageConfig.from_dict(
        {
            "backends": [
                {
                    "name": "avatars",
                    "primary": True,
                    "driver": "fakecloud",
                    "fakecloud": {"bucket": "a"},
                },
                {
                    "name": "exports",
                    "driver": "fakecloud",
                    "fakecloud": {"bucket": "e"},
                    "retry": {"attempts": 5},
                },
            ]
        }
    )
    assert config.primary_backend == "avatars"
    backends = config.resolved_backends()
    assert backends["exports"].settings.bucket == "e"
    assert backends["exports"].retry is not None and backends["exports"].retry.attempts == 5


def test_a_single_backend_is_the_default() -> None:
    assert StorageConfig.from_dict({"drivers": {"memory": {}}}).primary_backend == "memory"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"drivers": {"fakecloud": {}}},
            "required field missing @ $.storage.drivers.fakecloud.bucket",
        ),
        (
            {"drivers": {"fakecloud": {"bucket": "b", "buckett": "x"}}},
            "$.storage.drivers.fakecloud",
        ),
        (
            {"drivers": {"fakecloud": {"bucket": "b", "max_connections": "many"}}},
            "@ $.storage.drivers.fakecloud.max_connections",
        ),
        (
            {"drivers": {"fakecloud": {"bucket": "B"}}},
            "bucket must be lowercase @ $.storage.drivers.fakecloud.bucket",
        ),
        ({"drivers": {"memory": {"nope": 1}}}, "$.storage.drivers.memory"),
        ({"drivers": {"memory": {}}, "colour": "blue"}, "extra field 'colour' @ $.storage.colour"),
        ({"default_driver": "s3x", "drivers": {"memory": {}}}, "@ $.storage.default_driver"),
        ({"drivers": {"memory": {}, "fakecloud": {"bucket": "b"}}}, "none is the default"),
        ({"backends": [{"driver": "memory", "memory": {}}]}, "name @ $.storage.backends[0].name"),
        (
            {"backends": [{"name": "x", "driver": "memory", "memory": {}, "extra": 1}]},
            "extra field 'extra' @ $.storage.backends[0].extra",
        ),
        (
            {"backends": [{"name": "x", "driver": "memory"}, {"name": "x", "driver": "memory"}]},
            "two backends are named 'x'",
        ),
        (
            {
                "backends": [
                    {"name": "a", "driver": "memory", "primary": True},
                    {"name": "b", "driver": "memory", "primary": True},
                ]
            },
            "more than one backend is primary",
        ),
        ({"drivers": {"memory": {}}, "retry": {"attempts": 0}}, "$.storage.retry"),
        ({"drivers": "memory"}, "@ $.storage.drivers"),
        ({"drivers": {"memory": {}}, "kv": {"backend": "local"}}, "@ $.storage.kv.path"),
        ({"drivers": {"memory": {}}, "kv": {"backend": "memcached"}}, "$.storage.kv.backend"),
        ({"drivers": {"memory": {}}, "health_timeout": -1}, "@ $.storage.health_timeout"),
    ],
)
def test_errors_name_the_path(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        StorageConfig.from_dict(data)
    assert expected in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_unknown_driver_names_the_distribution(monkeypatch: pytest.MonkeyPatch) -> None:
    registry.refresh()  # hide s3 even where lexigram-storage-s3 is installed
    installed = {k: v for k, v in registry._discover().items() if k != "s3"}
    monkeypatch.setattr(registry, "_discover", lambda: installed)
    with pytest.raises(DriverNotFoundError) as caught:
        StorageConfig.from_dict({"drivers": {"s3": {"bucket": "b"}}})
    message = str(caught.value)
    assert "pip install lexigram-storage-s3" in message
    assert "@ $.storage.drivers.s3" in message
    assert "memory" in message  # lists what is installed


def test_interpolation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LXS_BUCKET", "from-env")
    monkeypatch.delenv("LXS_REGION", raising=False)
    config = StorageConfig.from_dict(
        {
            "drivers": {
                "fakecloud": {"bucket": "${LXS_BUCKET}", "region": "${LXS_REGION:-eu-west-1}"}
            }
        }
    )
    settings_ = config.drivers["fakecloud"]
    assert (settings_.bucket, settings_.region) == ("from-env", "eu-west-1")


def test_interpolation_forms() -> None:
    env = {"A": "1", "EMPTY": ""}
    assert interpolate("x${A}y${A}", "$", env) == "x1y1"
    assert interpolate("$${A}", "$", env) == "${A}"
    assert interpolate("${EMPTY:-d}", "$", env) == "d"
    assert interpolate("${EMPTY}", "$", env) == ""
    assert interpolate({"k": ["${A}", 3]}, "$", env) == {"k": ["1", 3]}
    with pytest.raises(ConfigError, match="malformed"):
        interpolate("${A", "$.x", env)


def test_missing_variable_names_it_and_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LXS_MISSING", raising=False)
    with pytest.raises(ConfigError) as caught:
        StorageConfig.from_dict({"drivers": {"fakecloud": {"bucket": "${LXS_MISSING}"}}})
    assert "LXS_MISSING" in str(caught.value)
    assert "$.storage.drivers.fakecloud.bucket" in str(caught.value)


def test_from_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LXS_SECRET", "s3cr3t-value-123")
    path = tmp_path / "app.yaml"
    path.write_text(
        "storage:\n"
        "  default_driver: fakecloud\n"
        "  drivers:\n"
        "    fakecloud:\n"
        "      bucket: photos\n"
        "      access_key: AKIA123456\n"
        "      secret_key: ${LXS_SECRET}\n"
        "  kv:\n"
        "    backend: memory\n"
    )
    config = StorageConfig.from_yaml(path)
    assert config.drivers["fakecloud"].secret_key == "s3cr3t-value-123"
    assert config.kv is not None
    assert "s3cr3t-value-123" not in repr(config)
    assert "AKIA123456" not in repr(config)
    assert "secret_key='***'" in repr(config)


def test_yaml_problems(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        StorageConfig.from_yaml(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("storage: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        StorageConfig.from_yaml(bad)
    nosection = tmp_path / "none.yaml"
    nosection.write_text("other: 1\n")
    with pytest.raises(ConfigError, match="storage:"):
        StorageConfig.from_yaml(nosection)


def test_production_security(monkeypatch: pytest.MonkeyPatch) -> None:
    config = StorageConfig.from_dict(
        {
            "backends": [
                {
                    "name": "main",
                    "primary": True,
                    "driver": "fakecloud",
                    "fakecloud": {
                        "bucket": "b",
                        "access_key": "AKIAIOSFODNN7EXAMPLE",
                        "secret_key": "changeme",
                    },
                },
                {
                    "name": "other",
                    "driver": "fakecloud",
                    "fakecloud": {"bucket": "c", "secret_key": "$${NOT_SET}"},
                },
            ]
        }
    )
    monkeypatch.delenv("LEXIGRAM_ENV", raising=False)
    findings = config.validate_production_security()
    text = "\n".join(findings)
    assert "storage.backends[0].fakecloud.access_key" in text
    assert "storage.backends[0].fakecloud.secret_key" in text
    assert "storage.backends[1].fakecloud.secret_key" in text
    assert "changeme" not in text  # findings never repeat the value
    with pytest.raises(InsecureConfigError) as caught:
        config.validate_production_security("production")
    assert isinstance(caught.value, ValueError)
    assert caught.value.findings == findings
    monkeypatch.setenv("LEXIGRAM_ENV", "prod")
    with pytest.raises(ValueError):
        config.validate_production_security()
    assert config.validate_production_security("staging") == findings


def test_production_security_passes_real_looking_values() -> None:
    config = StorageConfig.from_dict(
        {
            "drivers": {
                "fakecloud": {
                    "bucket": "b",
                    "access_key": "AKIAQ3EGRXXY5ZBQ7H2K",
                    "secret_key": "q8Zr1tX0vK2mN7pL4wS9yB6cD3fG5hJ8kQ1eR4tY",
                }
            }
        }
    )
    assert config.validate_production_security("production") == []


_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)
_tree = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        _tree,
        st.dictionaries(
            st.sampled_from(
                ["default_driver", "drivers", "backends", "kv", "retry", "health_timeout"]
            ),
            _tree,
            max_size=6,
        ),
    )
)
def test_fuzzed_config_gives_config_error_only(data: Any) -> None:
    # DriverNotFoundError is a ConfigError too; anything else fails the test.
    with contextlib.suppress(ConfigError):
        StorageConfig.from_dict(data)
