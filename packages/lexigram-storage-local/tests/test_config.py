"""Config: structuring, checks at config time, production checks, secrets never shown."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from lexigram.storage import (
    ConfigError,
    InsecureConfigError,
    NotSupportedError,
    StorageConfig,
    StorageError,
    StorageProvider,
)
from lexigram.storage.local import DRIVER, StorageLocalConfig

CANARY = "canary-secret-7f3a9c1e5b2d4f6a8c0e2b4d6f8a0c2e"


def _config(**local: object) -> StorageConfig:
    return StorageConfig.from_dict({"default_driver": "local", "drivers": {"local": local}})


def test_defaults() -> None:
    config = StorageLocalConfig()
    assert config.root_dir == "./storage/data"
    assert (config.base_url, config.signing_key, config.fsync) == (None, None, True)
    assert DRIVER.name == "local" and DRIVER.distribution == "lexigram-storage-local"


def test_root_dir_that_is_a_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError) as caught:
        _config(root_dir=str(tmp_path / "file"))
    assert "is a file" in str(caught.value) and "root_dir" in str(caught.value)


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"base_url": "ftp://x"}, "base_url"),
        ({"file_mode": -1}, "file_mode"),
        ({"root_dir": ""}, "root_dir"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_bad_settings(settings: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _config(**settings)
    assert field in str(caught.value)


async def test_missing_root_is_created(tmp_path: Path) -> None:
    root = tmp_path / "a" / "b"
    async with StorageProvider(config=_config(root_dir=str(root))) as provider:
        await provider.store().upload("k", b"v")
    assert (root / "k").read_bytes() == b"v"


def test_signing_key_never_in_repr() -> None:
    config = StorageLocalConfig(signing_key=CANARY)
    assert CANARY not in repr(config)
    assert CANARY not in repr(_config(signing_key=CANARY))


def test_production_security(monkeypatch: pytest.MonkeyPatch) -> None:
    weak = _config(signing_key="short-key")
    findings = weak.validate_production_security(environment="development")
    assert any("signing_key" in f and "shorter than 32" in f for f in findings)
    assert all("short-key" not in f for f in findings)
    with pytest.raises(InsecureConfigError):
        weak.validate_production_security(environment="production")
    assert _config(signing_key=CANARY).validate_production_security("production") == []


async def test_secret_never_in_errors_or_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    config = _config(root_dir=str(tmp_path / "r"), signing_key=CANARY)  # no base_url
    async with StorageProvider(config=config) as provider:
        store = provider.store()
        await store.upload("k", b"v")
        failures: list[StorageError] = []
        for call in (
            store.get_presigned_url("k"),
            store.download("missing"),
            store.upload(".lexigram", b"x"),
        ):
            with pytest.raises(StorageError) as caught:
                await call
            failures.append(caught.value)
        assert isinstance(failures[0], NotSupportedError)
        assert "base_url" in str(failures[0])
        for err in failures:
            assert CANARY not in str(err) and CANARY not in repr(err)
        assert CANARY not in repr(store) and CANARY not in repr(store.driver.location)
    assert CANARY not in caplog.text


async def test_presign_needs_signing_key(tmp_path: Path) -> None:
    config = _config(root_dir=str(tmp_path / "r"), base_url="http://127.0.0.1:9/files")
    async with StorageProvider(config=config) as provider:
        with pytest.raises(NotSupportedError) as caught:
            await provider.store().get_presigned_url("k")
        assert "set signing_key" in str(caught.value)


PATH_ONLY_YAML = """\
storage:
  default_driver: local
  drivers:
    local:
      root_dir: ./storage/data
      base_url: /files
