"""The ``lexigram-storage`` command line."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import signal
import sys
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from pathlib import PurePosixPath
from typing import Any, NoReturn, TypeVar
from urllib.parse import unquote, urlsplit

import attrs
import click
from rich.console import Console

from lexigram.storage import (
    BlobInfo,
    BlobStore,
    ConfigError,
    InvalidArgumentError,
    StorageError,
    StorageProvider,
)
from lexigram.storage.cli.endpoints import Entry, FsEndpoint, StoreEndpoint
from lexigram.storage.cli.selection import Filters, has_glob, split_glob
from lexigram.storage.cli.settings import ZERO_CONFIG_SOURCE, load_config, zero_config_exists
from lexigram.storage.cli.store_urls import is_store_url
from lexigram.storage.cli.targets import Target, parse_target
from lexigram.storage.cli.transfer import Compare, Copy, Endpoint, plan_sync, run_copies
from lexigram.storage.keys import validate_key, validate_prefix

__all__ = ["main"]

T = TypeVar("T")

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_UNHEALTHY = 3
EXIT_INTERRUPTED = 130
#: standard output was closed by its reader (``| head``): quiet, as coreutils (128 + SIGPIPE)
EXIT_BROKEN_PIPE = 141
#: SIGTERM and SIGHUP stop a command as Ctrl-C does; the exit code is 128 + the signal
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Interrupted(Exception):
    """The command was stopped by a signal; everything in flight was cleaned up."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Context:
    """What every command needs: the loaded config and how to report."""

    def __init__(self, config_path: str | None, debug: bool) -> None:
        self.config_path = config_path
        self.debug = debug
        self.out = _Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)
        #: stores opened from store URLs, closed when the command ends
        self.opened: list[BlobStore] = []

    def provider(self) -> StorageProvider:
        config, _ = load_config(self.config_path)
        return StorageProvider(config=config)

    def fresh_zero_config(self) -> bool:
        """No config was found and the zero-config store does not exist yet."""
        _, source = load_config(self.config_path)
        return source == ZERO_CONFIG_SOURCE and not zero_config_exists()

    def note_zero_config(self, what: str) -> None:
        self.err.print(
            "note: no lexigram-storage.yaml and no $LEXIGRAM_STORAGE_CONFIG: " + what,
            markup=False,
        )

    def fail(self, message: str, code: int = EXIT_ERROR) -> NoReturn:
        self.err.print(f"error: {message}", markup=False)
        raise SystemExit(code)

    def run(
        self,
        make: Callable[[StorageProvider], Coroutine[Any, Any, T]],
        fresh: Callable[[], T] | None = None,
        *,
        targets: tuple[str, ...] = (),
    ) -> T:
        """Run one command against a fresh provider; turn errors into one line and an exit code.

        A read-only command passes ``fresh``: what it answers when no config was found
        and the zero-config store does not exist, so reading never creates it. When every
        one of ``targets`` is a store URL the config is not involved."""
        try:
            is_fresh = bool(not targets or not all(map(is_store_url, targets))) and (
                self.fresh_zero_config()
            )
        except ConfigError as exc:
            self.fail(str(exc), EXIT_USAGE)
        except click.UsageError as exc:
            self.fail(exc.format_message(), EXIT_USAGE)
        if is_fresh and fresh is None:
            self.note_zero_config(
                "using the zero-config default, a local store under ./storage/data"
            )

        async def body() -> T:
            loop = asyncio.get_running_loop()
            task = asyncio.current_task()
            assert task is not None
            received: list[int] = []

            def stop(signum: int) -> None:
                if not received:  # the first one cancels; cleanup is not cancelled again
                    received.append(signum)
                    task.cancel()

            for signum in STOP_SIGNALS:
                loop.add_signal_handler(signum, stop, signum)
            provider = self.provider()
            try:
                return await make(provider)
            except asyncio.CancelledError:
                if received:
                    raise Interrupted(received[0]) from None
                raise
            finally:
                try:
                    for store in self.opened:
                        await store.close()
                finally:
                    await provider.aclose()

        try:
            if is_fresh and fresh is not None:
                return fresh()
            return asyncio.run(body())
        except Interrupted as exc:
            self.err.print(
                f"interrupted by {exc}: stopped cleanly, no partial object was left",
                markup=False,
            )
            raise SystemExit(128 + exc.signum) from None
        except KeyboardInterrupt:
            self.err.print("interrupted: stopped cleanly, no partial object was left", markup=False)
            raise SystemExit(EXIT_INTERRUPTED) from None
        except SystemExit:
            raise
        except BaseException as exc:
            leaf = _first_leaf(exc)
            if _is_broken_pipe(leaf):
                pipe_closed()
            if self.debug:
                traceback.print_exception(leaf)
            if isinstance(leaf, ConfigError):
                self.fail(str(leaf), EXIT_USAGE)
            if isinstance(leaf, click.UsageError):
                self.fail(leaf.format_message(), EXIT_USAGE)
            if isinstance(leaf, StorageError | TypeError | OSError | ValueError):
                self.fail(str(leaf) or type(leaf).__name__)
            if isinstance(leaf, KeyboardInterrupt):
                self.err.print(
                    "interrupted: stopped cleanly, no partial object was left", markup=False
                )
                raise SystemExit(EXIT_INTERRUPTED) from None
            self.fail(f"{type(leaf).__name__}: {leaf} (run with --debug for the traceback)")


