"""What a rule reads (``Bundle``) and what it says (``Finding``), and small helpers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Payload keys each retail 1.2.0 flow must carry, in order (shared/validateLogs.ts).
_ORDER = ["select", "on_select", "init", "on_init", "confirm", "on_confirm"]
_STATUS = ["on_status_pending", "on_status_packed", "on_status_picked",
           "on_status_out_for_delivery", "on_status_delivered"]
_SEARCH = ["search_full_catalog_refresh", "on_search_full_catalog_refresh"]
FLOW_KEYS: dict[str, list[str]] = {
    "1": [*_SEARCH, "search_inc_refresh", "on_search_inc_refresh"],
    "2": [*_SEARCH, *_ORDER, *_STATUS],
    "3": [*_SEARCH, "select_out_of_stock", "on_select_out_of_stock", *_ORDER, *_STATUS],
    "4": [*_SEARCH, *_ORDER, "cancel", "on_cancel"],
    "5": [*_SEARCH, *_ORDER, *_STATUS[:4], "on_cancel", "on_status_rto_delivered/disposed"],
    "6": [*_SEARCH, *_ORDER, "on_update_part_cancel", "update_settlement_part_cancel",
          *_STATUS, "update_reverse_qc", "on_update_interim_reverse_qc", "on_update_approval",
          "on_update_picked", "update_settlement_reverse_qc", "on_update_delivered",
          "update_liquidated", "on_update_interim_liquidated", "on_update_liquidated",
          "update_settlement_liquidated"],
    "7": [*_SEARCH, "catalog_rejection"],
    "8": [*_SEARCH],
    "9": ["search_inc_refresh", "on_search_inc_refresh", "catalog_rejection"],
}


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str  # "on_search.available_count"
    source: str  # the validator file it is ported from
    key: str  # the payload key ("on_search_full_catalog_refresh")
    path: str  # JSON path inside that payload
    message: str

    def __str__(self) -> str:
        where = f"{self.key}: {self.path}: " if self.path else (f"{self.key}: " if self.key else "")
        return f"[{self.rule}] {where}{self.message}  ({self.source})"

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "source": self.source, "key": self.key, "path": self.path,
                "message": self.message}


@dataclass
class Bundle:
    domain: str
    version: str
    flow: str
    bap_id: str
    bpp_id: str
    payload: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def of(cls, data: dict[str, Any]) -> Bundle:
        payload = data.get("payload") if isinstance(data.get("payload"), dict) else {}
        return cls(
            domain=str(data.get("domain", "")), version=str(data.get("version", "")),
            flow=str(data.get("flow", "")), bap_id=str(data.get("bap_id", "")),
            bpp_id=str(data.get("bpp_id", "")),
            payload={k: v for k, v in payload.items() if isinstance(v, dict)},
        )

    def get(self, key: str) -> dict[str, Any] | None:
        return self.payload.get(key)

    def order(self, key: str) -> dict[str, Any]:
        message = (self.payload.get(key) or {}).get("message") or {}
        order = message.get("order") if isinstance(message, dict) else None
        return order if isinstance(order, dict) else {}

    def items(self) -> Iterator[tuple[str, dict[str, Any]]]:
        yield from self.payload.items()


Rule = Callable[[Bundle], Iterable[Finding]]


def rule(name: str, source: str) -> Callable[[Callable[[Bundle], Iterable[tuple[str, str, str]]]],
                                              Rule]:
    """Decorate a function yielding (key, path, message) into a ``Rule`` yielding Findings."""

    def wrap(fn: Callable[[Bundle], Iterable[tuple[str, str, str]]]) -> Rule:
        def run(bundle: Bundle) -> Iterator[Finding]:
            for key, path, message in fn(bundle):
                yield Finding(name, source, key, path, message)

        run.__name__ = name
        return run

    return wrap


ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
GSTIN = re.compile(r"^[0-9]{2}[A-Z]{5}[0-9]{4}[A-Z]{1}[1-9A-Z]{1}Z[0-9A-Z]{1}$")
PAN = re.compile(r"^[A-Z]{5}[0-9]{4}[A-Z]{1}$")


def when(stamp: Any) -> datetime | None:
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None


def tag_list(tags: Any, code: str) -> dict[str, str] | None:
    """``{list code: value}`` of the tag ``code`` in a tags array (None when absent)."""
    for tag in tags or []:
        if isinstance(tag, dict) and tag.get("code") == code:
            return {str(e.get("code")): str(e.get("value")) for e in tag.get("list") or []
                    if isinstance(e, dict)}
    return None