"""


async def test_path_only_base_url_from_the_documented_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.yaml").write_text(PATH_ONLY_YAML)
    config = StorageConfig.from_yaml(tmp_path / "app.yaml")
    local = config.drivers["local"]
    assert isinstance(local, StorageLocalConfig) and local.base_url == "/files"
    async with StorageProvider(config=config) as provider:
        store = provider.store()
        await store.upload("a/b.txt", b"x")
        assert await store.get_url("a/b.txt") == "/files/a/b.txt"
        assert await store.get_url("dir/with space.txt") == "/files/dir/with%20space.txt"
    assert (tmp_path / "storage" / "data" / "a" / "b.txt").read_bytes() == b"x"


@pytest.mark.parametrize(
    "base_url",
    [
        "/files",
        "/",
        "/a/b/",
        "http://127.0.0.1:8000/files",
        "https://files.example.test",
        "HTTPS://files.example.test/x",
    ],
)
def test_accepted_base_urls(base_url: str) -> None:
    local = _config(base_url=base_url).drivers["local"]
    assert isinstance(local, StorageLocalConfig) and local.base_url == base_url


@pytest.mark.parametrize(
    "base_url",
    [
        "ftp://files.example.test/x",
        "file:///srv/files",
        "files",  # neither a scheme nor a leading /
        "files/x",
        "",
        "//cdn.example.test/files",  # protocol-relative: another site
        "/\\cdn.example.test",  # browsers read /\ as //
        "/my files",
        " /files",
        "/files\n",
        "/fi\x00les",
        "/fi\x7fles",
        "http://",
        "http:/files",
        "https://host:99999/x",
        "/files?x=1",
        "/files#top",
    ],
)
def test_malformed_base_url_is_a_config_error(base_url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _config(base_url=base_url)
    message = str(caught.value)
    assert "storage.drivers.local.base_url" in message
    assert "https://" in message and "/files" in message  # both accepted forms shown


@pytest.mark.parametrize(
    ("yaml_value", "mode"),
    [('"0644"', 0o644), ("'0o640'", 0o640), ('"600"', 0o600), ("0644", 0o644)],
)
def test_file_mode_in_yaml_is_octal(tmp_path: Path, yaml_value: str, mode: int) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(
        f"storage:\n  drivers:\n    local:\n      root_dir: {tmp_path / 'r'}\n"
        f"      file_mode: {yaml_value}\n      directory_mode: '0750'\n"
    )
    settings = StorageConfig.from_yaml(path).drivers["local"]
    assert (settings.file_mode, settings.directory_mode) == (mode, 0o750)


@pytest.mark.parametrize("yaml_value", ["644", "600", "400", "755", "1777"])
def test_a_decimal_file_mode_in_yaml_is_refused(tmp_path: Path, yaml_value: str) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(
        f"storage:\n  drivers:\n    local:\n      root_dir: {tmp_path / 'r'}\n"
        f"      file_mode: {yaml_value}\n"
    )
    with pytest.raises(ConfigError) as caught:
        StorageConfig.from_yaml(path)
    message = str(caught.value)
    assert "@ $.storage.drivers.local.file_mode" in message
    assert f'"0{yaml_value}"' in message  # says how to write it


def test_file_mode_from_python_and_from_dict() -> None:
    assert _config(file_mode=0o644, directory_mode="0o700").drivers["local"].directory_mode == 0o700
    assert _config(file_mode="0644").drivers["local"].file_mode == 0o644
    with pytest.raises(ConfigError, match='"0644"'):
        _config(file_mode=644)  # the number 644 is 0o1204: almost certainly not meant


@pytest.mark.parametrize(
    ("settings", "path"),
    [
        ({"root_dir": [1, 2]}, "root_dir"),
        ({"root_dir": 5}, "root_dir"),
        ({"fsync": "false-ish"}, "fsync"),
        ({"fsync": ""}, "fsync"),
        ({"file_mode": "0999"}, "file_mode"),
        ({"directory_mode": 7.5}, "directory_mode"),
        ({"directory_mode": True}, "directory_mode"),
    ],
)
def test_bad_values_name_their_path(settings: dict[str, object], path: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _config(**settings)
    assert f"@ $.storage.drivers.local.{path}" in str(caught.value)


def test_fsync_false_from_a_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LXS_FSYNC", "false")
    assert _config(fsync="${LXS_FSYNC}").drivers["local"].fsync is False


@pytest.mark.parametrize("key", ["a" * 64, "0123456789abcdef" * 4, "signing-key-" * 4, " " * 40])
def test_long_but_predictable_signing_keys_are_production_findings(key: str) -> None:
    config = _config(signing_key=key)
    with pytest.raises(InsecureConfigError) as caught:
        config.validate_production_security("prod")
    assert "storage.drivers.local.signing_key" in str(caught.value)
    if key.strip():
        assert key not in str(caught.value)