def _is_broken_pipe(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno == errno.EPIPE


def pipe_closed() -> NoReturn:
    """The reader of standard output is gone (``lexigram-storage cat x | head``): stop
    quietly with 141, as ``cat`` killed by SIGPIPE does; what is left to print goes to
    /dev/null so that the final flush does not complain."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    raise SystemExit(EXIT_BROKEN_PIPE)


class _Console(Console):
    """Standard output: a closed pipe ends the command as :func:`pipe_closed` says."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        pipe_closed()


class _Group(click.Group):
    """The command group; a closed standard output ends any command quietly."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OSError as exc:
            if _is_broken_pipe(exc):
                pipe_closed()
            raise


def _first_leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _info_dict(info: BlobInfo) -> dict[str, Any]:
    return {
        "path": info.path,
        "size": info.size,
        "is_prefix": info.is_prefix,
        "content_type": info.content_type,
        "last_modified": info.last_modified.isoformat() if info.last_modified else None,
        "etag": info.etag,
        "metadata": dict(info.metadata),
        **info.http_headers.fields(),
    }


def _duration(text: str) -> timedelta:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if text[-1] in units:
            return timedelta(seconds=float(text[:-1]) * units[text[-1]])
        return timedelta(seconds=float(text))
    except (ValueError, IndexError):
        raise click.BadParameter(f"{text!r} is not a duration: use e.g. 90s, 15m, 1h, 7d") from None


def _key_target(provider: StorageProvider, text: str) -> Target:
    """A ``NAME:path`` argument (or a store URL) for commands that work on backends only."""
    target = parse_target(text, provider.backend_names, default=provider.config.primary_backend)
    assert target.backend is not None or target.url is not None
    return target


def _store_key(
    ctx: Context, provider: StorageProvider, where: Target, *, directory: bool = False
) -> tuple[BlobStore, str]:
    """The store of a target and the key (or prefix) in it; a store URL's store is opened
    (and closed when the command ends)."""
    if where.url is None:
        return provider.store(where.backend), where.path
    store, key = where.url.open(directory=directory)
    ctx.opened.append(store)
    return store, key if where.url.local_path is not None else where.path


def _key_text(text: str) -> str:
    """The part of an argument that names a key: a store URL's query is no glob."""
    if not is_store_url(text):
        return text
    parts = urlsplit(text)
    return unquote(parts.netloc + parts.path)


def _store_arguments(*texts: str) -> tuple[str, ...]:
    """The arguments of ``cp``/``sync`` that address a store: a bare path (no colon) is a
    file of this machine, so ``cp a.txt s3://b/`` needs no config."""
    return tuple(t for t in texts if ":" in t)


def _shown(where: Target, key: str) -> str:
    """``key`` of the target's store as messages show it (a URL without its secrets)."""
    return where.url.show(key) if where.url is not None else f"{where.backend}:{key}"


_FRESH_STORE = "; no store under ./storage/data yet (the zero-config default)"


def _fresh_target(text: str) -> Target:
    return parse_target(text, ["local"], default="local")


def _nothing_under(where: Target) -> str:
    if where.url is not None:
        return f"nothing matches {where}: no object or prefix there"
    return (
        f"nothing matches {where}: no object or prefix {where.path!r} in backend {where.backend!r}"
    )


def _no_object(text: str) -> NoReturn:
    where = _fresh_target(text)
    validate_key(where.path)
    raise StorageError(f"No object {where.path!r} in backend 'local'{_FRESH_STORE}")


pass_ctx = click.make_pass_decorator(Context)


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Installed by the distribution lexigram-storage-kit (not the unrelated "
    "lexigram-storage on PyPI). Documentation: https://lexigram.github.io/lexigram-storage/cli/",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="YAML file with a storage: section. Default: ./lexigram-storage.yaml, else "
    "$LEXIGRAM_STORAGE_CONFIG, else a local store under ./storage/data.",
)
@click.option("--debug", is_flag=True, help="Show the traceback of errors.")
@click.version_option(package_name="lexigram-storage-kit", message="%(package)s %(version)s")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, debug: bool) -> None:
    """One command line for every configured storage backend.

    Objects are addressed as NAME:path, where NAME is a backend of the config
    (e.g. local:reports/q4.csv, s3:exports/), or as store URLs (s3://bucket/key,
    gs://bucket/prefix/, az://container/key?account_name=..., file:///abs/path); a bare
    path means the default backend, except for cp and sync, where a bare path is a file
    or folder on this machine.
    """
    ctx.obj = Context(config_path, debug)


