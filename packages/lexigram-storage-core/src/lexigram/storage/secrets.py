"""Keeping secrets out of reprs, messages and logs."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["REDACTED", "Redactor", "redacted_repr", "without_url_queries"]

REDACTED = "'***'"

_URL_QUERY = re.compile(r"(https?://[^\s?'\"<>]+)\?[^\s'\"<>]*")


def without_url_queries(text: str) -> str:
    """``text`` with the query string of every URL in it replaced by ``<query removed>``
    (signed URLs carry credentials and signatures there: SAS tokens, X-Amz-Credential,
    X-Amz-Security-Token...)."""
    if "://" not in text:
        return text
    return _URL_QUERY.sub(r"\1?<query removed>", text)


def redacted_repr(value: object) -> str:
    """attrs ``repr=`` for secret fields: shows whether a value is set, never the value."""
    return "None" if value is None else REDACTED


class Redactor:
    """Replaces every known secret value in a text with ``***``.

    The core builds one per backend from its config's secret fields and passes every
    error message through it, as a last line of defence behind the drivers.
    """

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is replaced whole. Very short
        # values are skipped: they would mangle messages and are not real secrets.
        self._secrets = sorted(
            {s for s in secrets if isinstance(s, str) and len(s) >= 4}, key=len, reverse=True
        )

    def __bool__(self) -> bool:
        """Whether there is any secret to redact."""
        return bool(self._secrets)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text
