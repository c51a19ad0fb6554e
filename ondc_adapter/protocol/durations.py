"""ISO-8601 durations (``PT30S``, ``P1D``, ``P1M``) and RFC 3339 timestamps as ONDC uses them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache

_DURATION = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$"
)


@lru_cache(maxsize=1024)  # the same few ttl strings on every request; timedelta is immutable
def parse_duration(value: str) -> timedelta:
    """Years count as 365 days and months as 30: only used for bounds, never for calendars."""
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"{value!r} is not an ISO-8601 duration such as PT30S or P1D")
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    days = parts.get("years", 0) * 365 + parts.get("months", 0) * 30 + parts.get("weeks", 0) * 7
    try:
        return timedelta(
            days=days + parts.get("days", 0),
            hours=parts.get("hours", 0),
            minutes=parts.get("minutes", 0),
            seconds=parts.get("seconds", 0),
        )
    except OverflowError:  # e.g. P9999999999D: a bad value from the peer, not our failure
        raise ValueError(f"{value!r} is too long a duration") from None


def format_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 86400 == 0 and seconds:
        return f"P{seconds // 86400}D"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    out = "PT"
    if hours:
        out += f"{hours}H"
    if minutes:
        out += f"{minutes}M"
    if secs or out == "PT":
        out += f"{secs}S"
    return out


@lru_cache(maxsize=1024)  # validated, then read again as sent_at: parse once per request
def parse_timestamp(value: str) -> datetime:
    if not _RFC3339.match(value):
        raise ValueError(f"{value!r} is not an RFC 3339 timestamp such as 2023-06-03T08:00:00.000Z")
    text = value.replace("Z", "+00:00")
    # Python < 3.11 rejects nanoseconds; trim fractions beyond microseconds.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    return datetime.fromisoformat(text).astimezone(UTC)


def format_timestamp(dt: datetime) -> str:
    """``2023-06-03T08:00:00.000Z``: UTC with milliseconds, the form ONDC's validator expects."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def utcnow() -> datetime:
    return datetime.now(UTC)