_no_metadata = click.option(
    "--no-metadata",
    is_flag=True,
    help="Do not carry the content type, metadata and HTTP headers over (a local file: its "
    "guessed type).",
)
_include = click.option(
    "--include",
    multiple=True,
    metavar="PATTERN",
    help="Take only paths matching PATTERN (glob; repeatable).",
)
_exclude = click.option(
    "--exclude",
    multiple=True,
    metavar="PATTERN",
    help="Leave out paths matching PATTERN (glob; repeatable).",
)


@main.command("ls")
@click.argument("target", required=False, default="")
@click.option("-r", "--recursive", is_flag=True, help="List everything under the prefix.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@_include
@_exclude
@pass_ctx
def ls_command(
    ctx: Context,
    target: str,
    recursive: bool,
    as_json: bool,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
) -> None:
    """List objects under a prefix (folders first-level only, unless -r), or those a glob
    matches (ls 'local:logs/2026-*.gz')."""

    async def run(provider: StorageProvider) -> None:
        where = _key_target(provider, target)
        store, path = _store_key(ctx, provider, where, directory=True)
        base, glob = split_glob(path)
        filters = Filters(include, exclude, glob)
        prefix = base
        if glob is None and prefix and not prefix.endswith("/") and not await store.exists(prefix):
            prefix += "/"
        # a pattern looks at every path below the folder
        deep = recursive or glob is not None or bool(include or exclude)
        found = 0
        async for info in store.list(prefix, delimiter=None if deep else "/"):
            rel = info.path[len(prefix) :] if prefix.endswith("/") else info.path[len(base) :]
            if filters and not info.is_prefix and not filters.wanted(rel):
                continue
            found += 1
            if as_json:
                ctx.out.print(json.dumps(_info_dict(info)), markup=False)
            elif info.is_prefix:
                ctx.out.print(f"{'DIR':>10}  {'':19}  {info.path}", markup=False)
            else:
                when = (
                    info.last_modified.strftime("%Y-%m-%d %H:%M:%S") if info.last_modified else ""
                )
                ctx.out.print(f"{_human(info.size):>10}  {when:19}  {info.path}", markup=False)
        names_a_place = where.url is not None and bool(where.url.key or where.url.local_path)
        if not found and (path or filters or names_a_place):
            raise StorageError(_nothing_under(where))

    def fresh() -> None:
        where = _fresh_target(target)
        validate_prefix(where.path)
        if where.path:
            raise StorageError(_nothing_under(where) + _FRESH_STORE)
        ctx.note_zero_config(_FRESH_STORE.strip("; "))

    ctx.run(run, fresh, targets=(target,))


@main.command("stat")
@click.argument("target")
@click.option("--json", "as_json", is_flag=True, help="The JSON object on one line.")
@pass_ctx
def stat_command(ctx: Context, target: str, as_json: bool) -> None:
    """Show an object's size, content type, last modified time, etag and metadata."""

    async def run(provider: StorageProvider) -> None:
        store, key = _store_key(ctx, provider, _key_target(provider, target))
        info = await store.info(key)
        ctx.out.print(json.dumps(_info_dict(info), indent=None if as_json else 2), markup=False)

    ctx.run(run, lambda: _no_object(target), targets=(target,))


@main.command("cat")
@click.argument("target")
@pass_ctx
def cat_command(ctx: Context, target: str) -> None:
    """Write an object's bytes to standard output."""

    async def run(provider: StorageProvider) -> None:
        store, key = _store_key(ctx, provider, _key_target(provider, target))
        out = sys.stdout.buffer
        async for chunk in store.stream(key):
            out.write(chunk)
        out.flush()

    ctx.run(run, lambda: _no_object(target), targets=(target,))


@main.command("rm")
@click.argument("targets", nargs=-1, required=True)
@click.option("-r", "--recursive", is_flag=True, help="Delete everything under the prefix.")
@click.option("--yes", is_flag=True, help="Confirm a recursive or glob delete.")
@click.option("--dry-run", is_flag=True, help="Print what would be deleted, delete nothing.")
@click.option(
    "-j",
    "--concurrency",
    default=4,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Bulk delete calls in flight at once.",
)
@_include
@_exclude
@pass_ctx
def rm_command(
    ctx: Context,
    targets: tuple[str, ...],
    recursive: bool,
    yes: bool,
    dry_run: bool,
    concurrency: int,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
) -> None:
    """Delete objects (a missing object is not an error), everything under a prefix (-r),
    or what a glob matches (rm --yes 'local:tmp/*.part')."""
    many = recursive or any(has_glob(_key_text(t)) for t in targets)
    if many and not yes and not dry_run:
        ctx.fail(
            "rm --recursive (or a glob) deletes every object it matches: add --yes to "
            "confirm, or --dry-run to see them",
            EXIT_USAGE,
        )

    async def run(provider: StorageProvider) -> None:
        for text in targets:
            where = _key_target(provider, text)
            store, path = _store_key(ctx, provider, where, directory=recursive)
            base, glob = split_glob(path)
            if not recursive and glob is None:
                if dry_run:
                    if await store.exists(path):
                        ctx.out.print(f"would delete {where}", markup=False)
                else:
                    await store.delete(path)
                continue
            prefix = base if not base or base.endswith("/") or glob else base + "/"
            filters = Filters(include, exclude, glob)
            keys = [
                info.path
                async for info in store.list(prefix)
                if filters.wanted(info.path[len(prefix) :])
            ]
            if glob is not None and not keys:
                raise StorageError(_nothing_under(where))
            if dry_run:
                for key in keys:
                    ctx.out.print(f"would delete {_shown(where, key)}", markup=False)
                ctx.err.print(f"would delete {len(keys)} object(s) under {where}", markup=False)
                continue
            await _delete_concurrently(store, keys, concurrency)
            ctx.err.print(f"deleted {len(keys)} object(s) under {where}", markup=False)

    ctx.run(run, targets=targets)


async def _delete_concurrently(store: Any, keys: list[str], concurrency: int) -> None:
    """``delete_many`` in batches, ``concurrency`` batches at a time."""
    batch = 1000
    gate = asyncio.Semaphore(concurrency)

    async def one(part: list[str]) -> None:
        async with gate:
            await store.delete_many(part)

    async with asyncio.TaskGroup() as group:
        for start in range(0, len(keys), batch):
            group.create_task(one(keys[start : start + batch]))


@main.command("url")
@click.argument("target")
@click.option("--presign", is_flag=True, help="A signed, expiring URL instead of the public one.")
@click.option(
    "--expires",
    default="1h",
    show_default=True,
    help="Lifetime of a presigned URL (90s, 15m, 1h, 7d).",
)
@click.option(
    "--method",
    type=click.Choice(["GET", "PUT"], case_sensitive=False),
    default="GET",
    show_default=True,
)
@pass_ctx
def url_command(ctx: Context, target: str, presign: bool, expires: str, method: str) -> None:
    """Print the public URL of an object, or a presigned one."""
    lifetime = _duration(expires)

    async def run(provider: StorageProvider) -> None:
        store, key = _store_key(ctx, provider, _key_target(provider, target))
        if presign:
            url = await store.get_presigned_url(key, lifetime, method=method.upper())
        else:
            url = await store.get_url(key)
        ctx.out.print(url, markup=False)

    ctx.run(run, targets=(target,))


@main.command("health")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def health_command(ctx: Context, as_json: bool) -> None:
    """Check every backend; the exit code is 3 if one is unhealthy."""

    async def run(provider: StorageProvider) -> bool:
        results = await provider.health_check()
        for name, status in results.items():
            if as_json:
                ctx.out.print(
                    json.dumps(
                        {
                            "backend": name,
                            "healthy": status.healthy,
                            "latency_ms": round(status.latency_ms, 2),
                            "detail": status.detail,
                        }
                    ),
                    markup=False,
                )
            else:
                mark = "ok  " if status.healthy else "FAIL"
                ctx.out.print(
                    f"{mark} {name:20} {status.latency_ms:8.1f} ms  {status.detail}", markup=False
                )
        return all(s.healthy for s in results.values())

    def fresh() -> bool:
        ctx.note_zero_config(_FRESH_STORE.strip("; "))
        healthy = os.access(".", os.W_OK)
        detail = "not created yet" if healthy else "this folder is not writable"
        if as_json:
            row = {"backend": "local", "healthy": healthy, "latency_ms": 0.0, "detail": detail}
            ctx.out.print(json.dumps(row), markup=False)
        else:
            mark = "ok  " if healthy else "FAIL"
            ctx.out.print(f"{mark} {'local':20} {0.0:8.1f} ms  {detail}", markup=False)
        return healthy

    if not ctx.run(run, fresh):
        raise SystemExit(EXIT_UNHEALTHY)


@main.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("check")
@click.option(
    "--environment", default=None, help="Environment to check for (default: $LEXIGRAM_ENV)."
)
@pass_ctx
def config_check(ctx: Context, environment: str | None) -> None:
    """Validate the config and run the production security check."""
    try:
        config, source = load_config(ctx.config_path)
    except ConfigError as exc:
        ctx.fail(str(exc), EXIT_USAGE)
    env = environment if environment is not None else os.environ.get("LEXIGRAM_ENV", "")
    ctx.out.print(f"config: {source}", markup=False)
    for name, backend in config.resolved_backends().items():
        mark = " (default)" if name == config.primary_backend else ""
        ctx.out.print(f"  backend {name}: driver {backend.driver}{mark}", markup=False)
    try:
        findings = config.validate_production_security(env)
    except ConfigError as exc:
        ctx.fail(str(exc), EXIT_USAGE)
    for finding in findings:
        ctx.out.print(f"  warning: {finding}", markup=False)
    ctx.out.print(
        f"ok ({len(findings)} warning(s) for environment {env or 'unset'!r})", markup=False
    )


def _endpoint(ctx: Context, provider: StorageProvider, text: str) -> tuple[Endpoint, str | None]:
    """The endpoint of an argument, and the glob of its last segments (if any)."""
    target = parse_target(text, provider.backend_names)
    url = target.url
    path = url.local_path if url is not None and url.local_path is not None else target.path
    base, glob = split_glob(path)
    if url is not None and url.local_path is None:
        store, _ = _store_key(ctx, provider, target)
        return StoreEndpoint(url.show(""), store, base, url.show), glob
    if target.backend is None:
        return FsEndpoint(base if glob is None else base or "."), glob
    return StoreEndpoint(target.backend, provider.store(target.backend), base), glob


def _selected(entries: dict[str, Entry], filters: Filters) -> dict[str, Entry]:
    return {rel: e for rel, e in entries.items() if filters.wanted(rel)} if filters else entries


async def _plan_copy(
    source: Endpoint, dest: Endpoint, recursive: bool, filters: Filters
) -> list[Copy]:
    if not recursive and filters.glob is None:
        entry = await source.single()
        if entry is None:
            raise InvalidArgumentError(
                f"{source.describe()} is not a file or object (use -r to copy a folder or prefix)"
            )
        name = PurePosixPath(source.key("")).name
        into_folder = (isinstance(dest, FsEndpoint) and dest.root.is_dir()) or (
            isinstance(dest, StoreEndpoint) and (not dest.prefix or dest.prefix.endswith("/"))
        )
        dst_rel = name if into_folder else ""
        return [Copy("", dst_rel, entry.size, entry.modified)]
    entries = _selected(await source.entries(), filters)
    if not entries and filters.glob is not None:
        raise StorageError(f"nothing matches {source.describe(filters.glob)}")
    return [Copy(rel, rel, e.size, e.modified) for rel, e in entries.items()]


def _copy_line(source: Endpoint, dest: Endpoint, item: Copy, action: str) -> str:
    return json.dumps(
        {
            "action": action,
            "source": source.describe(item.src_rel),
            "destination": dest.describe(item.dst_rel),
            "size": item.size,
        }
    )


@main.command("cp")
@click.argument("src")
@click.argument("dst")
@click.option(
    "-r",
    "--recursive",
    is_flag=True,
    help="Copy every object under a prefix / every file under a folder.",
)
@click.option("-j", "--concurrency", default=8, show_default=True, type=click.IntRange(1, 256))
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@_no_metadata
@click.option("--dry-run", is_flag=True, help="Print what would be copied, copy nothing.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per copy on stdout.")
@_include
@_exclude
@pass_ctx
def cp_command(
    ctx: Context,
    src: str,
    dst: str,
    recursive: bool,
    concurrency: int,
    quiet: bool,
    no_metadata: bool,
    dry_run: bool,
    as_json: bool,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
) -> None:
    """Copy between this machine and a backend, or between two backends (streamed).
    SRC may end in a glob: cp 'local:logs/2026-*.gz' ./logs"""

    async def run(provider: StorageProvider) -> None:
        source, glob = _endpoint(ctx, provider, src)
        dest, dest_glob = _endpoint(ctx, provider, dst)
        if dest_glob is not None:
            raise click.UsageError(f"DST {dst!r} has a glob: name a folder or prefix")
        if isinstance(source, FsEndpoint) and isinstance(dest, FsEndpoint):
            raise InvalidArgumentError(
                "both SRC and DST are local paths: name a backend as NAME:path or give a "
                "store URL (s3://bucket/key)"
            )
        copies = await _plan_copy(source, dest, recursive, Filters(include, exclude, glob))
        if dry_run:
            for item in copies:
                ctx.out.print(
                    _copy_line(source, dest, item, "would copy")
                    if as_json
                    else f"would copy {source.describe(item.src_rel)} -> "
                    f"{dest.describe(item.dst_rel)}",
                    markup=False,
                )
            ctx.err.print(
                f"would copy {len(copies)} object(s), {_human(sum(c.size for c in copies))}",
                markup=False,
            )
            return
        await run_copies(
            source,
            dest,
            copies,
            concurrency=concurrency,
            console=ctx.err,
            show_progress=not quiet and ctx.err.is_terminal and ctx.out.is_terminal,
            keep_metadata=not no_metadata,
            on_done=(
                (lambda item: ctx.out.print(_copy_line(source, dest, item, "copy"), markup=False))
                if as_json
                else None
            ),
        )
        ctx.err.print(
            f"copied {len(copies)} object(s), {_human(sum(c.size for c in copies))}, "
            "sizes verified",
            markup=False,
        )

    ctx.run(run, targets=_store_arguments(src, dst))


@main.command("sync")
@click.argument("src")
@click.argument("dst")
@click.option("--delete", is_flag=True, help="Delete what is in DST but not in SRC.")
@click.option("--dry-run", is_flag=True, help="Print what would be done, change nothing.")
@click.option("-j", "--concurrency", default=8, show_default=True, type=click.IntRange(1, 256))
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@_no_metadata
@click.option(
    "--checksum",
    is_flag=True,
    help="Compare MD5s where both sides have one (local files, S3 single-part objects), "
    "else sizes; ignore times.",
)
@click.option("--size-only", is_flag=True, help="Compare sizes only; ignore times.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per action on stdout.")
@_include
@_exclude
@pass_ctx
def sync_command(
    ctx: Context,
    src: str,
    dst: str,
    delete: bool,
    dry_run: bool,
    concurrency: int,
    quiet: bool,
    no_metadata: bool,
    checksum: bool,
    size_only: bool,
    as_json: bool,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
) -> None:
    """Make DST hold what SRC holds, copying only what differs (size, etag or mtime).
    Paths that --include/--exclude leave out are neither copied nor deleted."""
    if checksum and size_only:
        ctx.fail("--checksum and --size-only exclude each other: pick one", EXIT_USAGE)
    compare: Compare = "checksum" if checksum else "size" if size_only else "time"

    async def run(provider: StorageProvider) -> None:
        source, glob = _endpoint(ctx, provider, src)
        dest, dest_glob = _endpoint(ctx, provider, dst)
        if dest_glob is not None:
            raise click.UsageError(f"DST {dst!r} has a glob: name a folder or prefix")
        filters = Filters(include, exclude, glob)
        same_kind = (
            isinstance(source, StoreEndpoint)
            and isinstance(dest, StoreEndpoint)
            and source.store.driver_name == dest.store.driver_name
        )
        src_entries = _selected(await source.entries(), filters)
        dst_entries = _selected(await dest.entries(), filters)
        if compare == "checksum":
            src_entries, dst_entries = await _with_md5(source, dest, src_entries, dst_entries)
        plan = plan_sync(
            src_entries, dst_entries, delete=delete, same_backend_kind=same_kind, compare=compare
        )
        would = "would " if dry_run else ""
        for item in plan.copies:
            ctx.out.print(
                _copy_line(source, dest, item, would + "copy")
                if as_json
                else f"{would}copy {item.src_rel}",
                markup=False,
            )
        for rel in plan.deletes:
            ctx.out.print(
                json.dumps({"action": would + "delete", "destination": dest.describe(rel)})
                if as_json
                else f"{would}delete {rel}",
                markup=False,
            )
        if not dry_run:
            await run_copies(
                source,
                dest,
                plan.copies,
                concurrency=concurrency,
                console=ctx.err,
                show_progress=not quiet and ctx.err.is_terminal and ctx.out.is_terminal,
                keep_metadata=not no_metadata,
            )
            for rel in plan.deletes:
                await dest.delete(rel)
        verb = "would copy" if dry_run else "copied"
        ctx.err.print(
            f"{verb} {len(plan.copies)}, "
            f"{'would delete' if dry_run else 'deleted'} {len(plan.deletes)}, "
            f"unchanged {plan.unchanged}",
            markup=False,
        )

    ctx.run(run, targets=_store_arguments(src, dst))


async def _with_md5(
    source: Endpoint, dest: Endpoint, src: dict[str, Entry], dst: dict[str, Entry]
) -> tuple[dict[str, Entry], dict[str, Entry]]:
    """The entries with their MD5 where both sides may compare one (same size on both)."""
    both = [rel for rel, e in src.items() if rel in dst and dst[rel].size == e.size]
    src, dst = dict(src), dict(dst)
    for rel in both:
        src[rel] = attrs.evolve(src[rel], md5=await source.md5_of(src[rel]))
        dst[rel] = attrs.evolve(dst[rel], md5=await dest.md5_of(dst[rel]))
    return src, dst


@main.command("serve")
@click.argument("target", default="local:")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (only this machine by default).",
)
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port (0: any free one).",
)
@pass_ctx
def serve_command(ctx: Context, target: str, host: str, port: int) -> None:
    """Serve a local backend over HTTP: GET/HEAD/Range and presigned GET/PUT URLs
    (needs the serve extra: pip install 'lexigram-storage-kit[serve]')."""

    async def run(provider: StorageProvider) -> None:
        from lexigram.storage.cli.serve import serve

        where = _key_target(provider, target)
        if where.url is not None:
            raise click.UsageError(
                f"serve takes a backend of the config (NAME:), not a store URL ({where}): "
                "it needs the backend's base_url and signing_key, which belong in the config"
            )
        if where.path:
            raise click.UsageError(f"serve takes a backend (NAME:), not a path: {target!r}")
        stopped_by = await serve(
            provider,
            where.backend or "",
            host,
            port,
            lambda line: ctx.err.print(line, markup=False),
        )
        if stopped_by:
            raise Interrupted(stopped_by)  # stopped gracefully; the exit code tells by what

    ctx.run(run)


