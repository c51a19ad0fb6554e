"""The refund rule (docs/offers.md, "Refunds"), case by case."""

from __future__ import annotations

import pytest

from ondc_adapter.offers import apply_offers, refund
from tests.offers.helpers import AT, cart, offer

FLAT150 = offer(
    "flat150",
    "discount",
    qualifier={"min_value_paise": 49900},
    benefit={"amount_paise": 15000},
    additive=True,
)


def test_a_lost_minimum_is_withdrawn_from_the_refund() -> None:
    order = apply_offers(cart(("I1", 30000, 1), ("I2", 25000, 1), delivery=4000), [FLAT150], at=AT)
    assert order.total == 55000 + 4000 - 15000
    change = refund(order, {"I2": 1})  # 300.00 left, below 499.00: the 150.00 goes
    assert change.amount == 25000 - 15000
    assert change.after.applied_offer("flat150").discount == 0
    assert change.trail == (("item", "I2", -25000), ("offer", "flat150", 15000))


def test_the_buyer_keeps_what_the_cancelled_value_does_not_cover() -> None:
    # 490.00 + 20.00 qualifies for 150.00 off (paid 360.00); without the 20.00 it would not,
    # but taking 150.00 back for a 20.00 item would make the buyer owe 130.00: the refund is
    # 0 and 130.00 of the discount stays
    order = apply_offers(cart(("I1", 49000, 1), ("I2", 2000, 1)), [FLAT150], at=AT)
    change = refund(order, {"I2": 1})
    assert (order.total, change.amount, change.after.total) == (36000, 0, 36000)
    assert change.after.applied_offer("flat150").discount == 13000
    assert change.trail == (("item", "I2", -2000), ("offer", "flat150", 2000))
    # the rest, later: everything paid comes back
    assert refund(change.after, {"I1": 1}).amount == 36000
    # a fresh quote of the smaller cart has no offer: that is why "removing lines never
    # raises the total" holds for an order being cancelled, not for a new quote
    assert apply_offers(cart(("I1", 49000, 1)), [FLAT150], at=AT).total == 49000


def test_no_offer_gives_more_after_a_cancel_than_before() -> None:
    # a80 takes 80.00 of I1's 100.00, b50 gets only the 20.00 left; when a80's minimum goes,
    # b50 could take 50.00 of I1 again, but it stays at the 20.00 it gave
    a80 = offer(
        "a80",
        "discount",
        item_ids=("I1",),
        qualifier={"min_value_paise": 30000},
        benefit={"amount_paise": 8000},
        additive=True,
    )
    b50 = offer("b50", "discount", item_ids=("I1",), benefit={"amount_paise": 5000}, additive=True)
    order = apply_offers(cart(("I1", 10000, 1), ("I2", 25000, 1)), [a80, b50], at=AT)
    assert [(a.offer.id, a.discount) for a in order.applied] == [("a80", 8000), ("b50", 2000)]
    change = refund(order, {"I2": 1})
    assert [(a.offer.id, a.discount) for a in change.after.applied] == [("a80", 0), ("b50", 2000)]
    assert change.amount == 25000 - 8000


def test_delivery_is_refunded_with_the_last_unit_unless_kept() -> None:
    order = apply_offers(cart(("I1", 30000, 2), delivery=5000), [], at=AT)
    part = refund(order, {"I1": 1})
    assert part.amount == 30000  # the order still ships: the delivery charge stays
    assert refund(part.after, {"I1": 1}).amount == 35000
    kept = refund(order, {"I1": 2}, drop_charges=False)  # e.g. a full return after delivery
    assert kept.amount == 60000 and kept.after.total == 5000
    early = refund(order, {"I1": 1}, drop_charges=True)
    assert early.amount == 35000


def test_free_delivery_goes_with_the_charge() -> None:
    free = offer("ship", "delivery", benefit={"percent": "100"})
    order = apply_offers(cart(("I1", 30000, 1), delivery=5000), [free], at=AT)
    assert order.total == 30000
    change = refund(order, {"I1": 1})
    assert change.amount == 30000
    assert change.trail == (
        ("item", "I1", -30000),
        ("delivery", "F1", -5000),
        ("offer", "ship", 5000),
    )


@pytest.mark.parametrize("removed", [{"I1": 3}, {"I1": -1}, {"I9": 1}])
def test_refund_refuses_units_not_in_the_order(removed: dict[str, int]) -> None:
    order = apply_offers(cart(("I1", 30000, 2)), [], at=AT)
    with pytest.raises(ValueError):
        refund(order, removed)
