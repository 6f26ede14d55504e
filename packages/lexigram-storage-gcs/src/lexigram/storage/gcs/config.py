"""Settings of the Google Cloud Storage driver and their config-time checks."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from urllib.parse import urlsplit

import attrs

__all__ = [
    "DEFAULT_API_ROOT",
    "RESUMABLE_QUANTUM",
    "StorageGCSConfig",
    "check_key_file",
    "security_check",
    "validate",
]

#: the JSON API root of Google Cloud Storage.
DEFAULT_API_ROOT = "https://storage.googleapis.com"
#: resumable-upload chunks (all but the last) must be a multiple of this many bytes.
RESUMABLE_QUANTUM = 256 * 1024

_positive = attrs.validators.gt(0)
_positive_seconds = attrs.validators.gt(0.0)


def _none_if_empty(value: str | None) -> str | None:
    return value or None


@attrs.define(frozen=True, kw_only=True)
class StorageGCSConfig:
    """``drivers: {gcs: {...}}``. Only ``bucket`` is required.

    Credentials: ``credentials_path`` names a service-account JSON file; without it the
    driver uses Application Default Credentials (``GOOGLE_APPLICATION_CREDENTIALS``, the
    gcloud CLI's file, else the metadata server: workload identity on GKE / Cloud Run).
    """

    #: the bucket every key lives in.
    bucket: str
    #: the project (informational; objects are addressed through the bucket).
    project_id: str | None = None
    #: path of a service-account JSON key file; None (or empty, as ``${VAR:-}`` gives):
    #: default credentials.
    credentials_path: str | None = attrs.field(default=None, converter=_none_if_empty)
    #: JSON API root, e.g. ``http://127.0.0.1:4443`` for fake-gcs-server; None: GCS itself.
    endpoint_url: str | None = None
    #: send no credentials at all (emulators). None: anonymous iff ``endpoint_url`` is set.
    anonymous: bool | None = None
    #: base URL for ``get_url`` (a CDN or a public bucket's domain).
    public_url: str | None = None
    #: CMEK: Cloud KMS key every write is encrypted with (``projects/../cryptoKeys/..``).
    kms_key_name: str | None = None
    #: service account that signs URLs through IAM signBlob when no key file is at hand
    #: (workload identity). None: the credentials' own account.
    signing_service_account: str | None = None
    #: bytes per resumable-upload request and the largest piece a stream yields; a
    #: multiple of 256 KiB.
    chunk_size: int = attrs.field(default=8 * 1024 * 1024, validator=_positive)
    #: bodies up to this size go in one request (media / multipart); larger ones resumable.
    resumable_threshold: int = attrs.field(default=8 * 1024 * 1024, validator=_positive)
    #: concurrent requests of ``delete_many``.
    max_concurrency: int = attrs.field(default=16, validator=_positive)
    #: open connections in the pool.
    max_connections: int = attrs.field(default=100, validator=_positive)
    #: seconds to wait for a connection to open.
    connect_timeout: float = attrs.field(default=10.0, validator=_positive_seconds)
    #: seconds a request may wait for the next bytes of a reply (not a bound on a whole
    #: transfer, so large streams are not cut off).
    timeout: float = attrs.field(default=60.0, validator=_positive_seconds)
    #: end-to-end CRC32C checks: every upload sends the body's CRC32C (``crc32c`` of a
    #: single-request upload, ``X-Goog-Hash`` on the last request of a resumable one), the
    #: ``crc32c`` the server reports is compared with it, and whole-object downloads are
    #: checked against ``x-goog-hash``. False: none of these.
    checksums: bool = True

    @property
    def api_root(self) -> str:
        return (self.endpoint_url or DEFAULT_API_ROOT).rstrip("/")

    @property
    def is_anonymous(self) -> bool:
        return self.anonymous if self.anonymous is not None else self.endpoint_url is not None


def validate(config: StorageGCSConfig) -> Sequence[tuple[str, str]]:
    """Config-time checks (a problem is a ``ConfigError``). Never quotes a key file."""
    problems: list[tuple[str, str]] = []
    if not config.bucket or "/" in config.bucket:
        problems.append(("bucket", "give the bucket's name (no '/')"))
    if config.chunk_size % RESUMABLE_QUANTUM:
        problems.append(
            (
                "chunk_size",
                f"must be a multiple of 256 KiB ({RESUMABLE_QUANTUM} bytes), "
                f"not {config.chunk_size}",
            )
        )
    for name in ("endpoint_url", "public_url"):
        value = getattr(config, name)
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                problems.append((name, f"must be an http(s) URL, not {value!r}"))
    if config.credentials_path is not None:
        problem = check_key_file(config.credentials_path)
        if problem:
            problems.append(("credentials_path", problem))
    return problems


def check_key_file(path: str) -> str | None:
    """What is wrong with a credentials file, or None. Names the file, never quotes it
    (its content is a secret: a private key)."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        return f"cannot read the credentials file {path!r} ({type(exc).__name__})"
    except UnicodeDecodeError:
        return f"the credentials file {path!r} is not UTF-8 text (expected JSON)"
    try:
        data = json.loads(text)
    except ValueError:
        return f"the credentials file {path!r} is not valid JSON"
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        return f"the credentials file {path!r} is not a Google credentials file (no 'type')"
    if data["type"] == "service_account":
        missing = [k for k in ("client_email", "private_key") if not data.get(k)]
        if missing:
            return (
                f"the service-account file {path!r} lacks {', '.join(missing)}: download "
                "a new JSON key for the account"
            )
    return None


def security_check(config: StorageGCSConfig) -> Sequence[tuple[str, str]]:
    """Production findings: an emulator endpoint, or requests sent without credentials."""
    out: list[tuple[str, str]] = []
    if config.endpoint_url is not None:
        host = urlsplit(config.endpoint_url).hostname or ""
        if host == "localhost" or _is_loopback(host):
            out.append(("endpoint_url", "points at a local emulator, not Google Cloud Storage"))
    if config.is_anonymous:
        out.append(("anonymous", "requests are sent without credentials"))
    return out


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
