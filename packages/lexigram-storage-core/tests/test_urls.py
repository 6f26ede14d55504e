"""Stores from URLs: parsing, strict typed parameters, prefixes, helpful errors, no secrets."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest

from lexigram.storage import (
    BlobStore,
    ConfigError,
    DriverNotFoundError,
    DriverSpec,
    InvalidKeyError,
    open_store,
    registry,
)
from lexigram.storage.config.fields import secret_field
from lexigram.storage.memory import MemoryDriver
from lexigram.storage.prefixed import PrefixedDriver, prefixed
from lexigram.storage.urls import StoreURL, parse_store_url, redact_url


@pytest.fixture
def no_installed_drivers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    registry.refresh()
    monkeypatch.setattr(registry, "_discover", dict)
    yield
    registry.refresh()


@pytest.mark.parametrize(
    ("scheme", "dist", "extra"),
    [
        ("gs", "lexigram-storage-gcs", "gcp"),
        ("s3", "lexigram-storage-s3", "aws"),
        ("r2", "lexigram-storage-s3", "aws"),
        ("az", "lexigram-storage-azure", "azure"),
        ("file", "lexigram-storage-local", "local"),
    ],
)
def test_a_missing_drivers_scheme_names_its_distribution(
    scheme: str, dist: str, extra: str, no_installed_drivers: None
) -> None:
    with pytest.raises(DriverNotFoundError) as caught:
        parse_store_url(f"{scheme}://thing/x")
    message = str(caught.value)
    assert f"scheme {scheme!r}" in message
    assert f"pip install {dist}" in message
    assert f"lexigram-storage-kit[{extra}]" in message


def test_an_unknown_scheme_is_a_driver_not_found_error_naming_it() -> None:
    with pytest.raises(DriverNotFoundError) as caught:
        parse_store_url("ftp://host/x")
    assert "'ftp'" in str(caught.value)
    assert "s3" in str(caught.value)  # the schemes that do work


# -- a third-party driver gets URLs by declaring schemes ---------------------------------


@attrs.define(frozen=True, kw_only=True)
class VaultConfig:
    vault: str
    shelves: int = 1
    fast: bool = False
    token: str | None = secret_field()


def _build_vault(config: VaultConfig) -> MemoryDriver:
    driver = MemoryDriver(None)
    driver.config = config  # type: ignore[attr-defined]
    return driver


@pytest.fixture
def vault_driver() -> Iterator[None]:
    spec = DriverSpec(
        name="vault",
        config_class=VaultConfig,
        factory=_build_vault,
        distribution="example-vault",
        schemes=("vault", "vlt"),
        url_location="vault",
    )
    registry.register_driver(spec, replace=True)
    yield
    registry.unregister_driver("vault")


async def test_a_registered_third_party_driver_opens_from_its_schemes(vault_driver: None) -> None:
    assert parse_store_url("vlt://main/p?shelves=4&fast=yes") == StoreURL(
        "vault", {"vault": "main", "shelves": "4", "fast": "yes"}, "p/"
    )
    async with open_store("vault://main/p?shelves=4&fast=yes") as store:
        config = store.driver.config  # type: ignore[attr-defined]
        assert (config.vault, config.shelves, config.fast) == ("main", 4, True)
        await store.upload("k", b"v")
        assert [i.path async for i in store.list()] == ["k"]
    with pytest.raises(ConfigError) as caught:
        parse_store_url("vault://main?shelfs=2")
    assert "did you mean 'shelves'?" in str(caught.value)


def test_memory_urls_parse_into_a_prefix() -> None:
    assert parse_store_url("memory://") == StoreURL("memory", {}, "")
    assert parse_store_url("memory://scratch/area/") == StoreURL("memory", {}, "scratch/area/")
    assert parse_store_url("MEMORY://a%20b") == StoreURL("memory", {}, "a b/")
    driver, settings, prefix = parse_store_url("memory://x")  # a plain tuple for the CLI
    assert (driver, settings, prefix) == ("memory", {}, "x/")


async def test_query_values_are_typed_and_checked_exactly_like_yaml(vault_driver: None) -> None:
    async with open_store("vault://main?shelves=8&fast=off") as store:
        config = store.driver.config  # type: ignore[attr-defined]
        assert (config.shelves, config.fast) == (8, False)
    for query, words in [
        ("fast=maybe", "must be true or false"),
        ("fast=", "must be true or false"),
        ("shelves=2.5", "whole number"),
        ("shelves=-1", "0 or more"),
    ]:
        with pytest.raises(ConfigError) as caught:
            open_store(f"vault://main?{query}")
        assert f"url.{query.split('=')[0]}" in str(caught.value)
        assert words in str(caught.value)


def test_secret_parameters_never_appear_in_errors_or_reprs(vault_driver: None) -> None:
    secret = "vault-token-never-shown-0123456789"
    with pytest.raises(ConfigError) as caught:
        open_store(f"vault://main?token={secret}&fast=maybe")
    assert secret not in str(caught.value) and "***" in str(caught.value)
    parsed = parse_store_url(f"vault://main?token={secret}")
    assert parsed.settings["token"] == secret
    assert secret not in repr(parsed)
    store = open_store(f"vault://main?token={secret}")
    assert secret not in repr(store) and secret not in repr(store.driver.config)  # type: ignore[attr-defined]
    with pytest.raises(ConfigError) as caught:  # a misspelt secret: named, value hidden
        parse_store_url(f"vault://main?tokn={secret}")
    assert "'tokn'" in str(caught.value) and "did you mean 'token'?" in str(caught.value)
    assert secret not in str(caught.value)
    assert secret not in redact_url(f"vault://main?tokn={secret}&secret_key={secret}")


def test_credentials_in_userinfo_are_refused_without_being_shown() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_store_url("memory://user:hunter2hunter2@x")
    assert "hunter2hunter2" not in str(caught.value)
    assert "environment" in str(caught.value)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("vault:///prefix", "has no vault"),
        ("vault://v/a/../../etc", "'..' segment"),
        ("vault://v?shelves=1&shelves=2", "'shelves' twice"),
        ("vault://v?vault=w", "both as its location and as a parameter"),
        ("vault://v#frag", "#fragment"),
        ("no-scheme-here", "has no scheme"),
        ("vault://v:notaport", "not a valid store URL"),
        ("vault://v?justaword", "name=value"),
    ],
)
def test_malformed_urls_are_config_errors(vault_driver: None, url: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_store_url(url)
    assert words in str(caught.value)


# -- the prefix -------------------------------------------------------------------------


async def test_a_prefix_maps_keys_and_strips_them_from_listings() -> None:
    inner = MemoryDriver(None)
    store = BlobStore(PrefixedDriver(inner, "team/a"), name="t")
    root = BlobStore(inner, name="root")
    info = await store.upload("x/1.txt", b"one")
    assert info.path == "x/1.txt"
    await store.upload("y.txt", b"two")
    await root.upload("elsewhere.txt", b"out of reach")

    assert sorted([i.path async for i in root.list()]) == [
        "elsewhere.txt",
        "team/a/x/1.txt",
        "team/a/y.txt",
    ]
    assert [i.path async for i in store.list()] == ["x/1.txt", "y.txt"]
    listed = [(i.path, i.is_prefix) async for i in store.list(delimiter="/")]
    assert listed == [("x/", True), ("y.txt", False)]
    assert (await store.info("y.txt")).path == "y.txt"
    assert await store.download("x/1.txt") == b"one"
    assert not await store.exists("elsewhere.txt")
    await store.copy("y.txt", "z.txt")
    await store.move("z.txt", "w.txt")
    assert await root.download("team/a/w.txt") == b"two"
    await store.delete_many(["w.txt", "y.txt"])
    assert [i.path async for i in store.list()] == ["x/1.txt"]
    with pytest.raises(InvalidKeyError):  # keys are checked before the prefix is added
        await store.download("../elsewhere.txt")


async def test_open_store_with_a_prefix_works_under_it() -> None:
    store = open_store("memory://reports/2024")
    assert isinstance(store.driver, PrefixedDriver)
    assert store.driver.name == "memory"
    assert "under prefix 'reports/2024/'" in store.driver.location
    await store.upload("q1.csv", b"1")
    assert [i.path async for i in store.list()] == ["q1.csv"]
    assert (await store.info("q1.csv")).path == "q1.csv"
    await store.close()
    assert store.closed


async def test_closing_a_url_store_closes_its_driver() -> None:
    closed: list[bool] = []
    store = open_store("memory://p")
    inner = store.driver.inner  # type: ignore[attr-defined]

    async def close() -> None:
        closed.append(True)

    inner.close = close
    async with store:
        pass
    assert closed == [True]


def test_every_driver_operation_is_forwarded_by_the_prefixed_view() -> None:
    """A new operation added to the driver SPI must be mapped here too, or a prefixed
    store would silently use the base-class fallback (or the unprefixed key)."""
    from lexigram.storage.driver import BlobDriver

    spi = {
        name
        for name, value in vars(BlobDriver).items()
        if not name.startswith("_") and (callable(value) or isinstance(value, property))
    } - {"name", "capabilities"}
    assert spi <= set(vars(PrefixedDriver)), spi - set(vars(PrefixedDriver))


async def test_public_urls_and_presigned_urls_include_the_prefix() -> None:
    class Public(MemoryDriver):
        @property
        def public_base_url(self) -> str | None:
            return "https://cdn.example/files/"

        def native_url(self, key: str) -> str:
            return f"mem://{key}"

    store = BlobStore(prefixed(Public(None), "team a"), name="p")
    assert await store.get_url("x/1.txt") == "https://cdn.example/files/team%20a/x/1.txt"
    driver = store.driver
    assert driver.native_url("k") == "mem://team a/k"


def test_a_parameter_for_a_driver_without_settings_says_so() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_store_url("memory://?size=3")
    assert "'size'" in str(caught.value) and "takes no parameters" in str(caught.value)


def test_non_secret_values_are_shown_unless_they_hold_credentials(vault_driver: None) -> None:
    with pytest.raises(ConfigError) as caught:
        open_store("vault://main?shelves=x&fast=yes")
    assert "fast=yes" in str(caught.value)  # useful, and not a secret
    assert redact_url("vault://v?fast=http://user:pa55word99@host", ["fast"]).endswith("fast=***")
