"""Blocking methods generated from an async protocol: one per coroutine method (returning
its result) and one per async-iterator method (returning a plain iterator)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from typing import Any

from lexigram.storage.sync.runner import LoopThread

__all__ = ["MirrorBase", "chunks_from", "mirrored_methods", "protocol_methods"]

#: never mirrored: the blocking classes define their own lifecycle.
_LIFECYCLE = frozenset({"close", "aclose", "__aenter__", "__aexit__"})


def _is_async_iterator(fn: Callable[..., Any]) -> bool:
    returns = fn.__annotations__.get("return", "")
    text = returns if isinstance(returns, str) else getattr(returns, "__name__", str(returns))
    return text.startswith(("AsyncIterator", "AsyncIterable", "AsyncGenerator"))


def protocol_methods(protocol: type) -> dict[str, str]:
    """The public methods of an async protocol the blocking mirror covers, by name:
    ``"call"`` for a coroutine method, ``"iterate"`` for an async-iterator one."""
    found: dict[str, str] = {}
    for name, fn in inspect.getmembers(protocol, inspect.isfunction):
        if name.startswith("_") or name in _LIFECYCLE:
            continue
        if inspect.iscoroutinefunction(fn):
            found[name] = "call"
        elif _is_async_iterator(fn):
            found[name] = "iterate"
    return found


class MirrorBase:
    """What a generated method needs: the async object and the loop thread."""

    _target: Any
    _runner: LoopThread
    _label: str


def _body_parameters(fn: Callable[..., Any]) -> tuple[inspect.Signature | None, list[str]]:
    """The parameters of ``fn`` that take upload data (annotated ``BlobData``)."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # pragma: no cover - protocol stubs always have one
        return None, []
    names = [p.name for p in signature.parameters.values() if "BlobData" in str(p.annotation)]
    return (signature if names else None), names


def _call(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    signature, bodies = _body_parameters(fn)

    def method(self: MirrorBase, /, *args: Any, **kwargs: Any) -> Any:
        target = self._target
        if signature is not None:
            bound = signature.bind_partial(self, *args, **kwargs)
            for param in bodies:
                if param in bound.arguments:
                    bound.arguments[param] = chunks_from(bound.arguments[param])
            args, kwargs = bound.args[1:], bound.kwargs
        return self._runner.run(
            lambda: getattr(target, name)(*args, **kwargs), f"{self._label}.{name}()"
        )

    return _describe(method, name, fn, None)


def chunks_from(data: Any) -> Any:
    """Upload data for the async store: a plain iterable of bytes (a generator...) becomes
    an async iterator that advances it in a worker thread, one chunk at a time, so a slow
    generator never blocks the loop; everything else is passed as it is."""
    plain = (bytes, bytearray, memoryview, str, AsyncIterable)
    if isinstance(data, plain) or callable(getattr(data, "read", None)):
        return data
    if not isinstance(data, Iterable):
        return data  # the store raises its TypeError
    return _pull(iter(data))


async def _pull(source: Iterator[Any]) -> AsyncIterator[Any]:
    done = object()
    while True:
        chunk = await asyncio.to_thread(next, source, done)
        if chunk is done:
            return
        yield chunk


def _iterate(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def method(self: MirrorBase, /, *args: Any, **kwargs: Any) -> Iterator[Any]:
        target = self._target
        return self._runner.iterate(
            lambda: getattr(target, name)(*args, **kwargs), f"{self._label}.{name}()"
        )

    return _describe(method, name, fn, "Iterator")


def _describe(
    method: Callable[..., Any], name: str, fn: Callable[..., Any], kind: str | None
) -> Callable[..., Any]:
    method.__name__ = name
    method.__qualname__ = name
    method.__doc__ = fn.__doc__
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # pragma: no cover - protocol stubs always have one
        return method
    returns = signature.return_annotation
    if kind is not None and isinstance(returns, str) and "[" in returns:
        returns = kind + returns[returns.index("[") :]
    method.__signature__ = signature.replace(return_annotation=returns)  # type: ignore[attr-defined]
    return method


def mirrored_methods(protocol: type) -> dict[str, Callable[..., Any]]:
    """Blocking methods for every public async method of ``protocol``."""
    makers = {"call": _call, "iterate": _iterate}
    return {
        name: makers[kind](name, getattr(protocol, name))
        for name, kind in protocol_methods(protocol).items()
    }
