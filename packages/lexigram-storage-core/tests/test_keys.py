"""Key validation: refused with InvalidKeyError, or accepted exactly as given."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lexigram.storage import BlobStore
from lexigram.storage.errors import InvalidKeyError
from lexigram.storage.keys import MAX_KEY_BYTES, validate_key, validate_prefix
from lexigram.storage.memory import MemoryDriver
from lexigram.storage.testing import INVALID_KEYS, UNUSUAL_KEYS


@pytest.mark.parametrize("key", INVALID_KEYS, ids=range(len(INVALID_KEYS)))
def test_invalid_keys(key: str) -> None:
    with pytest.raises(InvalidKeyError) as caught:
        validate_key(key)
    assert isinstance(caught.value, ValueError)
    assert "Invalid key" in str(caught.value)


@pytest.mark.parametrize(
    "key", [*UNUSUAL_KEYS, "a", "a/b/c", "x" * MAX_KEY_BYTES, "é" * 512, ".hidden", "a/.b/..c"]
)
def test_valid_keys_are_unchanged(key: str) -> None:
    assert validate_key(key) is key


@pytest.mark.parametrize("key", [None, 1, b"bytes", ["a"]])
def test_non_string_keys(key: object) -> None:
    with pytest.raises(InvalidKeyError, match="must be str"):
        validate_key(key)


def test_messages_say_what_is_wrong() -> None:
    with pytest.raises(InvalidKeyError, match="starts with '/'"):
        validate_key("/a")
    with pytest.raises(InvalidKeyError, match="empty segment"):
        validate_key("a//b")
    with pytest.raises(InvalidKeyError, match=r"'\.\.' segment"):
        validate_key("a/../b")
    with pytest.raises(InvalidKeyError, match=r"U\+0000"):
        validate_key("a\x00")
    with pytest.raises(InvalidKeyError, match="1025 bytes"):
        validate_key("y" * 1025)


def test_huge_key_message_is_bounded() -> None:
    with pytest.raises(InvalidKeyError) as caught:
        validate_key("z" * 100_000)
    assert len(str(caught.value)) < 400


def test_prefixes() -> None:
    assert validate_prefix("") == ""
    assert validate_prefix("a/") == "a/"
    assert validate_prefix("a/b") == "a/b"
    for bad in ["/a", "a//", "../", 3]:
        with pytest.raises(InvalidKeyError):
            validate_prefix(bad)


@given(st.text(min_size=0, max_size=300))
def test_any_text_is_accepted_unchanged_or_refused(key: str) -> None:
    try:
        result = validate_key(key)
    except InvalidKeyError:
        return
    assert result == key
    assert key and not key.startswith("/")
    assert len(key.encode("utf-8")) <= MAX_KEY_BYTES
    assert all(seg not in ("", ".", "..") for seg in key.split("/"))
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in key)


@given(
    st.lists(
        st.text(
            alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="/"),
            min_size=1,
            max_size=8,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_fast_and_slow_paths_agree(segments: list[str]) -> None:
    key = "/".join(segments)
    dotted = any(s in (".", "..") for s in segments)
    if dotted:
        with pytest.raises(InvalidKeyError):
            validate_key(key)
    else:
        assert validate_key(key) == key


class _BackslashDriver(MemoryDriver):
    capabilities = attrs.evolve(MemoryDriver.capabilities, forbidden_key_chars="\\")


async def test_each_store_checks_keys_for_its_own_backend() -> None:
    """A store remembers the keys it accepted (no cache is shared between stores): a key
    one store took is still refused by a store whose backend cannot hold it, every time."""
    plain = BlobStore(MemoryDriver())
    strict = BlobStore(_BackslashDriver())
    await plain.upload("a\\b", b"x")
    assert await plain.exists("a\\b")
    for _ in range(2):
        with pytest.raises(InvalidKeyError, match="cannot store"):
            await strict.upload("a\\b", b"x")
    for _ in range(2):
        with pytest.raises(InvalidKeyError):
            await plain.exists("a//b")
