"""``KVStoreConformance``: one pytest class that checks any KV store against the contract.

Subclass it and provide an async fixture ``kv_store`` that yields a fresh, empty store
(and closes it afterwards)::

    import pytest
    from lexigram.storage.kv import InMemoryKVStorage
    from lexigram.storage.testing import KVStoreConformance

    class TestMyStore(KVStoreConformance):
        @pytest.fixture
        async def kv_store(self):
            store = InMemoryKVStorage()
            yield store
            await store.aclose()

Every test is marked ``@pytest.mark.asyncio``, so the class runs in pytest-asyncio's
strict mode too (there, decorate the fixture with ``@pytest_asyncio.fixture``). The
tests use short TTLs (a fraction of a second) and sleep past them; they never assert on
how fast anything is.
"""

from __future__ import annotations

import asyncio
import math
from datetime import timedelta
from typing import Any

import pytest

from lexigram.storage.errors import InvalidKeyError, StoreClosedError
from lexigram.storage.kv.protocol import KVStorageProtocol
from lexigram.storage.testing.kv_session import KVSessionOpsConformance

__all__ = ["INVALID_KV_KEYS", "KVStoreConformance"]

INVALID_KV_KEYS: list[Any] = ["", None, 42, b"bytes", ("a",), "x" * 1025, "é" * 513, "\udc80"]
"""Keys every store must refuse with ``InvalidKeyError``."""

_SHORT_TTL = 0.2
_PAST_SHORT_TTL = 0.45


def _circular() -> list[Any]:
    value: list[Any] = []
    value.append(value)
    return value


_NOT_JSON: list[Any] = [
    object(),
    {1, 2},
    b"bytes",
    {"nested": [1, object()]},
    math.nan,
    math.inf,
    {"x": -math.inf},
    _circular(),
]

_JSON_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -7,
    2**70,
    3.25,
    "",
    'text with \n newline, quote " and unicode é 漢字 😀',
    [],
    {},
    [1, "two", 3.0, None, [True]],
    {"user": "42", "roles": ["admin"], "nested": {"a": {"b": [1, {"c": None}]}}},
]


