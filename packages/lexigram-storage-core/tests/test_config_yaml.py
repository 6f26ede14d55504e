"""``StorageConfig.from_yaml`` on hostile or broken files: every problem is a ConfigError
naming the file, in bounded memory: YAML bombs, deep nesting, recursive aliases, bytes
that are not UTF-8, duplicate keys, files that are not a mapping."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from lexigram.storage import ConfigError, StorageConfig

# The classic "billion laughs": nine aliases of nine aliases ... 9**9 strings once expanded.
BILLION_LAUGHS = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{b}: &{b} [*{a},*{a},*{a},*{a},*{a},*{a},*{a},*{a},*{a}]\n"
        for a, b in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "storage:\n  drivers: {memory: {}}\n  kv: *i\n"
)


def _write(tmp_path: Path, content: str | bytes, name: str = "app.yaml") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


def _refused(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        StorageConfig.from_yaml(path)
    message = str(caught.value)
    assert repr(str(path)) in message, message
    return message


def test_billion_laughs_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    path = _write(tmp_path, BILLION_LAUGHS)
    assert path.stat().st_size < 500
    tracemalloc.start()
    try:
        message = _refused(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "alias" in message
    assert peak < 20 * 1024 * 1024


@pytest.mark.parametrize(
    "content",
    [
        "storage:\n  drivers: " + "[" * 10_000 + "]" * 10_000 + "\n",
        "storage:\n  drivers: " + "{a: " * 10_000 + "}" * 10_000 + "\n",
        "storage:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(2_000)),
        "storage:\n" + "".join("  " * (i + 1) + "-\n" for i in range(2_000)),
    ],
    ids=["flow-lists", "flow-mappings", "block-mappings", "block-lists"],
)
def test_deep_nesting_is_a_config_error(tmp_path: Path, content: str) -> None:
    assert "deeper than" in _refused(_write(tmp_path, content))


def test_aliases_cannot_nest_past_the_depth_bound(tmp_path: Path) -> None:
    # each anchor is shallow, but every alias adds 60 levels to the one before
    levels = 60
    lines = ["a0: &a0 " + "[" * levels + "x" + "]" * levels]
    lines += [f"a{i}: &a{i} " + "[" * levels + f"*a{i - 1}" + "]" * levels for i in range(1, 20)]
    content = "\n".join(lines) + "\nstorage:\n  drivers: {memory: {}}\n  kv: *a19\n"
    assert "deeper than" in _refused(_write(tmp_path, content))


def test_a_recursive_alias_is_a_config_error(tmp_path: Path) -> None:
    assert "recursive" in _refused(
        _write(tmp_path, "storage: &s\n  drivers: {memory: {}}\n  kv: *s\n")
    )


def test_anchors_within_the_bound_still_work(tmp_path: Path) -> None:
    content = (
        "common: &common {retry: {attempts: 5}}\n"
        "storage:\n"
        "  backends:\n"
        "    - {<<: *common, name: a, driver: memory, primary: true}\n"
        "    - {<<: *common, name: b, driver: memory}\n"
    )
    config = StorageConfig.from_yaml(_write(tmp_path, content))
    assert [b.retry.attempts for b in config.backends if b.retry] == [5, 5]
    # ...while a file whose aliases expand past the bound is refused
    many = (
        "x: &x [" + ", ".join(["v"] * 200) + "]\n"
        "y: &y [" + ", ".join(["*x"] * 200) + "]\n"
        "storage:\n  drivers: {memory: {}}\n  kv: *y\n"
    )
    assert "alias" in _refused(_write(tmp_path, many, "many.yaml"))


@pytest.mark.parametrize(
    "content",
    [
        b"storage:\n  drivers:\n    memory: {}\n  x: \xff\xfe\n",
        b"storage:\n  drivers: {memory: {}}\n# caf\xe9 in Latin-1\n",
        b"\xc3\x28storage: {}\n",
    ],
)
def test_bytes_that_are_not_utf8_are_a_config_error(tmp_path: Path, content: bytes) -> None:
    assert "UTF-8" in _refused(_write(tmp_path, content))


def test_a_control_character_is_a_config_error(tmp_path: Path) -> None:
    message = _refused(_write(tmp_path, b"storage:\n  drivers: {memory: {}}\n  x: a\x01b\n"))
    assert "line 3" in message


def test_a_utf8_bom_is_fine(tmp_path: Path) -> None:
    path = _write(tmp_path, b"\xef\xbb\xbfstorage:\n  drivers: {memory: {}}\n")
    assert StorageConfig.from_yaml(path).primary_backend == "memory"
    _refused(_write(tmp_path, b"\xef\xbb\xbfstorage: {x: \xff}\n", "bad.yaml"))


@pytest.mark.parametrize(
    ("content", "key", "lines"),
    [
        (
            "storage:\n  drivers:\n    memory: {}\n  drivers:\n    memory: {}\n",
            "drivers",
            "lines 2 and 4",
        ),
        (
            "storage:\n  default_driver: memory\n  default_driver: memory\n"
            "  drivers: {memory: {}}\n",
            "default_driver",
            "lines 2 and 3",
        ),
        ("storage:\n  drivers: {memory: {}, memory: {}}\n", "memory", "lines 2 and 2"),
        (
            "storage:\n  drivers: {memory: {}}\n  kv:\n    backend: memory\n    fsync: true\n"
            "    fsync: false\n",
            "fsync",
            "lines 5 and 6",
        ),
        (
            "storage:\n  drivers: {memory: {}}\nstorage:\n  drivers: {}\n",
            "storage",
            "lines 1 and 3",
        ),
    ],
)
def test_a_duplicate_key_names_the_key_and_lines(
    tmp_path: Path, content: str, key: str, lines: str
) -> None:
    message = _refused(_write(tmp_path, content))
    assert f"{key!r}" in message and lines in message


def test_files_that_cannot_be_read_or_are_not_a_mapping(tmp_path: Path) -> None:
    assert "cannot read" in _refused(tmp_path / "absent.yaml")
    (tmp_path / "adir.yaml").mkdir()
    assert "cannot read" in _refused(tmp_path / "adir.yaml")
    assert "a list" in _refused(_write(tmp_path, "- storage\n- drivers\n", "list.yaml"))
    assert "text" in _refused(_write(tmp_path, "just words\n", "scalar.yaml"))
    assert "storage:" in _refused(_write(tmp_path, "", "empty.yaml"))
