"""Offers and carts for the tests: the 1.2.5 examples' ids and times (docs/offers.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ondc_adapter.offers import Cart, CartLine, Offer, load_offer

START = datetime(2025, 1, 1, 16, 0, tzinfo=UTC)  # the examples' time.range
END = datetime(2025, 1, 1, 23, 0, tzinfo=UTC)
AT = datetime(2025, 1, 1, 17, 30, tzinfo=UTC)


def offer(offer_id: str, kind: str, **fields: Any) -> Offer:
    data: dict[str, Any] = {
        "id": offer_id,
        "provider_id": "P1",
        "type": kind,
        "valid_from": START,
        "valid_to": END,
        "location_ids": ("L1",),
        "additive": False,
        "auto": True,
        "benefit": {},
    }
    data.update(fields)
    return load_offer(data)


def cart(*lines: tuple[str, int, int] | tuple[str, int, int, str], delivery: int = 0) -> Cart:
    """``cart(("I1", 50000, 1), ...)``: item id, unit price in paise, quantity[, category]."""
    return Cart(tuple(CartLine(*line) for line in lines), delivery=delivery, location_id="L1")
