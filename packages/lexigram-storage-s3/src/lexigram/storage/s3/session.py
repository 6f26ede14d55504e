"""An aiobotocore session made off the event loop.

Making a client reads botocore's JSON service models, endpoint rules and partitions from
disk and parses them (hundreds of milliseconds), and the session reads the shared AWS
config files: all blocking work that aiobotocore does on the event loop. Here it is done
in a worker thread, ahead of ``create_client``, which then finds it all in the loader's
caches: the loop keeps serving other stores' requests meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiobotocore.session import AioSession  # type: ignore[import-untyped]
from botocore.exceptions import DataNotFoundError, UnknownServiceError  # type: ignore[import-untyped]

__all__ = ["new_session"]

_SERVICE = "s3"
_GENERIC = ("_retry", "endpoints", "partitions", "sdk-default-configuration")
_MODELS = ("service-2", "endpoint-rule-set-1")
_OPTIONAL_MODELS = ("paginators-1", "waiters-2")


async def new_session(profile: str | None) -> AioSession:
    """A session for ``profile`` with the s3 client's data already loaded."""
    return await asyncio.to_thread(_prepared_session, profile)


def _prepared_session(profile: str | None) -> AioSession:
    session = AioSession(profile=profile)
    session.get_scoped_config()  # reads ~/.aws/config (or AWS_CONFIG_FILE) once
    loader = session.get_component("data_loader")
    for path in _GENERIC:
        with contextlib.suppress(DataNotFoundError):
            loader.load_data_with_path(path)
    # the loader caches by the exact arguments: ask as the client does (api_version by
    # keyword, none or the latest)
    version = loader.determine_latest_version(_SERVICE, "service-2")
    for api_version in (None, version):
        for type_name in _MODELS:
            loader.load_service_model(_SERVICE, type_name, api_version=api_version)
        for type_name in _OPTIONAL_MODELS:
            with contextlib.suppress(UnknownServiceError, DataNotFoundError):
                loader.load_service_model(_SERVICE, type_name, api_version=api_version)
                loader.load_service_model(_SERVICE, type_name, api_version)  # paginators'
    return session
