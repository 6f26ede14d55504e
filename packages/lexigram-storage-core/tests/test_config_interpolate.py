"""``${A:-${B}}``: a default may hold references; it is resolved only when used."""

from __future__ import annotations

from typing import Any

import pytest

from lexigram.storage import ConfigError, StorageConfig
from lexigram.storage.config import interpolate

ENV = {"A": "a", "B": "b", "EMPTY": "", "DOLLAR": "${B}"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${UNSET:-${B}}", "b"),
        ("${A:-${B}}", "a"),
        ("${EMPTY:-${B}}", "b"),
        ("${UNSET:-${UNSET2:-deep}}", "deep"),
        ("${UNSET:-x${B}y}", "xby"),
        ("${UNSET:-${UNSET2:-${B}}}!", "b!"),
        ("[${UNSET:-${B}}]-${A}", "[b]-a"),
        ("${UNSET:-$${B}}", "${B}"),
        ("${UNSET:-${EMPTY}}", ""),
    ],
)
def test_nested_defaults_are_resolved(text: str, expected: str) -> None:
    assert interpolate(text, "$.x", ENV) == expected


def test_an_unused_default_may_name_an_unset_variable() -> None:
    assert interpolate("${A:-${UNSET}}", "$.x", ENV) == "a"
    assert interpolate("${UNSET:-}", "$.x", ENV) == ""
    assert interpolate("${DOLLAR}", "$.x", ENV) == "${B}"  # env values are not re-read
    assert interpolate("{x}}", "$.x", ENV) == "{x}}"
    with pytest.raises(ConfigError) as caught:
        interpolate("${UNSET:-${UNSET2}}", "$.storage.drivers.s3.bucket", ENV)
    assert "UNSET2" in str(caught.value)
    assert "$.storage.drivers.s3.bucket" in str(caught.value)


def test_malformed_nested_references_name_the_path() -> None:
    for text in ("${UNSET:-${B}", "${UNSET:-${B", "${A:-x", "${:-x}", "${UNSET:-${1}}"):
        with pytest.raises(ConfigError, match=r"malformed .* @ \$\.storage\.x"):
            interpolate(text, "$.storage.x", ENV)


def test_nesting_is_bounded() -> None:
    text = "${U:-" * 50 + "x" + "}" * 50
    with pytest.raises(ConfigError, match="nest"):
        interpolate(text, "$.x", ENV)
    assert interpolate("${U:-" * 5 + "x" + "}" * 5, "$.x", ENV) == "x"


def test_nested_default_in_a_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LXS_PRIMARY_BUCKET", raising=False)
    monkeypatch.setenv("LXS_FALLBACK_BUCKET", "fallback")
    config = StorageConfig.from_dict(
        {"drivers": {"memory": {}}, "kv": {"path": "${LXS_PRIMARY_BUCKET:-${LXS_FALLBACK_BUCKET}}"}}
    )
    assert config.kv is not None and config.kv.path == "fallback"


def test_structures_passed_from_python_are_bounded() -> None:
    deep: Any = "x"
    for _ in range(5_000):
        deep = [deep]
    with pytest.raises(ConfigError, match="deeper than"):
        interpolate(deep, "$.storage", ENV)
    shared: Any = ["lol"] * 9
    for _ in range(8):
        shared = [shared] * 9  # a YAML bomb loaded by the caller: 9**9 leaves, shared
    with pytest.raises(ConfigError, match="more than"):
        StorageConfig.from_dict({"drivers": {"memory": {}}, "kv": shared})
