"""The values offers work on and produce: a cart, the offers applied to it, the quote.

All amounts are whole paise. ``OfferQuote.total`` is by definition the sum of
``OfferQuote.breakup``, so the quote always equals the sum of its breakup; the rendering in
``render.py`` writes exactly these integers as rupee strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ondc_adapter.offers.models import ITEMS_GIVEN, Offer, OfferType
from ondc_adapter.protocol.errors import Code


@dataclass(frozen=True, slots=True)
class CartLine:
    """One item the buyer selected: its unit price (paise), how many, its ONDC category."""

    item_id: str
    unit_price: int
    quantity: int
    category_id: str = ""
    title: str = ""

    def __post_init__(self) -> None:
        if not self.item_id:
            raise ValueError("cart line without an item id")
        if self.unit_price < 0 or self.quantity < 0:
            raise ValueError(f"cart line {self.item_id}: price and quantity must not be negative")

    @property
    def value(self) -> int:
        return self.unit_price * self.quantity


@dataclass(frozen=True, slots=True)
class Cart:
    """What is priced: the lines (one per item), the delivery charge, the store it ships from."""

    lines: tuple[CartLine, ...]
    delivery: int = 0
    location_id: str = ""
    fulfillment_id: str = "F1"

    def __post_init__(self) -> None:
        ids = [line.item_id for line in self.lines]
        if len(ids) != len(set(ids)):
            # merging repeated items (select may list one item twice) is the caller's job
            raise ValueError("a cart has one line per item")
        if self.delivery < 0:
            raise ValueError("the delivery charge must not be negative")

    @property
    def value(self) -> int:
        """The cart value of the 1.2.5 qualifier: every item, no tax, delivery or packing."""
        return sum(line.value for line in self.lines)

    @property
    def units(self) -> int:
        return sum(line.quantity for line in self.lines)

    def line(self, item_id: str) -> CartLine | None:
        return next((line for line in self.lines if line.item_id == item_id), None)


@dataclass(frozen=True, slots=True)
class GiftStock:
    """An item that freebie and buyXgetY offers may give: its catalogue price, units in stock."""

    unit_price: int
    available: int


@dataclass(frozen=True, slots=True)
class AppliedOffer:
    """An offer as applied to a quote: the money it takes off, or the units it gives."""

    offer: Offer
    discount: int = 0  # paise off (never negative)
    gift_count: int = 0  # units of offer.benefit.item_id given
    gift_unit_price: int = 0  # their catalogue price: what the gift is worth to the buyer

    @property
    def paid_per_unit(self) -> int:
        """What the buyer pays for each unit given: nothing for a freebie (its item_value is
        the item's worth, shown to the buyer), the offered price for buyXgetY."""
        if self.offer.type is OfferType.BUY_X_GET_Y:
            return self.offer.benefit.item_value_paise or 0
        return 0

    @property
    def amount(self) -> int:
        """The offer's breakup line: minus the discount, or what the buyer pays for the units
        given (0.00 for a freebie, count x item_value for buyXgetY)."""
        if self.offer.type in ITEMS_GIVEN:
            return self.gift_count * self.paid_per_unit
        return -self.discount

    @property
    def worth(self) -> int:
        """What it saves the buyer, to choose between offers that cannot be combined."""
        if self.offer.type in ITEMS_GIVEN:
            return self.gift_count * max(self.gift_unit_price - self.paid_per_unit, 0)
        return self.discount

    @property
    def level(self) -> Literal["order", "fulfillment"]:
        """The ``quote`` tag of the line: a delivery offer is fulfillment-level (1.2.5 example)."""
        return "fulfillment" if self.offer.type is OfferType.DELIVERY else "order"


@dataclass(frozen=True, slots=True)
class Rejection:
    """An offer considered and not applied, and why. ``code`` is the ONDC error to answer
    with when the buyer asked for it (30006 not valid, 30007 cannot be fulfilled)."""

    offer_id: str
    reason: str
    code: Code | None = None


@dataclass(frozen=True, slots=True)
class BreakupLine:
    """One ``quote.breakup`` entry: an item, the delivery charge or an offer."""

    kind: Literal["item", "delivery", "offer"]
    id: str  # item id, fulfillment id or offer id (the wire's @ondc/org/item_id)
    amount: int
    count: int | None = None  # item lines; offer lines that give units
    unit_price: int | None = None  # item lines


@dataclass(frozen=True, slots=True)
class OfferQuote:
    """A cart priced with its applied offers."""

    cart: Cart
    applied: tuple[AppliedOffer, ...] = ()
    rejected: tuple[Rejection, ...] = ()

    @property
    def breakup(self) -> tuple[BreakupLine, ...]:
        lines = [
            BreakupLine("item", line.item_id, line.value, line.quantity, line.unit_price)
            for line in self.cart.lines
        ]
        # the delivery line is kept even at zero: the validator wants one whenever serviceable
        lines.append(BreakupLine("delivery", self.cart.fulfillment_id, self.cart.delivery))
        for applied in self.applied:
            count = applied.gift_count if applied.offer.type in ITEMS_GIVEN else None
            lines.append(BreakupLine("offer", applied.offer.id, applied.amount, count))
        return tuple(lines)

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.breakup)

    @property
    def discount(self) -> int:
        return sum(applied.discount for applied in self.applied)

    def applied_offer(self, offer_id: str) -> AppliedOffer | None:
        return next((a for a in self.applied if a.offer.id == offer_id), None)