@main.group("kv")
def kv_group() -> None:
    """The configured key-value store."""


def _kv(
    ctx: Context,
    action: Callable[[Any], Awaitable[None]],
    fresh: Callable[[], None] | None = None,
) -> None:
    async def run(provider: StorageProvider) -> None:
        if provider.config.kv is None:
            raise ConfigError(
                "the config has no kv: section, so the KV store would vanish with this "
                "process: add kv: {backend: local, path: ./var/kv.jsonl} under storage:"
            )
        await action(provider.kv())

    ctx.run(run, fresh)


@kv_group.command("get")
@click.argument("key")
@pass_ctx
def kv_get(ctx: Context, key: str) -> None:
    """Print a key's JSON value (exit code 1 if absent)."""

    async def action(kv: Any) -> None:
        marker = object()
        value = await kv.get(key, marker)
        if value is marker:
            raise StorageError(f"no key {key!r} in the KV store")
        ctx.out.print(json.dumps(value), markup=False)

    def fresh() -> None:
        raise StorageError(f"no key {key!r} in the KV store{_FRESH_STORE}")

    _kv(ctx, action, fresh)


@kv_group.command("set")
@click.argument("key")
@click.argument("value")
@click.option("--ttl", type=float, default=None, help="Seconds until the key expires.")
@click.option("--string", "as_string", is_flag=True, help="Store VALUE as a string, not as JSON.")
@pass_ctx
def kv_set(ctx: Context, key: str, value: str, ttl: float | None, as_string: bool) -> None:
    """Set a key to a JSON value (or a string with --string)."""
    if as_string:
        parsed: Any = value
    else:
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            ctx.fail(
                f"VALUE {value!r} is not JSON: quote strings ('\"text\"') or pass --string",
                EXIT_USAGE,
            )

    async def action(kv: Any) -> None:
        await kv.set(key, parsed, ttl=ttl)

    _kv(ctx, action)


@kv_group.command("del")
@click.argument("keys", nargs=-1, required=True)
@pass_ctx
def kv_del(ctx: Context, keys: tuple[str, ...]) -> None:
    """Delete keys."""

    async def action(kv: Any) -> None:
        for key in keys:
            await kv.delete(key)

    _kv(ctx, action)


@kv_group.command("keys")
@click.argument("prefix", required=False, default="")
@pass_ctx
def kv_keys(ctx: Context, prefix: str) -> None:
    """List keys, optionally under a prefix."""

    async def action(kv: Any) -> None:
        for key in await kv.keys(prefix):
            ctx.out.print(key, markup=False)

    _kv(ctx, action, lambda: ctx.note_zero_config(_FRESH_STORE.strip("; ")))
