"""Retry policy for transient failures, applied by the core to idempotent operations."""

from __future__ import annotations

import random

import attrs

__all__ = ["RetryPolicy"]


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """``attempts`` tries in all (1 = no retry), exponential backoff with full jitter.

    The core retries only what is safe to repeat: reads, deletes, copies and uploads of
    in-memory bodies in overwrite mode. Streamed uploads and ``mode="create"`` are not
    retried by the core (drivers retry single parts of multipart uploads themselves).
    """

    attempts: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    base_delay: float = attrs.field(default=0.1, validator=attrs.validators.ge(0))
    max_delay: float = attrs.field(default=5.0, validator=attrs.validators.ge(0))

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return random.uniform(0, ceiling)
