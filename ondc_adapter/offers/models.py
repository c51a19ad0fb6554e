"""An offer as the seller defines it in our data (ONDC retail 1.2.5 offers, docs/offers.md).

Money is whole paise (``*_paise`` fields), percents are decimals with at most two places
(the wire writes "-60.00"). What each offer type must, may and must not carry follows the
1.2.5 offer template (M/O/N-A per type), with the few places where we ask for more than the
template says because ONDC's log validator wants it on the wire (see docs/offers.md).

Every rule that fails names the field it is about: pydantic's own errors carry the field
path as their location, and the per-type rules below put the path first in the message
(``benefit.cap_paise: required for a slab offer``). ``load_offer`` turns either into an
``OfferInvalid`` with the path in ``field``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

Paise = Annotated[int, Strict(), Field(ge=0)]
Count = Annotated[int, Strict(), Field(ge=1)]
Id = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^\S(.*\S)?$")]


class OfferType(StrEnum):
    """The 1.2.5 offer codes (``offers[].descriptor.code``) that change a quote.

    ``exchange`` and ``financing`` are 1.2.5 offer codes too, but they carry no quote
    arithmetic (financing runs in the payment flow), so they are not modelled here."""

    DISCOUNT = "discount"
    BUY_X_GET_Y = "buyXgetY"
    FREEBIE = "freebie"
    SLAB = "slab"
    COMBO = "combo"
    DELIVERY = "delivery"


MONEY_OFF = frozenset({OfferType.DISCOUNT, OfferType.SLAB, OfferType.COMBO, OfferType.DELIVERY})
ITEMS_GIVEN = frozenset({OfferType.FREEBIE, OfferType.BUY_X_GET_Y})


class Qualifier(BaseModel):
    """What the cart must have for the offer to apply (the ``qualifier`` tag group)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_value_paise: Paise | None = None  # cart value: all items, no tax or charges
    item_count: Count | None = None  # buyXgetY: X; slab: lowest unit count of the slab
    item_count_upper: Count | None = None  # slab: highest unit count (none: open-ended)
    item_ids: tuple[Id, ...] = ()  # combo: the secondary items that must be in the cart


class Benefit(BaseModel):
    """What the buyer gets (the ``benefit`` tag group)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    percent: Decimal | None = Field(default=None, gt=0, le=100)
    amount_paise: Annotated[int, Strict(), Field(gt=0)] | None = None
    cap_paise: Annotated[int, Strict(), Field(gt=0)] | None = None
    item_id: Id | None = None  # the item given (freebie, buyXgetY)
    item_count: Count | None = None  # units given (buyXgetY: for every X bought)
    item_value_paise: Paise | None = None  # buyXgetY: price of a unit given; freebie: its worth

    @field_validator("percent")
    @classmethod
    def _two_places(cls, value: Decimal | None) -> Decimal | None:
        # the wire carries percents with two decimals; more would not survive a round trip
        if value is not None and value != value.quantize(Decimal("0.01")):
            raise ValueError("at most two decimal places")
        return value

    @property
    def percent_bp(self) -> int:
        """The percent in basis points (60.00% -> 6000): integer arithmetic from here on."""
        return int((self.percent or Decimal(0)) * 100)


class Offer(BaseModel):
    """One offer of one seller (provider): where, when and on what it applies, and what for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Id
    provider_id: Id
    type: OfferType
    valid_from: AwareDatetime
    valid_to: AwareDatetime
    location_ids: tuple[Id, ...] = ()  # empty: every store of the provider
    item_ids: tuple[Id, ...] = ()  # empty (and no category_ids): every item
    category_ids: tuple[Id, ...] = ()
    qualifier: Qualifier = Qualifier()
    benefit: Benefit
    additive: bool
    auto: bool
    title: str = ""  # shown in the quote; a description is made up when empty
    images: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _rules_of_its_type(self) -> Offer:
        if self.valid_to <= self.valid_from:
            raise _rule("valid_to", "must be later than valid_from")
        q, b = self.qualifier, self.benefit
        if self.type in MONEY_OFF:
            _money_off(self.type, q, b)
        else:
            _items_given(self.type, q, b)
        return self

    def is_valid_at(self, instant: datetime) -> bool:
        # both ends included, as ONDC's validator compares select's timestamp with the range
        return self.valid_from <= instant <= self.valid_to

    def at_location(self, location_id: str) -> bool:
        return not self.location_ids or location_id in self.location_ids


