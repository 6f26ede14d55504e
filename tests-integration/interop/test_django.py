"""The Django storage on a local directory and on S3 (moto), with Django configured here
(settings.configure), held to what Django's own FileSystemStorage tests expect."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from datetime import UTC
from typing import Any

import django
import pytest
from django.conf import settings

if not settings.configured:
    settings.configure(USE_TZ=True, TIME_ZONE="UTC")
    django.setup()

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import StorageHandler
from django.test import override_settings
from django.utils import timezone

from lexigram.storage.django import _LOOP, LexigramStorage, UnsafeFileNameError
from lexigram.storage.errors import InvalidArgumentError, InvalidKeyError

BACKEND = "lexigram.storage.django.LexigramStorage"


@pytest.fixture
def storage(backend_config: dict[str, Any]) -> Iterator[LexigramStorage]:
    # as Django builds it from STORAGES
    handler = StorageHandler(
        {"default": {"BACKEND": BACKEND, "OPTIONS": {"backend": "data", "config": backend_config}}}
    )
    built = handler["default"]
    assert isinstance(built, LexigramStorage)
    yield built
    built.close()


def _read(storage: LexigramStorage, name: str) -> bytes:
    with storage.open(name) as f:
        data: bytes = f.read()
    return data


def test_save_open_exists_size_delete(storage: LexigramStorage) -> None:
    assert not storage.exists("docs/a.txt")
    name = storage.save("docs/a.txt", ContentFile(b"custom contents"))
    assert name == "docs/a.txt"
    assert storage.exists("docs/a.txt")
    assert storage.exists("docs")  # a directory is a prefix
    assert storage.size("docs/a.txt") == len(b"custom contents")
    assert _read(storage, "docs/a.txt") == b"custom contents"
    with storage.open("docs/a.txt", "r") as f:
        assert f.read() == b"custom contents"

    # a str content is stored encoded, as FileSystemStorage does
    assert storage.save("docs/t.txt", ContentFile("héllo wörld")) == "docs/t.txt"
    assert _read(storage, "docs/t.txt") == "héllo wörld".encode()
    assert storage.size("docs/t.txt") == len("héllo wörld".encode())

    storage.delete("docs/a.txt")
    assert not storage.exists("docs/a.txt")
    storage.delete("docs/a.txt")  # deleting a missing file is no error
    with pytest.raises(ValueError, match="name must be given"):
        storage.delete("")


def test_saving_a_taken_name_picks_another(storage: LexigramStorage) -> None:
    first = storage.save("up/photo.jpg", ContentFile(b"one"))
    second = storage.save("up/photo.jpg", ContentFile(b"two"))
    assert first == "up/photo.jpg"
    assert second != first
    assert second.startswith("up/photo_") and second.endswith(".jpg")
    assert _read(storage, first) == b"one"
    assert _read(storage, second) == b"two"


def test_a_name_taken_between_check_and_write_is_not_overwritten(
    storage: LexigramStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert storage.store.driver.capabilities.create_only
    original = LexigramStorage.get_available_name
    planted: list[str] = []

    def racing(self: LexigramStorage, name: str, max_length: int | None = None) -> str:
        free: str = original(self, name, max_length)
        if not planted:  # another process writes that very name right after the check
            planted.append(free)
            LexigramStorage.save(self, free, ContentFile(b"theirs"))
        return free

    monkeypatch.setattr(LexigramStorage, "get_available_name", racing)
    name = storage.save("race/f.txt", ContentFile(b"mine"))
    assert planted == ["race/f.txt"]
    assert name != "race/f.txt"
    assert _read(storage, "race/f.txt") == b"theirs"
    assert _read(storage, name) == b"mine"


def test_listdir(storage: LexigramStorage) -> None:
    for name in ("ld/a.txt", "ld/b.txt", "ld/sub/c.txt", "ld/sub2/d/e.txt", "other.txt"):
        storage.save(name, ContentFile(b"x"))
    dirs, files = storage.listdir("ld")
    assert sorted(dirs) == ["sub", "sub2"]
    assert sorted(files) == ["a.txt", "b.txt"]
    assert storage.listdir("ld/") == storage.listdir("ld")
    dirs, files = storage.listdir("")
    assert sorted(dirs) == ["ld"] and files == ["other.txt"]
    assert storage.listdir("missing") == ([], [])


def test_times_follow_use_tz(storage: LexigramStorage) -> None:
    storage.save("t/x.txt", ContentFile(b"x"))
    info = storage._info("t/x.txt")
    modified = storage.get_modified_time("t/x.txt")
    assert timezone.is_aware(modified)
    assert modified == info.last_modified
    assert modified.utcoffset() == UTC.utcoffset(None)
    assert storage.get_created_time("t/x.txt") == modified
    with override_settings(USE_TZ=False):
        naive = storage.get_modified_time("t/x.txt")
        assert timezone.is_naive(naive)
        assert naive == timezone.make_naive(modified)
    with pytest.raises(NotImplementedError):
        storage.get_accessed_time("t/x.txt")


def test_missing_files(storage: LexigramStorage) -> None:
    with pytest.raises(FileNotFoundError):
        storage.open("nope.txt")
    with pytest.raises(FileNotFoundError):
        storage.size("nope.txt")
    with pytest.raises(FileNotFoundError):
        storage.get_modified_time("nope.txt")


def test_unsafe_names(storage: LexigramStorage) -> None:
    with pytest.raises(SuspiciousFileOperation):
        storage.save("../escape.txt", ContentFile(b"x"))
    for name in ("../escape.txt", "/etc/passwd", "a/../../b"):
        with pytest.raises(UnsafeFileNameError) as caught:
            storage.exists(name)
        assert isinstance(caught.value, SuspiciousFileOperation)
        assert isinstance(caught.value, InvalidKeyError)
        assert repr(name) in str(caught.value)
    assert storage.listdir("") == ([], [])  # nothing was written


def test_open_for_writing_is_refused(storage: LexigramStorage) -> None:
    with pytest.raises(InvalidArgumentError, match="save"):
        storage.open("w.txt", "wb")
    assert not storage.exists("w.txt")


def test_url_is_the_stores(backend_config: dict[str, Any]) -> None:
    config = backend_config
    if config["backends"][0]["driver"] == "local":
        config["backends"][0]["local"]["base_url"] = "https://cdn.example.test/media"
    storage = LexigramStorage(backend="data", config=config)
    try:
        url = storage.url("a b/c.txt")
        if config["backends"][0]["driver"] == "local":
            assert url == "https://cdn.example.test/media/a%20b/c.txt"
        else:
            bucket = config["backends"][0]["s3"]["bucket"]
            assert bucket in url and url.endswith("/a%20b/c.txt")
    finally:
        storage.close()


def test_configured_through_storages_setting(tmp_path: Any) -> None:
    from django.core.files.storage import default_storage, storages

    options = {"config": {"drivers": {"local": {"root_dir": str(tmp_path / "media")}}}}
    with override_settings(STORAGES={"default": {"BACKEND": BACKEND, "OPTIONS": options}}):
        assert isinstance(storages["default"], LexigramStorage)
        name = default_storage.save("avatars/me.png", ContentFile(b"png"))
        assert (tmp_path / "media" / name).read_bytes() == b"png"
        storages["default"].close()


def test_deconstructs_for_migrations(tmp_path: Any) -> None:
    storage = LexigramStorage(backend="local", config_path=str(_yaml(tmp_path)))
    path, args, kwargs = storage.deconstruct()
    assert path == BACKEND
    assert args == ()
    assert kwargs == {"backend": "local", "config_path": str(_yaml(tmp_path))}
    storage.close()


def _yaml(tmp_path: Any) -> Any:
    path = tmp_path / "storage.yaml"
    if not path.exists():
        path.write_text(f"storage:\n  drivers:\n    local:\n      root_dir: {tmp_path / 'd'}\n")
    return path


def test_a_forked_worker_gets_clients_of_its_own(storage: LexigramStorage) -> None:
    storage.save("fork/parent.txt", ContentFile(b"p"))  # the loop thread runs in the parent
    parent_store = storage.store
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork of a threaded process
        pid = os.fork()
    if pid == 0:  # the child: the parent's loop thread does not exist here
        code = 1
        try:
            # checked before any call that would wait on the parent's (absent) loop thread
            if _LOOP._loop is not None:
                code = 3
            elif storage.store is parent_store:
                code = 4
            else:
                storage.save("fork/child.txt", ContentFile(b"c"))
                code = 0 if _read(storage, "fork/parent.txt") == b"p" else 2
        finally:
            os.write(write_end, bytes([code]))
            os._exit(code)
    os.close(write_end)
    status = os.read(read_end, 1)
    os.close(read_end)
    os.waitpid(pid, 0)
    assert status == bytes([0])
    assert _read(storage, "fork/child.txt") == b"c"


def test_url_expires_makes_url_a_presigned_get(backend_config: dict[str, Any]) -> None:
    import urllib.request

    from lexigram.storage.errors import ConfigError

    config = backend_config
    local = config["backends"][0]["driver"] == "local"
    if local:
        config["backends"][0]["local"].update(
            base_url="http://127.0.0.1:8000/media", signing_key="k" * 40
        )
    storage = LexigramStorage(backend="data", config=config, url_expires=300)
    try:
        name = storage.save("docs/q4.pdf", ContentFile(b"%PDF quarterly"))
        url = storage.url(name)
        assert url.split("?")[0].endswith("/docs/q4.pdf") and "?" in url
        if local:
            assert "expires=" in url and "signature=" in url, url
        else:
            with urllib.request.urlopen(url, timeout=10) as reply:  # moto on 127.0.0.1
                assert reply.read() == b"%PDF quarterly"
    finally:
        storage.close()
    for bad in (0, -5, "300", True):
        with pytest.raises(ConfigError, match="url_expires"):
            LexigramStorage(backend="data", config=config, url_expires=bad)  # type: ignore[arg-type]
