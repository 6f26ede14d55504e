"""An fsspec filesystem over the configured backends: ``lexigram://<backend>/<key>``.

Install the ``fsspec`` extra (``pip install 'lexigram-storage-core[fsspec]'``); the
protocol ``lexigram`` is registered through fsspec's ``fsspec.specs`` entry point, so
pandas, pyarrow, dask and every other fsspec user can read and write any backend::

    pd.read_csv("lexigram://reports/2026/q1.csv",
                storage_options={"config_path": "storage.yaml"})

The configuration comes from ``storage_options``: ``config=`` (a ``StorageConfig`` or the
mapping of its ``storage:`` section) or ``config_path=`` (a YAML file), else from the YAML
file named by ``$LEXIGRAM_STORAGE_CONFIG``. Directories are virtual: a directory exists
while some key lies under its prefix.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from fsspec.asyn import AsyncFileSystem, sync
from fsspec.spec import AbstractBufferedFile

from lexigram.storage.config import StorageConfig
from lexigram.storage.errors import BlobNotFoundError, ConfigError, InvalidArgumentError
from lexigram.storage.info import BlobInfo
from lexigram.storage.provider import StorageProvider
from lexigram.storage.store import BlobStore

__all__ = ["CONFIG_ENV", "LexigramFile", "LexigramFileSystem"]

#: the environment variable naming a YAML config file, used when neither ``config=`` nor
#: ``config_path=`` is given.
CONFIG_ENV = "LEXIGRAM_STORAGE_CONFIG"


def _load_config(
    config: StorageConfig | Mapping[str, Any] | None, config_path: Any
) -> StorageConfig:
    if config is not None and config_path is not None:
        raise ConfigError(
            "lexigram:// takes config= or config_path= in storage_options, not both: drop one"
        )
    if isinstance(config, StorageConfig):
        return config
    if isinstance(config, Mapping):
        return StorageConfig.from_dict(config, path="$.storage_options.config")
    if config is not None:
        raise ConfigError(
            "lexigram:// storage_options config= must be a StorageConfig or the mapping of a "
            f"'storage:' section, not {type(config).__name__}"
        )
    if config_path is None:
        config_path = os.environ.get(CONFIG_ENV)
        if not config_path:
            raise ConfigError(
                "lexigram:// has no storage configuration: pass storage_options "
                f"config=... or config_path=..., or set ${CONFIG_ENV} to a YAML file"
            )
    if not isinstance(config_path, str | Path):
        raise ConfigError(
            "lexigram:// storage_options config_path= must be a path (str), not "
            f"{type(config_path).__name__}"
        )
    return StorageConfig.from_yaml(config_path)


class LexigramFileSystem(AsyncFileSystem):  # type: ignore[misc]
    """fsspec filesystem for ``lexigram://<backend>/<key>`` over a :class:`StorageProvider`.

    Works from sync code (fsspec runs it on its own event loop thread) and, with
    ``asynchronous=True``, from a running event loop.
    """

    protocol = ("lexigram",)
    root_marker = ""
    async_impl = True
    sep = "/"

    def __init__(
        self,
        *args: Any,
        config: StorageConfig | Mapping[str, Any] | None = None,
        config_path: str | Path | None = None,
        provider: StorageProvider | None = None,
        default_block_size: int | None = None,
        default_cache_type: str = "readahead",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.default_block_size = default_block_size or LexigramFile.DEFAULT_BLOCK_SIZE
        self.default_cache_type = default_cache_type
        self.provider = (
            provider if provider is not None else StorageProvider(_load_config(config, config_path))
        )

    # -- paths ----------------------------------------------------------------------------

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        text = str(path)
        if text.startswith("lexigram://"):
            text = text[len("lexigram://") :]
        elif text.startswith("lexigram:"):
            text = text[len("lexigram:") :]
        return text.strip("/")

    def _split(self, path: str) -> tuple[BlobStore, str]:
        path = self._strip_protocol(path)
        if not path:
            raise InvalidArgumentError(
                "a lexigram:// path names a backend first: lexigram://<backend>/<key> "
                f"(backends: {', '.join(self.provider.backend_names)})"
            )
        backend, _, key = path.partition("/")
        return self.provider.store(backend), key

    @staticmethod
    def _file_entry(backend: str, info: BlobInfo) -> dict[str, Any]:
        return {
            "name": f"{backend}/{info.path}",
            "size": info.size,
            "type": "file",
            "content_type": info.content_type,
            "last_modified": info.last_modified,
            "etag": info.etag,
            "metadata": dict(info.metadata),
        }

    @staticmethod
    def _dir_entry(name: str) -> dict[str, Any]:
        return {"name": name, "size": 0, "type": "directory"}

    # -- reading metadata -----------------------------------------------------------------

    async def _info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        store, key = self._split(path)
        backend = store.name
        if not key:
            return self._dir_entry(backend)
        try:
            return self._file_entry(backend, await store.info(key))
        except BlobNotFoundError:
            pass
        async for _ in store.list(key + "/"):
            return self._dir_entry(f"{backend}/{key}")
        raise FileNotFoundError(path)

    async def _ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        path = self._strip_protocol(path)
        if not path:
            entries = [self._dir_entry(n) for n in self.provider.backend_names]
        else:
            store, key = self._split(path)
            backend = store.name
            prefix = key + "/" if key else ""
            entries = []
            async for info in store.list(prefix, delimiter="/"):
                if info.is_prefix:
                    entries.append(self._dir_entry(f"{backend}/{info.path.rstrip('/')}"))
                else:
                    entries.append(self._file_entry(backend, info))
            if not entries and key:
                # ls of a file lists that file, as on every fsspec filesystem
                entries = [self._file_entry(backend, await store.info(key))]
        return entries if detail else sorted(e["name"] for e in entries)

    async def _find(
        self,
        path: str,
        maxdepth: int | None = None,
        withdirs: bool = False,
        detail: bool = False,
        **kwargs: Any,
    ) -> Any:
        if maxdepth is not None and maxdepth < 1:
            raise ValueError("maxdepth must be at least 1")
        path = self._strip_protocol(path)
        if not path:
            out: dict[str, dict[str, Any]] = {}
            for name in self.provider.backend_names:
                found = await self._find(name, maxdepth=maxdepth, withdirs=withdirs, detail=True)
                out.update(found)
            if withdirs and maxdepth is None:
                out.update({n: self._dir_entry(n) for n in self.provider.backend_names})
            return out if detail else sorted(out)
        store, key = self._split(path)
        backend = store.name
        prefix = key + "/" if key else ""
        out = {}
        base = backend + ("/" + key if key else "")
        async for info in store.list(prefix):
            rel = info.path[len(prefix) :]
            depth = rel.count("/") + 1
            if withdirs:
                parts = rel.split("/")[:-1]
                for i in range(1, len(parts) + 1):
                    if maxdepth is None or i <= maxdepth:
                        name = f"{base}/{'/'.join(parts[:i])}"
                        out.setdefault(name, self._dir_entry(name))
            if maxdepth is None or depth <= maxdepth:
                entry = self._file_entry(backend, info)
                out[entry["name"]] = entry
        if key and not out:
            with contextlib.suppress(BlobNotFoundError):
                out[base] = self._file_entry(backend, await store.info(key))
        elif key and withdirs:
            out[base] = self._dir_entry(base)
        ordered = dict(sorted(out.items()))
        return ordered if detail else list(ordered)

    async def _exists(self, path: str, **kwargs: Any) -> bool:
        try:
            await self._info(path)
        except FileNotFoundError:
            return False
        return True

    # -- reading data ---------------------------------------------------------------------

    async def _cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        store, key = self._split(path)
        if not key:
            raise IsADirectoryError(path)
        if start is None and end is None:
            return await store.download(key)
        if (start is not None and start < 0) or (end is not None and end < 0):
            size = (await store.info(key)).size
            if start is not None and start < 0:
                start = max(0, size + start)
            if end is not None and end < 0:
                end = max(0, size + end)
        first = start or 0
        if end is not None and end < first:
            return b""
        return await store.download(key, range=(first, end))

    async def _get_file(self, rpath: str, lpath: str, **kwargs: Any) -> None:
        if os.path.isdir(lpath):  # noqa: ASYNC240 (a local stat, as fsspec's own do)
            return
        store, key = self._split(rpath)
        chunks = store.stream(key)
        # the first chunk before the local file: a missing object leaves no empty file
        first = await anext(chunks, b"")
        with open(lpath, "wb") as out:  # noqa: ASYNC230 (a local file, as fsspec's own do)
            out.write(first)
            async for chunk in chunks:
                out.write(chunk)

    # -- writing --------------------------------------------------------------------------

    async def _pipe_file(
        self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any
    ) -> None:
        store, key = self._split(path)
        await store.upload(key, bytes(value), mode="create" if mode == "create" else "overwrite")

    async def _put_file(
        self, lpath: str, rpath: str, mode: str = "overwrite", **kwargs: Any
    ) -> None:
        if os.path.isdir(lpath):  # noqa: ASYNC240 (a local stat, as fsspec's own do)
            return  # directories are virtual
        store, key = self._split(rpath)
        with open(lpath, "rb") as source:  # noqa: ASYNC230 (a local file, as fsspec's own do)
            await store.upload(
                key,
                source,
                size=os.fstat(source.fileno()).st_size,
                mode="create" if mode == "create" else "overwrite",
            )

    async def _upload_from(self, path: str, source: IO[bytes], size: int) -> None:
        store, key = self._split(path)
        await store.upload(key, source, size=size)

    async def _rm_file(self, path: str, **kwargs: Any) -> None:
        store, key = self._split(path)
        await store.info(key)  # a missing file is FileNotFoundError, as on a local disk
        await store.delete(key)

    async def _rm(
        self,
        path: Any,
        recursive: bool = False,
        maxdepth: int | None = None,
        batch_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        paths = path if isinstance(path, list) else [path]
        files: dict[str, None] = {}
        for p in paths:
            p = self._strip_protocol(p)
            if not recursive or any(c in p for c in "*?["):  # a glob, or one file
                for found in await self._expand_path(p, recursive=recursive, maxdepth=maxdepth):
                    if await self._isfile(found):
                        files[found] = None
                continue
            # one flat listing for the whole tree (and the path itself, when a file)
            found_files = await self._find(p, maxdepth=maxdepth)
            if not found_files:
                raise FileNotFoundError(p)
            files.update(dict.fromkeys(found_files))
        by_backend: dict[str, list[str]] = {}
        for name in files:
            store, key = self._split(name)
            by_backend.setdefault(store.name, []).append(key)
        for backend, keys in by_backend.items():
            await self.provider.store(backend).delete_many(keys)

    async def _isfile(self, path: str) -> bool:
        try:
            entry = await self._info(path)
        except FileNotFoundError:
            return False
        return bool(entry["type"] == "file")

    async def _mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        """Directories are virtual: nothing to create."""

    async def _makedirs(self, path: str, exist_ok: bool = False) -> None:
        """Directories are virtual: nothing to create."""

    # -- file objects ---------------------------------------------------------------------

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        cache_type: str | None = None,
        **kwargs: Any,
    ) -> LexigramFile:
        return LexigramFile(
            self,
            path,
            mode=mode,
            block_size=block_size or self.default_block_size,
            cache_type=cache_type or self.default_cache_type,
            autocommit=autocommit,
            cache_options=cache_options,
            **kwargs,
        )

    async def _close(self) -> None:
        self._cache.pop(getattr(self, "_fs_token", None), None)
        await self.provider.aclose()

    def close(self) -> None:
        """Close the provider's stores (from sync code). fsspec then builds a new
        filesystem for the same options instead of handing out this one."""
        self._cache.pop(getattr(self, "_fs_token", None), None)
        sync(self.loop, self._close)


class LexigramFile(AbstractBufferedFile):  # type: ignore[misc]
    """A file on a ``lexigram://`` path: ranged reads in ``rb`` (only the blocks asked
    for are fetched), one upload on ``close()`` in ``wb``."""

    fs: LexigramFileSystem

    def _fetch_range(self, start: int, end: int) -> bytes:
        data: bytes = sync(self.fs.loop, self.fs._cat_file, self.path, start, end)
        return data

    def _initiate_upload(self) -> None:
        # the parts wait in a spooled file (memory up to 8 MiB, then disk) until close()
        self._parts: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 (closed on upload)
            max_size=8 * 1024 * 1024
        )

    def _upload_chunk(self, final: bool = False) -> bool:
        self._parts.write(self.buffer.getvalue())
        if final:
            size = self._parts.tell()
            self._parts.seek(0)
            try:
                sync(self.fs.loop, self.fs._upload_from, self.path, self._parts, size)
            finally:
                self._parts.close()
        return True

    def discard(self) -> None:
        """Drop what was written: nothing is uploaded."""
        parts = getattr(self, "_parts", None)
        if parts is not None:
            parts.close()
