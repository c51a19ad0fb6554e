"""Which offers a quote gets (select, init, confirm of ONDC retail 1.2.5; docs/offers.md).

Candidates are the seller's ``auto`` offers the buyer has not declined, and the offers the
buyer chose (1.2.5 select's ``order.offers``). A candidate applies when it is valid at the
instant, offered at the store, covers an item of the cart and its qualifier is met.

Non-additive offers are never combined with another offer (1.2.5 meta ``additive``: "whether
the offer can be applied with other offers"), so the quote gets either every additive offer
that applies, or one non-additive offer alone: whichever saves the buyer more, the additive
set on a tie, then the earlier offer. The buyer can always narrow the choice by declining
auto offers.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from ondc_adapter.offers.cart import AppliedOffer, Cart, GiftStock, OfferQuote, Rejection
from ondc_adapter.offers.models import Offer
from ondc_adapter.offers.rules import Outcome, combine, evaluate
from ondc_adapter.protocol.errors import Code


def apply_offers(
    cart: Cart,
    offers: Sequence[Offer],
    *,
    at: datetime,
    chosen: Collection[str] = (),
    declined: Collection[str] = (),
    gifts: Mapping[str, GiftStock] | None = None,
) -> OfferQuote:
    """The quote of ``cart`` with the offers that apply at ``at``.

    ``offers`` are the provider's offers, in the seller's order (which breaks ties and is
    the order money offers take their share in). ``chosen`` are the offer ids the buyer
    selected, ``declined`` the auto offers the buyer removed (``apply: no``). ``gifts`` are
    the items freebie and buyXgetY offers may give, with their catalogue price and the units
    in stock beyond what the cart itself takes."""
    if at.tzinfo is None:
        raise ValueError("the instant must be timezone-aware")
    by_id: dict[str, Offer] = {}
    for offer in offers:
        if offer.id in by_id:
            raise ValueError(f"offer {offer.id} is listed twice")
        by_id[offer.id] = offer
    rejected = [
        Rejection(offer_id, "no such offer", Code.OFFER_CODE_INVALID)
        for offer_id in chosen
        if offer_id not in by_id
    ]
    eligible: list[Outcome] = []
    for offer in offers:
        asked = offer.id in chosen
        if not asked and (not offer.auto or offer.id in declined):
            continue
        outcome = _outcome(offer, cart, at, gifts or {})
        if outcome.applies:
            eligible.append(outcome)
        else:
            # an auto offer that does not apply is no error: the buyer never asked for it
            rejected.append(Rejection(offer.id, outcome.reason, outcome.code if asked else None))
    applied, members = _best(cart, eligible)
    kept = {a.offer.id for a in applied}
    for outcome in eligible:
        if outcome.offer.id in kept:
            continue
        reason = (
            "nothing left to take off after the offers before it"
            if outcome.offer.id in members
            else "not combinable with the offers applied, which save the buyer more"
        )
        rejected.append(Rejection(outcome.offer.id, reason))
    return OfferQuote(cart, applied, tuple(rejected))


def _outcome(offer: Offer, cart: Cart, at: datetime, gifts: Mapping[str, GiftStock]) -> Outcome:
    if not offer.is_valid_at(at):
        return Outcome(offer, reason="not valid at this time")
    if not offer.at_location(cart.location_id):
        return Outcome(offer, reason=f"not offered at store {cart.location_id}")
    return evaluate(offer, cart, gifts)


def _best(cart: Cart, eligible: list[Outcome]) -> tuple[tuple[AppliedOffer, ...], set[str]]:
    """The option that saves the buyer most, and the ids of the offers it was made of."""
    options: list[list[Outcome]] = []
    additive = [o for o in eligible if o.offer.additive]
    if additive:
        options.append(additive)
    options.extend([o] for o in eligible if not o.offer.additive)
    best: tuple[AppliedOffer, ...] = ()
    members: list[Outcome] = []
    for option in options:
        applied = combine(cart, option)
        # strictly more: of equal options the first stays (the additive set, then the earlier)
        if not members or sum(a.worth for a in applied) > sum(a.worth for a in best):
            best, members = applied, option
    return best, {o.offer.id for o in members}
