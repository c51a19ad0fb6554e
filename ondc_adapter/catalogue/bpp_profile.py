"""What the catalogue says of the seller node itself: ``bpp/descriptor`` and ``bpp/fulfillments``.

Every full ``on_search`` (paged by ``page_builder``, or the linked file of ``link_text``) opens
with these two members, before its ``bpp/providers``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FULFILLMENT_IDS = {"Delivery": "1", "Self-Pickup": "2", "Delivery and Self-Pickup": "3"}
# bpp/fulfillments lists only the types of ONDC's enumeration (Delivery, Self-Pickup,
# Buyer-Delivery); "Delivery and Self-Pickup" stays a provider-level choice.
CATALOGUE_FULFILLMENTS = [
    {"id": FULFILLMENT_IDS[kind], "type": kind} for kind in ("Delivery", "Self-Pickup")
]


@dataclass(frozen=True, slots=True)
class BppProfile:
    """How this seller node presents itself in ``bpp/descriptor``."""

    name: str = "ODOP Seller Node"
    symbol: str = "https://odop.example.in/logo.png"
    short_desc: str = "One District One Product sellers on ONDC"
    long_desc: str = (
        "Handloom, handicraft and food products of India's districts, sold by artisans, "
        "self-help groups, cooperatives and emporia."
    )
    images: tuple[str, ...] = ("https://odop.example.in/logo.png",)
    np_type: str = "MSN"  # marketplace seller node: many providers behind one bpp_id

    def descriptor(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "symbol": self.symbol,
            "short_desc": self.short_desc,
            "long_desc": self.long_desc,
            "images": list(self.images),
            "tags": [{"code": "bpp_terms", "list": [{"code": "np_type", "value": self.np_type}]}],
        }
