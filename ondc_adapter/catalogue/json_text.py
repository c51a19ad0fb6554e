"""How ``on_search`` text is written: compact JSON, "yes"/"no" flags and RFC 3339 timestamps.

The small helpers shared by the item and provider serialisers (``item_text``,
``provider_header``), the page builder (``page_builder``) and the "catalog as link" texts
(``link_text``), so that each writes JSON the same way.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ondc_adapter.protocol.durations import format_timestamp


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def yn(flag: bool) -> str:
    return "yes" if flag else "no"


class Timestamps:
    """``format_timestamp`` cached: imports give thousands of rows the same ``updated_at``.
    Naive values are UTC (SQLite drops the zone when the UTC type decorator is bypassed)."""

    def __init__(self) -> None:
        self.cache: dict[datetime, str] = {}

    def __call__(self, dt: datetime) -> str:
        value = self.cache.get(dt)
        if value is None:
            if len(self.cache) > 10000:
                self.cache.clear()
            aware = dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
            value = self.cache[dt] = format_timestamp(aware)
        return value
