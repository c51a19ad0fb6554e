"""ONDC retail 1.2.5 offers: the seller's offer definitions, the rules that apply them to a
cart, refunds when units leave an order, and the 1.2.5 wire shapes (docs/offers.md).

Pure functions over integers of paise; nothing here reads or writes storage or the network.
"""

from ondc_adapter.offers.apply import apply_offers
from ondc_adapter.offers.cart import (
    AppliedOffer,
    BreakupLine,
    Cart,
    CartLine,
    GiftStock,
    OfferQuote,
    Rejection,
)
from ondc_adapter.offers.models import (
    Benefit,
    Offer,
    OfferInvalid,
    OfferType,
    Qualifier,
    load_offer,
)
from ondc_adapter.offers.refund import Refund, refund

__all__ = [
    "AppliedOffer",
    "Benefit",
    "BreakupLine",
    "Cart",
    "CartLine",
    "GiftStock",
    "Offer",
    "OfferInvalid",
    "OfferQuote",
    "OfferType",
    "Qualifier",
    "Refund",
    "Rejection",
    "apply_offers",
    "load_offer",
    "refund",
]
