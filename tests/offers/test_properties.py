"""Property tests over random carts, offers and cancellations (issue 16): quote arithmetic
with offers is exact in paise, the quote is the sum of its breakup, and refunds never exceed
what was paid."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ondc_adapter.offers import (
    Cart,
    CartLine,
    GiftStock,
    Offer,
    OfferQuote,
    OfferType,
    apply_offers,
    load_offer,
    refund,
)
from ondc_adapter.offers.models import ITEMS_GIVEN
from ondc_adapter.offers.paise import to_paise, to_rupees
from ondc_adapter.offers.render import catalog_offer, parse_catalog_offer, quote_wire
from ondc_adapter.offers.rules import covered
from tests.offers.helpers import AT

ITEMS = ["I0", "I1", "I2", "I3", "I4"]
CATEGORIES = ["C0", "C1"]
STORES = ["L1", "L2"]
paise = st.integers(0, 300_000)


def subsets(values: list[str], min_size: int = 0) -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(st.sampled_from(values), min_size=min_size, unique=True).map(tuple)


@st.composite
def carts(draw: st.DrawFn) -> Cart:
    ids = draw(subsets(ITEMS, min_size=1))
    lines = tuple(
        CartLine(
            item_id,
            draw(st.integers(0, 200_000)),
            draw(st.integers(0, 12)),
            draw(st.sampled_from(CATEGORIES)),
        )
        for item_id in ids
    )
    return Cart(
        lines, delivery=draw(st.integers(0, 20_000)), location_id=draw(st.sampled_from(STORES))
    )


@st.composite
def offers(draw: st.DrawFn, offer_id: str, cart_value: int = 500_000) -> Offer:
    kind = draw(st.sampled_from(list(OfferType)))
    starts = AT - timedelta(hours=draw(st.integers(-2, 48)))  # now and then not yet valid
    qualifier: dict[str, Any] = {}
    benefit: dict[str, Any] = {}
    if draw(st.booleans()):
        # often just met by the cart, so that cancellations break it (the refund's hard case)
        qualifier["min_value_paise"] = draw(st.integers(1, max(cart_value, 1)))
    if kind in ITEMS_GIVEN:
        benefit["item_id"] = draw(st.sampled_from(ITEMS))
        benefit["item_count"] = draw(st.integers(1, 3))
        benefit["item_value_paise"] = draw(st.integers(0, 50_000))
        if kind is OfferType.BUY_X_GET_Y:
            qualifier["item_count"] = draw(st.integers(1, 4))
    else:
        if draw(st.booleans()):
            benefit["percent"] = Decimal(draw(st.integers(1, 10_000))) / 100
        else:
            benefit["amount_paise"] = draw(st.integers(1, 300_000))
        if kind in (OfferType.SLAB, OfferType.COMBO) or draw(st.booleans()):
            benefit["cap_paise"] = draw(st.integers(1, 300_000))
        if kind is OfferType.SLAB:
            low = draw(st.integers(1, 10))
            qualifier["item_count"] = low
            if draw(st.booleans()):
                qualifier["item_count_upper"] = draw(st.integers(low, 20))
        if kind is OfferType.COMBO:
            qualifier["item_ids"] = draw(subsets(ITEMS, min_size=1))
    return load_offer(
        {
            "id": offer_id,
            "provider_id": "P1",
            "type": kind,
            "valid_from": starts,
            "valid_to": starts + timedelta(hours=draw(st.integers(1, 96))),
            "location_ids": draw(subsets(STORES)),
            "item_ids": draw(subsets(ITEMS)),
            "category_ids": draw(subsets(CATEGORIES)),
            "qualifier": qualifier,
            "benefit": benefit,
            "additive": draw(st.booleans()),
            "auto": draw(st.booleans()),
        }
    )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Cart, list[Offer], OfferQuote]:
    cart = draw(carts())
    value = draw(st.sampled_from([cart.value, 500_000]))
    catalogue = [draw(offers(f"O{i}", value)) for i in range(draw(st.integers(0, 6)))]
    ids = [o.id for o in catalogue]
    gifts = {
        item_id: GiftStock(draw(st.integers(0, 200_000)), draw(st.integers(0, 10)))
        for item_id in draw(subsets(ITEMS))
    }
    quote = apply_offers(
        cart,
        catalogue,
        at=AT,
        chosen=draw(subsets(ids)) if ids else (),
        declined=draw(subsets(ids)) if ids else (),
        gifts=gifts,
    )
    return cart, catalogue, quote


@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_quote_invariants(scenario: tuple[Cart, list[Offer], OfferQuote]) -> None:
    cart, _, quote = scenario
    assert quote.total == sum(line.amount for line in quote.breakup)
    assert quote.total >= 0
    wire = quote_wire(quote)
    assert Decimal(wire["price"]["value"]) == sum(
        Decimal(e["price"]["value"]) for e in wire["breakup"]
    )
    assert to_paise(wire["price"]["value"]) == quote.total
    if any(not a.offer.additive for a in quote.applied):
        assert len(quote.applied) == 1  # a non-additive offer is never combined
    on_items = on_delivery = 0
    for applied in quote.applied:
        offer = applied.offer
        assert offer.is_valid_at(AT) and offer.at_location(cart.location_id)
        if offer.type in ITEMS_GIVEN:
            assert applied.discount == 0 and applied.gift_count > 0
            continue
        assert 0 < applied.discount <= (offer.benefit.cap_paise or applied.discount)
        if offer.type is OfferType.DELIVERY:
            assert applied.discount <= cart.delivery
            on_delivery += applied.discount
        else:
            lines = {line.item_id for line in covered(offer, cart)} | set(offer.qualifier.item_ids)
            assert applied.discount <= sum(c.value for c in cart.lines if c.item_id in lines)
            on_items += applied.discount
    assert on_items <= cart.value and on_delivery <= cart.delivery


@st.composite
def cancellations(draw: st.DrawFn) -> tuple[OfferQuote, list[dict[str, int]]]:
    """An order and the units taken out of it, step by step, until nothing is left."""
    _, _, quote = draw(scenarios())
    left = {line.item_id: line.quantity for line in quote.cart.lines}
    steps = []
    for _ in range(draw(st.integers(0, 4))):
        step = {}
        for item_id, units in left.items():
            taken = draw(st.integers(0, units))
            if taken:
                step[item_id] = taken
                left[item_id] -= taken
        steps.append(step)
    steps.append({item_id: units for item_id, units in left.items() if units})
    return quote, steps


@settings(max_examples=400, deadline=None)
@given(cancellations())
def test_refunds_never_exceed_what_was_paid(case: tuple[OfferQuote, list[dict[str, int]]]) -> None:
    check_refunds(*case)


@st.composite
def cliffs(draw: st.DrawFn) -> tuple[OfferQuote, list[dict[str, int]]]:
    """Orders whose offers' minimum value is just met, cancelled a unit at a time: the
    discount withdrawn exceeds the value that leaves, and the buyer keeps the difference."""
    lines = tuple(
        CartLine(f"I{i}", draw(st.integers(100, 100_000)), draw(st.integers(1, 3)))
        for i in range(draw(st.integers(2, 4)))
    )
    cart = Cart(lines, delivery=draw(st.integers(0, 10_000)), location_id="L1")
    slack = draw(st.integers(0, min(line.unit_price for line in lines) - 1))
    catalogue = []
    for i in range(draw(st.integers(1, 3))):
        benefit: dict[str, Any] = (
            {"amount_paise": draw(st.integers(1, cart.value))}
            if draw(st.booleans())
            else {"percent": Decimal(draw(st.integers(1, 10_000))) / 100}
        )
        catalogue.append(
            load_offer(
                {
                    "id": f"O{i}",
                    "provider_id": "P1",
                    "type": draw(st.sampled_from(["discount", "discount", "delivery"])),
                    "valid_from": AT,
                    "valid_to": AT + timedelta(hours=1),
                    "qualifier": {"min_value_paise": cart.value - slack},
                    "benefit": benefit,
                    "additive": draw(st.booleans()),
                    "auto": True,
                }
            )
        )
    quote = apply_offers(cart, catalogue, at=AT)
    units = [line.item_id for line in lines for _ in range(line.quantity)]
    order = draw(st.permutations(units))
    return quote, [{item_id: 1} for item_id in order]


@settings(max_examples=300, deadline=None)
@given(cliffs())
def test_refunds_when_a_minimum_value_is_lost(
    case: tuple[OfferQuote, list[dict[str, int]]],
) -> None:
    check_refunds(*case)


def check_refunds(quote: OfferQuote, steps: list[dict[str, int]]) -> None:
    paid, refunded, current = quote.total, 0, quote
    for step in steps:
        change = refund(current, step)
        assert 0 <= change.amount <= current.total
        assert change.after.total == current.total - change.amount  # never rises
        assert change.after.total == sum(line.amount for line in change.after.breakup)
        for before, after in zip(current.applied, change.after.applied, strict=True):
            assert after.discount <= before.discount and after.gift_count <= before.gift_count
            assert after.discount <= (before.offer.benefit.cap_paise or before.discount)
        refunded += change.amount
        assert refunded <= paid
        current = change.after
    assert current.total == 0
    assert refunded == paid  # cancelling everything gives back everything


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_cancelling_everything_at_once_refunds_what_was_paid(
    scenario: tuple[Cart, list[Offer], OfferQuote],
) -> None:
    _, _, quote = scenario
    everything = {line.item_id: line.quantity for line in quote.cart.lines}
    assert refund(quote, everything).amount == quote.total


@settings(max_examples=200, deadline=None)
@given(scenarios(), st.data())
def test_removing_lines_never_raises_the_order_total(
    scenario: tuple[Cart, list[Offer], OfferQuote], data: st.DataObject
) -> None:
    _, _, quote = scenario
    line = data.draw(st.sampled_from(quote.cart.lines))
    change = refund(quote, {line.item_id: line.quantity}, drop_charges=data.draw(st.booleans()))
    assert change.after.total <= quote.total


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 100).flatmap(lambda n: offers(f"O{n}")))
def test_catalog_offers_round_trip(offer: Offer) -> None:
    assert parse_catalog_offer(catalog_offer(offer), "P1") == offer


@given(st.integers(-(10**13), 10**13))
def test_paise_round_trip(amount: int) -> None:
    assert to_paise(to_rupees(amount)) == amount