def _money_off(kind: OfferType, q: Qualifier, b: Benefit) -> None:
    """discount, slab, combo, delivery: a percent or an amount off, perhaps capped."""
    if (b.percent is None) == (b.amount_paise is None):
        raise _rule("benefit.percent", f"a {kind} offer gives either a percent or an amount")
    for name in ("item_id", "item_count", "item_value_paise"):
        if getattr(b, name) is not None:
            raise _rule(f"benefit.{name}", f"not used by a {kind} offer")
    if kind in (OfferType.SLAB, OfferType.COMBO) and b.cap_paise is None:
        raise _rule("benefit.cap_paise", f"required for a {kind} offer")
    if kind is OfferType.SLAB:
        if q.item_count is None:
            raise _rule("qualifier.item_count", "required for a slab offer")
        if q.item_count_upper is not None and q.item_count_upper < q.item_count:
            raise _rule("qualifier.item_count_upper", "must not be below qualifier.item_count")
    elif q.item_count is not None or q.item_count_upper is not None:
        raise _rule("qualifier.item_count", f"not used by a {kind} offer")
    if kind is OfferType.COMBO and not q.item_ids:
        raise _rule("qualifier.item_ids", "a combo offer names its secondary items")
    if kind is not OfferType.COMBO and q.item_ids:
        raise _rule("qualifier.item_ids", f"not used by a {kind} offer")


def _items_given(kind: OfferType, q: Qualifier, b: Benefit) -> None:
    """freebie, buyXgetY: units of an item given free or at an offered price."""
    for name in ("percent", "amount_paise", "cap_paise"):
        if getattr(b, name) is not None:
            raise _rule(f"benefit.{name}", f"not used by a {kind} offer")
    for name in ("item_id", "item_count", "item_value_paise"):
        # item_id is optional for buyXgetY in the template, but the validator wants it in
        # the quote line; item_value is N/A for freebie in the template, but the validator
        # wants it in on_search (and offers_in_catalog.md gives it: the item's worth)
        if getattr(b, name) is None:
            raise _rule(f"benefit.{name}", f"required for a {kind} offer")
    if kind is OfferType.BUY_X_GET_Y and q.item_count is None:
        raise _rule("qualifier.item_count", "required for a buyXgetY offer (the X)")
    if kind is OfferType.FREEBIE and q.item_count is not None:
        raise _rule("qualifier.item_count", "not used by a freebie offer")
    if q.item_count_upper is not None:
        raise _rule("qualifier.item_count_upper", f"not used by a {kind} offer")
    if q.item_ids:
        raise _rule("qualifier.item_ids", f"not used by a {kind} offer")


def _rule(field: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(
        "offer_rule", "{field}: {message}", {"field": field, "message": message}
    )


class OfferInvalid(ValueError):
    """An offer the seller's data defines wrongly; ``field`` is the dotted path of the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def load_offer(data: Mapping[str, Any]) -> Offer:
    """The offer in ``data``, or ``OfferInvalid`` naming the (first) bad field."""
    try:
        return Offer.model_validate(dict(data))
    except ValidationError as exc:
        error = exc.errors()[0]
        ctx = error.get("ctx") or {}
        if error["type"] == "offer_rule":
            raise OfferInvalid(str(ctx["field"]), str(ctx["message"])) from exc
        field = ".".join(str(part) for part in error["loc"]) or "offer"
        raise OfferInvalid(field, error["msg"]) from exc
