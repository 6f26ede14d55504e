"""Durations as people write them in messages: ``8 days``, ``1 hour 30 minutes``."""

from __future__ import annotations

from datetime import timedelta

__all__ = ["format_duration"]

_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def format_duration(value: timedelta) -> str:
    """``timedelta(days=8)`` -> ``"8 days"`` (not ``"8 days, 0:00:00"``); a fraction of
    a second is shown as such; a negative duration gets a leading ``-``."""
    total = value.total_seconds()
    sign = "-" if total < 0 else ""
    total = abs(total)
    whole = int(total)
    parts: list[str] = []
    for name, seconds in _UNITS:
        count, whole = divmod(whole, seconds)
        if count:
            parts.append(f"{count} {name}{'s' if count != 1 else ''}")
    fraction = total - int(total)
    if fraction:
        seconds_text = f"{(int(total) % 60) + fraction:g} seconds"
        parts = [p for p in parts if not p.endswith(("second", "seconds"))] + [seconds_text]
    return sign + (" ".join(parts) if parts else "0 seconds")
