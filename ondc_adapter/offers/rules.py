"""Each offer type's rule (docs/offers.md): does the offer apply to a cart, what does it give,
and how offers that apply together share what there is to discount.

``evaluate`` looks at one offer alone; ``combine`` applies several in order, each taking its
money off what earlier offers left of the lines it covers (or of the delivery charge), so
that no set of offers ever takes off more than the lines are worth: a total is never
negative and a discount never exceeds the items it covers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import assert_never

from ondc_adapter.offers.cart import AppliedOffer, Cart, CartLine, GiftStock
from ondc_adapter.offers.models import Benefit, Offer, OfferType
from ondc_adapter.offers.paise import to_rupees
from ondc_adapter.protocol.errors import Code

BASIS_POINTS = 10_000  # 100.00 %


@dataclass(frozen=True, slots=True)
class Outcome:
    """One offer on one cart, before it is combined with other offers."""

    offer: Offer
    discount: int = 0  # money off, before other offers have taken theirs
    lines: tuple[str, ...] = ()  # item lines the discount comes out of (none: the delivery)
    gift_count: int = 0
    gift_unit_price: int = 0
    reason: str = ""  # why the offer does not apply; empty when it does
    code: Code = Code.OFFER_CODE_INVALID

    @property
    def applies(self) -> bool:
        return not self.reason


def percent_of(base: int, basis_points: int) -> int:
    """``base`` x percent in whole paise, rounded half up.

    Half up is what ONDC's validator prints as the expected discount (JavaScript's
    ``toFixed(2)``), and it is exact here: base and basis points are integers, so the
    only rounding in all of the offer arithmetic is this one division."""
    return (base * basis_points + BASIS_POINTS // 2) // BASIS_POINTS


def money_off(benefit: Benefit, base: int) -> int:
    """A percent or an amount of ``base``, no more than the cap, no more than ``base``."""
    if benefit.percent is not None:
        off = percent_of(base, benefit.percent_bp)
    else:
        off = benefit.amount_paise or 0
    if benefit.cap_paise is not None:
        off = min(off, benefit.cap_paise)
    return min(off, base)


def covered(offer: Offer, cart: Cart) -> tuple[CartLine, ...]:
    """The cart lines the offer applies to: the intersection of the attributes it defines
    (items, categories), the union of the values within each (1.2.5 "Applicability")."""
    return tuple(
        line
        for line in cart.lines
        if line.quantity > 0
        and (not offer.item_ids or line.item_id in offer.item_ids)
        and (not offer.category_ids or line.category_id in offer.category_ids)
    )


def evaluate(offer: Offer, cart: Cart, gifts: Mapping[str, GiftStock]) -> Outcome:
    """What ``offer`` gives on ``cart`` on its own (time and store are the caller's checks)."""
    lines = covered(offer, cart)
    if not lines:
        return _no(offer, "no item in the cart is one the offer covers")
    minimum = offer.qualifier.min_value_paise
    if minimum is not None and cart.value < minimum:
        return _no(offer, f"cart value {to_rupees(cart.value)} is below {to_rupees(minimum)}")
    match offer.type:
        case OfferType.DISCOUNT:
            return _off_lines(offer, lines)
        case OfferType.SLAB:
            return _slab(offer, lines)
        case OfferType.COMBO:
            return _combo(offer, cart, lines)
        case OfferType.DELIVERY:
            if cart.delivery == 0:
                return _no(offer, "there is no delivery charge to take off")
            return Outcome(offer, discount=money_off(offer.benefit, cart.delivery))
        case OfferType.FREEBIE:
            return _gift(offer, gifts, 1)
        case OfferType.BUY_X_GET_Y:
            units = sum(line.quantity for line in lines)
            sets = units // (offer.qualifier.item_count or 1)
            if sets == 0:
                return _no(offer, f"{units} unit(s) bought, {offer.qualifier.item_count} needed")
            return _gift(offer, gifts, sets)
        case _:  # pragma: no cover - every OfferType is handled above
            assert_never(offer.type)


def _off_lines(offer: Offer, lines: tuple[CartLine, ...]) -> Outcome:
    base = sum(line.value for line in lines)
    discount = money_off(offer.benefit, base)
    if discount == 0:
        return _no(offer, "nothing to take off")
    return Outcome(offer, discount=discount, lines=tuple(line.item_id for line in lines))


def _slab(offer: Offer, lines: tuple[CartLine, ...]) -> Outcome:
    units = sum(line.quantity for line in lines)
    low, high = offer.qualifier.item_count or 1, offer.qualifier.item_count_upper
    if units < low or (high is not None and units > high):
        bounds = f"{low}-{high}" if high is not None else f"{low} or more"
        return _no(offer, f"{units} unit(s) is outside the slab ({bounds})")
    return _off_lines(offer, lines)


def _combo(offer: Offer, cart: Cart, lines: tuple[CartLine, ...]) -> Outcome:
    """Primary items (the offer's items) bought with every secondary item (the qualifier's):
    the discount is on the combo, the primary and secondary lines together."""
    secondary = [cart.line(item_id) for item_id in offer.qualifier.item_ids]
    missing = [
        item_id
        for item_id, line in zip(offer.qualifier.item_ids, secondary, strict=True)
        if line is None or line.quantity == 0
    ]
    if missing:
        return _no(offer, f"the combo needs {', '.join(missing)} in the cart")
    ids = {line.item_id for line in lines} | set(offer.qualifier.item_ids)
    return _off_lines(offer, tuple(line for line in cart.lines if line.item_id in ids))


def _gift(offer: Offer, gifts: Mapping[str, GiftStock], sets: int) -> Outcome:
    item_id, per_set = offer.benefit.item_id or "", offer.benefit.item_count or 1
    stock = gifts.get(item_id)
    # give as many whole sets as there are units for; none at all is 30007 ("offer cannot
    # be fulfilled, e.g. the offer item is not available", 1.2.5 exception conditions)
    sets = min(sets, stock.available // per_set) if stock is not None else 0
    if sets == 0:
        return _no(offer, f"{item_id} is not in stock", Code.OFFER_FULFILLMENT_ERROR)
    assert stock is not None
    return Outcome(offer, gift_count=sets * per_set, gift_unit_price=stock.unit_price)


def _no(offer: Offer, reason: str, code: Code = Code.OFFER_CODE_INVALID) -> Outcome:
    return Outcome(offer, reason=reason, code=code)


def combine(cart: Cart, outcomes: Iterable[Outcome]) -> tuple[AppliedOffer, ...]:
    """Apply offers in order. Each money offer takes its discount out of what is left of its
    lines (or of the delivery charge), shared across the lines in proportion to what is left
    of each; an offer left with nothing to take off is dropped."""
    left = {line.item_id: line.value for line in cart.lines}
    delivery_left = cart.delivery
    applied: list[AppliedOffer] = []
    for outcome in outcomes:
        if outcome.gift_count:
            applied.append(
                AppliedOffer(outcome.offer, 0, outcome.gift_count, outcome.gift_unit_price)
            )
            continue
        if outcome.offer.type is OfferType.DELIVERY:
            discount = min(outcome.discount, delivery_left)
            delivery_left -= discount
        else:
            pools = [left[item_id] for item_id in outcome.lines]
            discount = min(outcome.discount, sum(pools))
            for item_id, share in zip(outcome.lines, allocate(discount, pools), strict=True):
                left[item_id] -= share
        if discount > 0:
            applied.append(AppliedOffer(outcome.offer, discount))
    return tuple(applied)


def allocate(amount: int, weights: list[int]) -> list[int]:
    """``amount`` split in proportion to ``weights`` in whole paise (largest remainders, ties
    to the earlier line); no share exceeds its weight when ``amount <= sum(weights)``."""
    total = sum(weights)
    if total == 0:
        return [0] * len(weights)
    shares = [amount * weight // total for weight in weights]
    remainders = [amount * weight % total for weight in weights]
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in order[: amount - sum(shares)]:
        shares[i] += 1
    return shares