class KVStoreConformance(KVSessionOpsConformance):
    """The KV contract; see the module docstring. Override nothing but ``kv_store``."""

    # -- basics -------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_satisfies_the_protocol(self, kv_store: KVStorageProtocol) -> None:
        assert isinstance(kv_store, KVStorageProtocol)

    @pytest.mark.asyncio
    @pytest.mark.parametrize("value", _JSON_VALUES, ids=lambda v: type(v).__name__)
    async def test_set_then_get_round_trips_json_values(
        self, kv_store: KVStorageProtocol, value: Any
    ) -> None:
        await kv_store.set("k", value)
        assert await kv_store.get("k", default="absent") == value

    @pytest.mark.asyncio
    async def test_get_of_a_missing_key_returns_the_default(
        self, kv_store: KVStorageProtocol
    ) -> None:
        assert await kv_store.get("missing") is None
        assert await kv_store.get("missing", default={"d": 1}) == {"d": 1}

    @pytest.mark.asyncio
    async def test_stored_none_is_not_the_default(self, kv_store: KVStorageProtocol) -> None:
        await kv_store.set("k", None)
        assert await kv_store.get("k", default="absent") is None
        assert await kv_store.exists("k")

    @pytest.mark.asyncio
    async def test_set_overwrites(self, kv_store: KVStorageProtocol) -> None:
        await kv_store.set("k", 1)
        await kv_store.set("k", {"v": 2})
        assert await kv_store.get("k") == {"v": 2}

    @pytest.mark.asyncio
    async def test_json_conversions_tuples_and_non_string_dict_keys(
        self, kv_store: KVStorageProtocol
    ) -> None:
        await kv_store.set("k", {"t": (1, 2), 3: "int key"})
        assert await kv_store.get("k") == {"t": [1, 2], "3": "int key"}

    @pytest.mark.asyncio
    async def test_unusual_but_valid_keys(self, kv_store: KVStorageProtocol) -> None:
        keys = ["a", "session:abc", "with space", "ünïcödé/漢字", "new\nline", "x" * 1024, "/"]
        for i, key in enumerate(keys):
            await kv_store.set(key, i)
        for i, key in enumerate(keys):
            assert await kv_store.get(key) == i
        assert await kv_store.keys() == sorted(keys)

    @pytest.mark.asyncio
    async def test_delete(self, kv_store: KVStorageProtocol) -> None:
        await kv_store.set("k", 1)
        assert await kv_store.delete("k") is True
        assert await kv_store.get("k") is None
        assert await kv_store.exists("k") is False
        assert await kv_store.delete("k") is False
        assert await kv_store.delete("never-there") is False

    @pytest.mark.asyncio
    async def test_exists(self, kv_store: KVStorageProtocol) -> None:
        assert await kv_store.exists("k") is False
        await kv_store.set("k", 0)
        assert await kv_store.exists("k") is True

    @pytest.mark.asyncio
    async def test_keys_filters_by_prefix_and_sorts(self, kv_store: KVStorageProtocol) -> None:
        assert await kv_store.keys() == []
        for key in ["user:2", "session:b", "user:1", "session:a", "user:10"]:
            await kv_store.set(key, True)
        assert await kv_store.keys() == [
            "session:a",
            "session:b",
            "user:1",
            "user:10",
            "user:2",
        ]
        assert await kv_store.keys("user:") == ["user:1", "user:10", "user:2"]
        assert await kv_store.keys(prefix="session:a") == ["session:a"]
        assert await kv_store.keys("nothing") == []

    @pytest.mark.asyncio
    async def test_clear(self, kv_store: KVStorageProtocol) -> None:
        await kv_store.set_many({"a": 1, "b": 2})
        await kv_store.set("c", 3, ttl=60)
        await kv_store.clear()
        assert await kv_store.keys() == []
        assert await kv_store.get("a") is None
        await kv_store.set("a", 4)
        assert await kv_store.get("a") == 4

    @pytest.mark.asyncio
    async def test_get_many_and_set_many(self, kv_store: KVStorageProtocol) -> None:
        await kv_store.set_many({"a": 1, "b": [2], "c": {"x": 3}})
        assert await kv_store.get_many(["a", "c", "missing"]) == {"a": 1, "c": {"x": 3}}
        assert await kv_store.get_many([]) == {}
        assert await kv_store.get_many(iter(["b"])) == {"b": [2]}
        await kv_store.set_many({})

    @pytest.mark.asyncio
    async def test_set_many_with_ttl(self, kv_store: KVStorageProtocol) -> None:
        await kv_store.set_many({"a": 1, "b": 2}, ttl=_SHORT_TTL)
        assert await kv_store.get_many(["a", "b"]) == {"a": 1, "b": 2}
        await asyncio.sleep(_PAST_SHORT_TTL)
        assert await kv_store.get_many(["a", "b"]) == {}

    # -- copies -------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_value_is_copied_on_the_way_in(self, kv_store: KVStorageProtocol) -> None:
        value: dict[str, Any] = {"list": [1], "nested": {"a": 1}}
        await kv_store.set("k", value)
        value["list"].append(2)
        value["nested"]["a"] = 99
        value["new"] = True
        assert await kv_store.get("k") == {"list": [1], "nested": {"a": 1}}

    @pytest.mark.asyncio
    async def test_value_is_copied_on_the_way_out(self, kv_store: KVStorageProtocol) -> None:
        await kv_store.set("k", {"list": [1]})
        got = await kv_store.get("k")
        got["list"].append(2)
        got["x"] = 1
        assert await kv_store.get("k") == {"list": [1]}
        many = await kv_store.get_many(["k"])
        many["k"]["list"].clear()
        assert await kv_store.get("k") == {"list": [1]}

    @pytest.mark.asyncio
    async def test_set_many_copies_values(self, kv_store: KVStorageProtocol) -> None:
        value = [1]
        await kv_store.set_many({"a": value})
        value.append(2)
        assert await kv_store.get("a") == [1]

    # -- TTL ----------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_ttl_of_a_key_without_expiry_or_missing_is_none(
        self, kv_store: KVStorageProtocol
    ) -> None:
        await kv_store.set("k", 1)
        assert await kv_store.ttl("k") is None
        assert await kv_store.ttl("missing") is None

    @pytest.mark.asyncio
    async def test_ttl_reports_the_remaining_seconds(self, kv_store: KVStorageProtocol) -> None:
        await kv_store.set("k", 1, ttl=100)
        remaining = await kv_store.ttl("k")
        assert remaining is not None
        assert 0 < remaining <= 100
        await kv_store.set("t", 1, ttl=timedelta(minutes=2))
        remaining = await kv_store.ttl("t")
        assert remaining is not None
        assert 100 < remaining <= 120

    @pytest.mark.asyncio
    async def test_expired_key_is_never_returned(self, kv_store: KVStorageProtocol) -> None:
        await kv_store.set("short", {"v": 1}, ttl=_SHORT_TTL)
        await kv_store.set("long", 2, ttl=60)
        await kv_store.set("forever", 3)
        assert await kv_store.get("short") == {"v": 1}
        await asyncio.sleep(_PAST_SHORT_TTL)
        assert await kv_store.get("short") is None
        assert await kv_store.get("short", default="gone") == "gone"
        assert await kv_store.exists("short") is False
        assert await kv_store.ttl("short") is None
        assert await kv_store.keys() == ["forever", "long"]
        assert await kv_store.get_many(["short", "long"]) == {"long": 2}
        assert await kv_store.delete("short") is False

    @pytest.mark.asyncio
    async def test_fractional_ttl_expires(self, kv_store: KVStorageProtocol) -> None:
        await kv_store.set("k", 1, ttl=0.05)
        await asyncio.sleep(0.3)
        assert await kv_store.exists("k") is False

    @pytest.mark.asyncio
    async def test_set_without_ttl_removes_the_expiry(self, kv_store: KVStorageProtocol) -> None:
        await kv_store.set("k", 1, ttl=_SHORT_TTL)
        await kv_store.set("k", 2)
        await asyncio.sleep(_PAST_SHORT_TTL)
        assert await kv_store.get("k") == 2
        assert await kv_store.ttl("k") is None

    @pytest.mark.asyncio
    async def test_set_with_a_new_ttl_replaces_the_old_one(
        self, kv_store: KVStorageProtocol
    ) -> None:
        await kv_store.set("k", 1, ttl=_SHORT_TTL)
        await kv_store.set("k", 2, ttl=60)
        await asyncio.sleep(_PAST_SHORT_TTL)
        assert await kv_store.get("k") == 2

    @pytest.mark.asyncio
    async def test_expired_key_can_be_set_again(self, kv_store: KVStorageProtocol) -> None:
        await kv_store.set("k", 1, ttl=_SHORT_TTL)
        await asyncio.sleep(_PAST_SHORT_TTL)
        await kv_store.set("k", 2)
        assert await kv_store.get("k") == 2

    @pytest.mark.asyncio
    @pytest.mark.parametrize("ttl", [0, -1, -0.5, 0.0, math.nan, math.inf, timedelta(0)])
    async def test_non_positive_or_non_finite_ttl_is_a_value_error(
        self, kv_store: KVStorageProtocol, ttl: Any
    ) -> None:
        await kv_store.set("k", "old")
        with pytest.raises(ValueError, match="ttl"):
            await kv_store.set("k", "new", ttl=ttl)
        with pytest.raises(ValueError, match="ttl"):
            await kv_store.set_many({"k": "new"}, ttl=ttl)
        assert await kv_store.get("k") == "old"

    @pytest.mark.asyncio
    @pytest.mark.parametrize("ttl", [True, "60", [60]])
    async def test_ttl_of_the_wrong_type_is_a_type_error(
        self, kv_store: KVStorageProtocol, ttl: Any
    ) -> None:
        with pytest.raises(TypeError, match="ttl"):
            await kv_store.set("k", 1, ttl=ttl)
        assert await kv_store.exists("k") is False

    # -- increment ----------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_increment(self, kv_store: KVStorageProtocol) -> None:
        assert await kv_store.increment("n") == 1
        assert await kv_store.increment("n") == 2
        assert await kv_store.increment("n", by=10) == 12
        assert await kv_store.increment("n", by=-20) == -8
        assert await kv_store.get("n") == -8
        assert await kv_store.increment("m", 5) == 5

    @pytest.mark.asyncio
    async def test_increment_keeps_the_ttl(self, kv_store: KVStorageProtocol) -> None:
        await kv_store.set("n", 1, ttl=_SHORT_TTL)
        assert await kv_store.increment("n") == 2
        remaining = await kv_store.ttl("n")
        assert remaining is not None
        assert remaining <= _SHORT_TTL
        await asyncio.sleep(_PAST_SHORT_TTL)
        assert await kv_store.get("n") is None
        assert await kv_store.increment("n") == 1
        assert await kv_store.ttl("n") is None

    @pytest.mark.asyncio
    @pytest.mark.parametrize("value", ["1", 1.5, [1], {"n": 1}, None, True])
    async def test_increment_of_a_non_integer_is_a_type_error(
        self, kv_store: KVStorageProtocol, value: Any
    ) -> None:
        await kv_store.set("k", value)
        with pytest.raises(TypeError, match="'k'"):
            await kv_store.increment("k")
        assert await kv_store.get("k") == value

    @pytest.mark.asyncio
    @pytest.mark.parametrize("by", [1.5, "1", True, None])
    async def test_increment_by_a_non_integer_is_a_type_error(
        self, kv_store: KVStorageProtocol, by: Any
    ) -> None:
        with pytest.raises(TypeError):
            await kv_store.increment("k", by)
        assert await kv_store.exists("k") is False

    @pytest.mark.asyncio
    async def test_increment_is_atomic_under_concurrent_tasks(
        self, kv_store: KVStorageProtocol
    ) -> None:
        results = await asyncio.gather(*(kv_store.increment("counter") for _ in range(200)))
        assert sorted(results) == list(range(1, 201))
        assert await kv_store.get("counter") == 200

    @pytest.mark.asyncio
    async def test_concurrent_sets_of_distinct_keys_all_land(
        self, kv_store: KVStorageProtocol
    ) -> None:
        await asyncio.gather(*(kv_store.set(f"k{i}", {"i": i}) for i in range(100)))
        assert len(await kv_store.keys("k")) == 100
        assert await kv_store.get("k57") == {"i": 57}

    # -- bad input ----------------------------------------------------------------

    @pytest.mark.asyncio
    @pytest.mark.parametrize("value", _NOT_JSON, ids=lambda v: type(v).__name__)
    async def test_non_json_value_is_a_type_error_and_keeps_the_old_value(
        self, kv_store: KVStorageProtocol, value: Any
    ) -> None:
        await kv_store.set("k", "old")
        with pytest.raises(TypeError, match="'k'"):
            await kv_store.set("k", value)
        assert await kv_store.get("k") == "old"
        with pytest.raises(TypeError):
            await kv_store.set("other", value)
        assert await kv_store.exists("other") is False

    @pytest.mark.asyncio
    async def test_set_many_with_one_bad_value_writes_nothing(
        self, kv_store: KVStorageProtocol
    ) -> None:
        await kv_store.set("a", "old")
        with pytest.raises(TypeError, match="'b'"):
            await kv_store.set_many({"a": "new", "b": object(), "c": 3})
        assert await kv_store.get("a") == "old"
        assert await kv_store.keys() == ["a"]

    @pytest.mark.asyncio
    @pytest.mark.parametrize("key", INVALID_KV_KEYS, ids=repr)
    async def test_invalid_keys_are_refused(self, kv_store: KVStorageProtocol, key: Any) -> None:
        with pytest.raises(InvalidKeyError):
            await kv_store.set(key, 1)
        with pytest.raises(InvalidKeyError):
            await kv_store.get(key)
        with pytest.raises(InvalidKeyError):
            await kv_store.delete(key)
        with pytest.raises(InvalidKeyError):
            await kv_store.exists(key)
        with pytest.raises(InvalidKeyError):
            await kv_store.ttl(key)
        with pytest.raises(InvalidKeyError):
            await kv_store.increment(key)
        with pytest.raises(InvalidKeyError):
            await kv_store.get_many(["ok", key])
        with pytest.raises(InvalidKeyError):
            await kv_store.set_many({"ok": 1, key: 2})
        assert await kv_store.keys() == []

    @pytest.mark.asyncio
    async def test_invalid_key_error_is_a_value_error(self, kv_store: KVStorageProtocol) -> None:
        with pytest.raises(ValueError, match="non-empty"):
            await kv_store.set("", 1)

    @pytest.mark.asyncio
    async def test_get_many_refuses_a_bare_string(self, kv_store: KVStorageProtocol) -> None:
        with pytest.raises(TypeError):
            await kv_store.get_many("abc")

    # -- lifecycle ----------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_closed_store_refuses_every_operation(self, kv_store: KVStorageProtocol) -> None:
        await kv_store.set("k", 1)
        await kv_store.aclose()
        await kv_store.aclose()  # idempotent
        await kv_store.close()
        calls = [
            kv_store.get("k"),
            kv_store.set("k", 2),
            kv_store.delete("k"),
            kv_store.exists("k"),
            kv_store.keys(),
            kv_store.ttl("k"),
            kv_store.clear(),
            kv_store.get_many(["k"]),
            kv_store.set_many({"k": 2}),
            kv_store.increment("n"),
        ]
        for call in calls:
            with pytest.raises(StoreClosedError, match="closed"):
                await call

    @pytest.mark.asyncio
    async def test_async_with_closes(self, kv_store: KVStorageProtocol) -> None:
        async with kv_store as entered:
            assert entered is kv_store
            await kv_store.set("k", 1)
        with pytest.raises(StoreClosedError):
            await kv_store.get("k")
