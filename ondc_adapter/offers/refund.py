"""Refunds when units leave an order with offers (cancel, part cancel, return).

The rule (docs/offers.md, "Refunds"):

1. What remains is priced again with the offers the order was confirmed with, and only
   those: each offer's rule is applied to the remaining lines (its qualifier checked again,
   its discount computed again on what it still covers), but no offer gives more than it
   gave before; an offer whose qualifier is no longer met gives nothing. No new offer
   enters and validity times are not looked at again: the order was made while they held.
2. The delivery charge stays while any unit remains and is refunded with the last unit
   (``drop_charges`` overrides this, e.g. to keep it on a return after delivery).
3. The refund is what was paid minus that new total, but never less than zero: when the
   discount withdrawn exceeds the value of what left the order (a minimum value no longer
   met), the difference stays with the buyer, kept on the offers in the order they were
   applied. So a refund never exceeds what was paid, the total of an order never rises
   when lines leave it, and cancelling everything refunds everything.

1.2.5 supports 1 ("whenever an offer qualifier is no longer valid in the post-order flow,
SNP may decide to reverse the offer, in part or full, up to the benefit provided to the
buyer in aggregate"); 3's floor at zero is our rule, the spec is silent on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from ondc_adapter.offers.cart import AppliedOffer, Cart, GiftStock, OfferQuote
from ondc_adapter.offers.models import ITEMS_GIVEN
from ondc_adapter.offers.rules import combine, evaluate


@dataclass(frozen=True, slots=True)
class Refund:
    amount: int  # paise back to the buyer, 0 <= amount <= before.total
    before: OfferQuote
    after: OfferQuote  # what is left of the order; after.total == before.total - amount

    @property
    def trail(self) -> tuple[tuple[str, str, int], ...]:
        """``(kind, id, after - before)`` for every breakup line that changed: negative for
        what leaves the order, positive for offer value added back (the ``quote_trail``).
        A line whose count changed at no money (units given free) is listed with 0, as in
        1.2.5's freebie and buyXgetY reversal examples."""
        old = {(line.kind, line.id): line for line in self.before.breakup}
        new = {(line.kind, line.id): line for line in self.after.breakup}
        changes = []
        for key in list(old) + [key for key in new if key not in old]:
            was, now = old.get(key), new.get(key)
            amount_was, amount_now = (was.amount if was else 0), (now.amount if now else 0)
            count_was, count_now = (was.count if was else None), (now.count if now else None)
            if amount_was != amount_now or count_was != count_now:
                changes.append((key[0], key[1], amount_now - amount_was))
        return tuple(changes)


def refund(
    quote: OfferQuote, removed: Mapping[str, int], *, drop_charges: bool | None = None
) -> Refund:
    """The refund for taking ``removed`` (item id -> units) out of the order ``quote`` prices.

    Chain calls for successive cancellations: pass the previous refund's ``after``."""
    cart = _remaining(quote.cart, removed, drop_charges)
    outcomes = []
    for before in quote.applied:
        stock = {}
        if before.gift_count:
            # the units given before are the most that can be given now
            item_id = before.offer.benefit.item_id or ""
            stock[item_id] = GiftStock(before.gift_unit_price, before.gift_count)
        outcome = evaluate(before.offer, cart, stock)
        if outcome.applies:
            outcomes.append(replace(outcome, discount=min(outcome.discount, before.discount)))
    now = {applied.offer.id: applied for applied in combine(cart, outcomes)}
    # every offer keeps its line, at zero when withdrawn (as 1.2.5's reversal examples show)
    applied = [
        now.get(b.offer.id) or AppliedOffer(b.offer, 0, 0, b.gift_unit_price) for b in quote.applied
    ]
    excess = OfferQuote(cart, tuple(applied)).total - quote.total
    if excess > 0:
        applied = _keep(quote.applied, applied, excess)
    after = OfferQuote(cart, tuple(applied))
    return Refund(quote.total - after.total, quote, after)


def _remaining(cart: Cart, removed: Mapping[str, int], drop_charges: bool | None) -> Cart:
    unknown = set(removed) - {line.item_id for line in cart.lines}
    if unknown:
        raise ValueError(f"not in the order: {', '.join(sorted(unknown))}")
    lines = []
    for line in cart.lines:
        units = removed.get(line.item_id, 0)
        if not 0 <= units <= line.quantity:
            raise ValueError(f"{line.item_id}: cannot take {units} of {line.quantity} unit(s)")
        lines.append(replace(line, quantity=line.quantity - units))
    left = sum(line.quantity for line in lines)
    drop = left == 0 if drop_charges is None else drop_charges
    return replace(cart, lines=tuple(lines), delivery=0 if drop else cart.delivery)


def _keep(
    before: tuple[AppliedOffer, ...], after: list[AppliedOffer], excess: int
) -> list[AppliedOffer]:
    """Give back ``excess`` of the withdrawn discounts, first offer first, so the new total is
    what was paid. It always fits: lines and charges only shrink, units given only shrink,
    so the total can only rise by the discounts withdrawn."""
    kept = []
    for old, new in zip(before, after, strict=True):
        if old.offer.type in ITEMS_GIVEN:
            kept.append(new)
            continue
        back = min(old.discount - new.discount, excess)
        excess -= back
        kept.append(replace(new, discount=new.discount + back))
    if excess:  # pragma: no cover - the docstring's argument says it cannot happen
        raise AssertionError(f"{excess} paise of withdrawn discount could not be kept")
    return kept
