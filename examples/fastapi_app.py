"""A FastAPI app on lexigram-storage: uploads streamed into the store, downloads as
redirects to presigned URLs, sessions in the key-value store.

Run it with ``uvicorn --factory examples.fastapi_app:main`` (after ``pip install fastapi uvicorn
lexigram-storage-core lexigram-storage-local``); it keeps its files under ``./storage``.
The same code runs on S3, GCS or Azure: only ``storage_config`` changes (see the recipe
"Local disk in development, S3 in production"). Tested by
tests-integration/test_fastapi_recipe.py.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import Cookie, FastAPI, HTTPException, Request, Response
from fastapi.responses import RedirectResponse

from lexigram.storage import InvalidArgumentError, StorageConfig, StorageProvider
from lexigram.storage.local.asgi import create_app

#: seconds a session lasts without a new login.
SESSION_TTL = 3600


def storage_config(folder: str = "./storage") -> StorageConfig:
    """Files under ``folder/data``, served at ``/blobs`` by this app; sessions in
    ``folder/kv.jsonl``."""
    return StorageConfig.from_dict(
        {
            "default_driver": "local",
            "drivers": {
                "local": {
                    "root_dir": f"{folder}/data",
                    "base_url": "/blobs",  # a path: the presigned URLs are relative
                    "signing_key": os.environ.get("SIGNING_KEY") or secrets.token_urlsafe(32),
                }
            },
            "kv": {"backend": "local", "path": f"{folder}/kv.jsonl"},
        }
    )


def create(config: StorageConfig) -> FastAPI:
    provider = StorageProvider(config=config)
    store = provider.store()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with provider:  # closes the store and the KV file at shutdown
            yield

    app = FastAPI(lifespan=lifespan)
    app.state.provider = provider
    # The local driver's presigned URLs are served here; on S3 they point at S3 itself.
    app.mount("/blobs", create_app(store))

    async def user_of(sid: str | None) -> str:
        session = await provider.kv().get(f"session:{sid}") if sid else None
        if not isinstance(session, dict):
            raise HTTPException(401, "log in first")
        return str(session["user"])

    @app.post("/login")
    async def login(user: str, response: Response) -> dict[str, str]:
        sid = secrets.token_urlsafe(24)
        await provider.kv().set(f"session:{sid}", {"user": user}, ttl=SESSION_TTL)
        response.set_cookie("sid", sid, max_age=SESSION_TTL, httponly=True, samesite="lax")
        return {"user": user}

    @app.post("/logout")
    async def logout(response: Response, sid: str | None = Cookie(None)) -> dict[str, bool]:
        ended = await provider.kv().delete(f"session:{sid}") if sid else False
        response.delete_cookie("sid")
        return {"ended": ended}

    @app.put("/files/{name:path}", status_code=201)
    async def upload(name: str, request: Request, sid: str | None = Cookie(None)) -> Any:
        user = await user_of(sid)
        length = request.headers.get("content-length")
        try:
            # request.stream() goes to the store chunk by chunk: never read whole
            info = await store.upload(
                f"users/{user}/{name}",
                request.stream(),
                content_type=request.headers.get("content-type"),
                size=int(length) if length else None,
            )
        except InvalidArgumentError as exc:  # a bad key or content type: the client's fault
            raise HTTPException(400, str(exc)) from exc
        return {"path": info.path, "size": info.size, "etag": info.etag}

    @app.get("/files/{name:path}")
    async def download(name: str, sid: str | None = Cookie(None)) -> RedirectResponse:
        user = await user_of(sid)
        key = f"users/{user}/{name}"
        try:
            if not await store.exists(key):
                raise HTTPException(404, "no such file")
        except InvalidArgumentError as exc:
            raise HTTPException(400, str(exc)) from exc
        # the bytes never pass through this app: the client follows the redirect
        url = await store.get_presigned_url(key, timedelta(minutes=5))
        return RedirectResponse(url, status_code=307)

    return app


def main() -> FastAPI:
    """The app on ``./storage``: ``uvicorn --factory examples.fastapi_app:main``."""
    return create(storage_config())
