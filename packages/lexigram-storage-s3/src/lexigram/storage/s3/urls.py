"""Object URLs and the addressing style (path or virtual-hosted)."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import quote, urlsplit

__all__ = ["effective_style", "object_url"]

_DNS_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")


def _is_ip_or_local(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def effective_style(style: str, bucket: str, endpoint_url: str | None) -> str:
    """``path`` or ``virtual``. ``auto`` picks virtual-hosted when the bucket name is a
    DNS label and the endpoint is a DNS name (not an IP address or localhost)."""
    if style in ("path", "virtual"):
        return style
    if not _DNS_BUCKET.fullmatch(bucket):
        return "path"
    if endpoint_url is not None:
        host = urlsplit(endpoint_url).hostname or ""
        if _is_ip_or_local(host):
            return "path"
    return "virtual"


def object_url(key: str, *, bucket: str, region: str, endpoint_url: str | None, style: str) -> str:
    """The unsigned URL of an object: path-style or virtual-hosted."""
    quoted = quote(key, safe="/~")
    if endpoint_url is None:
        host = "s3.amazonaws.com" if region == "us-east-1" else f"s3.{region}.amazonaws.com"
        endpoint_url = f"https://{host}"
    parts = urlsplit(endpoint_url)
    base_path = parts.path.rstrip("/")
    if style == "virtual":
        netloc = f"{bucket}.{parts.netloc}"
        return f"{parts.scheme}://{netloc}{base_path}/{quoted}"
    return f"{parts.scheme}://{parts.netloc}{base_path}/{bucket}/{quoted}"
