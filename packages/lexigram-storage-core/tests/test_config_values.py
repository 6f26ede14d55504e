"""Typed config values are parsed strictly, once, by the core's converter, for every driver.

A value that is not clearly of its field's type is a ConfigError naming the path, never
a silent guess: ``bool("false")`` is True and ``str([1, 2])`` is a path in cattrs'
defaults.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import attrs
import pytest

from lexigram.storage import ConfigError, DriverSpec, StorageConfig, register_driver
from lexigram.storage.memory import MemoryDriver
from lexigram.storage.registry import unregister_driver

PATH = "$.storage.drivers.typed"


@attrs.define(frozen=True, kw_only=True)
class Inner:
    enabled: bool = False


@attrs.define(frozen=True, kw_only=True)
class TypedConfig:
    flag: bool = True
    maybe: bool | None = None
    count: int = 1
    seconds: float = 1.0
    name: str = "n"
    optional_name: str | None = None
    where: Path = Path("x")
    style: Literal["fast", "safe"] = "fast"
    inner: Inner = attrs.field(factory=Inner)


@pytest.fixture(autouse=True)
def typed() -> Iterator[None]:
    register_driver(
        DriverSpec(
            name="typed",
            config_class=TypedConfig,
            factory=lambda cfg: MemoryDriver(),
            distribution="test",
        ),
        replace=True,
    )
    yield
    unregister_driver("typed")


def _typed(**settings: Any) -> TypedConfig:
    config = StorageConfig.from_dict({"drivers": {"typed": settings}})
    result: TypedConfig = config.drivers["typed"]
    return result


def _refused(field: str, **settings: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        _typed(**settings)
    message = str(caught.value)
    assert f"@ {PATH}.{field}" in message, message
    return message


@pytest.mark.parametrize(
    ("yes", "no"),
    [
        ("true", "false"),
        ("True", "False"),
        ("TRUE", "FALSE"),
        ("yes", "no"),
        ("Yes", "NO"),
        ("on", "off"),
        ("ON", "Off"),
        ("1", "0"),
        (" true ", " false "),
        (True, "false"),
        (1, "no"),
    ],
)
def test_booleans_read_as_yaml_users_expect(yes: Any, no: Any) -> None:
    for given, expected in ((yes, True), (no, False)):
        config = _typed(flag=given, maybe=given, inner={"enabled": given})
        assert config.flag is expected
        assert config.maybe is expected
        assert config.inner.enabled is expected


@pytest.mark.parametrize(
    "given", ["", "  ", "maybe", "t", "f", "y", "n", "2", 2, -1, 0.0, 1.5, [], {}]
)
def test_anything_else_is_not_a_boolean(given: Any) -> None:
    _refused("flag", flag=given)
    _refused("maybe", maybe=given)
    message = _refused("inner.enabled", inner={"enabled": given})
    assert "true or false" in message


def test_an_empty_variable_is_not_false(monkeypatch: pytest.MonkeyPatch) -> None:
    """``verify_ssl: ${VERIFY:-}`` with VERIFY unset must not turn a check off."""
    monkeypatch.delenv("LXS_VERIFY", raising=False)
    message = _refused("flag", flag="${LXS_VERIFY:-}")
    assert "empty" in message
    monkeypatch.setenv("LXS_VERIFY", "false")
    assert _typed(flag="${LXS_VERIFY}").flag is False
    assert _typed(maybe=None).maybe is None  # null still leaves an optional bool unset


@pytest.mark.parametrize(
    ("field", "given"),
    [
        ("count", True),
        ("count", 2.5),
        ("count", -1),
        ("count", "-3"),
        ("seconds", math.nan),
        ("seconds", math.inf),
        ("seconds", -math.inf),
        ("seconds", "inf"),
        ("seconds", "-1"),
        ("seconds", -0.5),
        ("seconds", False),
    ],
)
def test_bad_numbers_name_the_path(field: str, given: Any) -> None:
    _refused(field, **{field: given})


def test_numbers_in_every_accepted_form() -> None:
    config = _typed(count="8", seconds="2.5")
    assert (config.count, config.seconds) == (8, 2.5)
    config = _typed(count=8.0, seconds=3)
    assert (config.count, config.seconds) == (8, 3.0)
    assert type(config.count) is int and type(config.seconds) is float
    _refused("count", count=8.5)  # not truncated to 8


@pytest.mark.parametrize(
    ("field", "given"),
    [
        ("name", [1, 2]),
        ("name", {"a": 1}),
        ("name", 123),
        ("name", 1.5),
        ("name", True),
        ("name", None),
        ("optional_name", [1, 2]),
        ("optional_name", 83),
        ("where", ""),
    ],
)
def test_non_strings_are_refused_not_stringified(field: str, given: Any) -> None:
    message = _refused(field, **{field: given})
    assert "[1, 2]" not in message


def test_strings_and_paths() -> None:
    assert "quote it" in _refused("name", name=123)
    config = _typed(name="n2", optional_name=None, where="/srv/data")
    assert (config.name, config.optional_name, config.where) == ("n2", None, Path("/srv/data"))
    assert _typed(name=Path("/a/b")).name == "/a/b"  # a Path given from Python


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"health_timeout": math.nan}, "@ $.storage.health_timeout"),
        ({"health_timeout": math.inf}, "@ $.storage.health_timeout"),
        ({"retry": {"base_delay": math.nan}}, "@ $.storage.retry.base_delay"),
        ({"retry": {"max_delay": math.inf}}, "@ $.storage.retry.max_delay"),
        ({"retry": {"attempts": 2.5}}, "@ $.storage.retry.attempts"),
        ({"retry": {"attempts": 0}}, "@ $.storage.retry.attempts"),
        ({"kv": {"fsync": "nope"}}, "@ $.storage.kv.fsync"),
        ({"kv": {"fsync": ""}}, "@ $.storage.kv.fsync"),
    ],
)
def test_top_level_values_are_strict_too(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        StorageConfig.from_dict({"drivers": {"memory": {}}, **data})
    assert expected in str(caught.value)


def test_top_level_values_from_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LXS_FSYNC", "off")
    monkeypatch.setenv("LXS_TIMEOUT", "2.5")
    config = StorageConfig.from_dict(
        {
            "drivers": {"memory": {}},
            "kv": {"fsync": "${LXS_FSYNC}"},
            "health_timeout": "${LXS_TIMEOUT}",
        }
    )
    assert config.kv is not None and config.kv.fsync is False
    assert config.health_timeout == 2.5


@pytest.mark.parametrize(("given", "expected"), [("yes", True), ("false", False), ("1", True)])
def test_primary_reads_like_every_boolean(given: Any, expected: bool) -> None:
    config = StorageConfig.from_dict(
        {"backends": [{"name": "a", "driver": "memory", "primary": given}]}
    )
    assert config.backends[0].primary is expected
    with pytest.raises(ConfigError, match=r"@ \$\.storage\.backends\[0\]\.primary"):
        StorageConfig.from_dict({"backends": [{"name": "a", "driver": "memory", "primary": ""}]})


def test_direct_construction_checks_health_timeout() -> None:
    with pytest.raises(ConfigError, match="health_timeout"):
        StorageConfig(drivers={"memory": {}}, health_timeout=math.nan)


@pytest.mark.parametrize("given", ["slow", "", 1, True, ["fast"]])
def test_a_choice_outside_the_literal_lists_the_choices(given: Any) -> None:
    assert _typed(style="safe").style == "safe"
    message = _refused("style", style=given)
    assert "must be one of 'fast', 'safe'" in message


@pytest.mark.parametrize("given", ["yes", 3, [1], None])
def test_nested_settings_that_are_not_a_mapping(given: Any) -> None:
    assert "expected a mapping" in _refused("inner", inner=given)
