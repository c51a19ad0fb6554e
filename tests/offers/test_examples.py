"""One worked example per 1.2.5 offer type, with the figures of the 1.2.5 examples
(ONDC's retail developer guide, api/docs/offers.md; docs/offers.md here), in paise."""

from __future__ import annotations

from datetime import timedelta

from ondc_adapter.offers import GiftStock, apply_offers, refund
from ondc_adapter.offers.render import quote_wire
from ondc_adapter.protocol.errors import Code
from tests.offers.helpers import AT, END, cart, offer

DISCP60 = offer(
    "discp60",
    "discount",
    item_ids=("I1",),
    qualifier={"min_value_paise": 15900},
    benefit={"percent": "60", "cap_paise": 12000},
    additive=True,
    auto=False,
)
FLAT150 = offer(
    "flat150",
    "discount",
    item_ids=("I1",),
    category_ids=("C1", "C2"),
    qualifier={"min_value_paise": 49900},
    benefit={"amount_paise": 15000},
    additive=True,
    auto=True,
)
BUY2GET3 = offer(
    "buy2get3",
    "buyXgetY",
    item_ids=("I1", "I2"),
    qualifier={"item_count": 2},
    benefit={"item_id": "I2", "item_count": 1, "item_value_paise": 0},
)
FREEBIE1 = offer(
    "freebie1",
    "freebie",
    item_ids=("I1",),
    qualifier={"min_value_paise": 59800},
    benefit={"item_id": "I4", "item_count": 1, "item_value_paise": 20000},
    title="Free item of ₹200 on minimum cart value of ₹598",
)
SLAB1 = offer(
    "slab1",
    "slab",
    item_ids=("I1",),
    qualifier={"item_count": 6, "item_count_upper": 9},
    benefit={"percent": "10", "cap_paise": 10000},
)
SLAB2 = offer(
    "slab2",
    "slab",
    item_ids=("I1",),
    qualifier={"item_count": 10},
    benefit={"percent": "20", "cap_paise": 20000},
)
COMBO1 = offer(
    "combo1",
    "combo",
    item_ids=("I1", "I2"),
    qualifier={"item_ids": ("I4", "I5")},
    benefit={"percent": "50", "cap_paise": 20000},
)
DELIVERY1 = offer(
    "delivery1",
    "delivery",
    item_ids=("I1",),
    qualifier={"min_value_paise": 29900},
    benefit={"percent": "100", "cap_paise": 7500},
)


def offer_lines(quote_dict: dict) -> dict[str, str]:
    return {
        e["@ondc/org/item_id"]: e["price"]["value"]
        for e in quote_dict["breakup"]
        if e["@ondc/org/title_type"] == "offer"
    }


def test_discount_percent_capped_and_flat_amount_together() -> None:
    # the 1.2.5 on_select: flat150 (auto) -150.00 and discp60 (chosen) -120.00, both additive
    quote = apply_offers(
        cart(("I1", 50000, 1, "C1"), delivery=5000), [DISCP60, FLAT150], at=AT, chosen={"discp60"}
    )
    wire = quote_wire(quote)
    assert offer_lines(wire) == {"discp60": "-120.00", "flat150": "-150.00"}
    assert wire["price"]["value"] == "280.00"  # 500 + 50 - 120 - 150


def test_discount_percent_below_the_cap_and_opt_in() -> None:
    quote = apply_offers(cart(("I1", 18000, 1)), [DISCP60, FLAT150], at=AT, chosen={"discp60"})
    assert [(a.offer.id, a.discount) for a in quote.applied] == [("discp60", 10800)]  # 60% of 180
    # discp60 is not auto: without the buyer's choice only flat150 is considered
    assert apply_offers(cart(("I1", 60000, 1, "C1")), [DISCP60], at=AT).applied == ()


def test_discount_refusals_carry_the_ondc_code_only_when_asked_for() -> None:
    quote = apply_offers(
        cart(("I1", 15000, 1, "C1")), [DISCP60, FLAT150], at=AT, chosen={"discp60", "nope"}
    )
    codes = {r.offer_id: r.code for r in quote.rejected}
    # 150.00 < 159.00; flat150 was not asked for, so its refusal is no error; nope is unknown
    assert codes == {
        "nope": Code.OFFER_CODE_INVALID,
        "discp60": Code.OFFER_CODE_INVALID,
        "flat150": None,
    }
    late = apply_offers(
        cart(("I1", 60000, 1)), [DISCP60], at=END + timedelta(1), chosen={"discp60"}
    )
    assert late.applied == () and late.rejected[0].reason == "not valid at this time"


def test_discount_intersects_items_and_categories() -> None:
    # flat150 covers I1 in C1 or C2: an I1 of another category is not covered
    quote = apply_offers(cart(("I1", 60000, 1, "C9")), [FLAT150], at=AT)
    assert quote.applied == ()


def test_buy_x_get_y_gives_the_extra_unit_free() -> None:
    # scenario 1: two I2 selected, one more I2 at 0.00, as a count-1 offer line
    quote = apply_offers(
        cart(("I2", 25000, 2)), [BUY2GET3], at=AT, gifts={"I2": GiftStock(25000, 5)}
    )
    (entry,) = [e for e in quote_wire(quote)["breakup"] if e["@ondc/org/title_type"] == "offer"]
    assert entry["@ondc/org/item_quantity"] == {"count": 1}
    assert entry["price"]["value"] == "0.00"
    assert quote.total == 50000
    # for every 2 bought: 5 units give 2 sets, but only one unit is left to give
    five = apply_offers(
        cart(("I2", 25000, 5)), [BUY2GET3], at=AT, gifts={"I2": GiftStock(25000, 1)}
    )
    assert five.applied[0].gift_count == 1
    none_left = apply_offers(cart(("I2", 25000, 2)), [BUY2GET3], at=AT, chosen={"buy2get3"})
    assert none_left.rejected[0].code is Code.OFFER_FULFILLMENT_ERROR


def test_buy_x_get_y_at_an_offered_price() -> None:
    half = offer(
        "b2g1half",
        "buyXgetY",
        qualifier={"item_count": 2},
        benefit={"item_id": "I1", "item_count": 1, "item_value_paise": 12500},
    )
    quote = apply_offers(cart(("I1", 25000, 4)), [half], at=AT, gifts={"I1": GiftStock(25000, 9)})
    assert quote.applied[0].gift_count == 2
    assert quote.total == 4 * 25000 + 2 * 12500  # the extra units are paid at the offered price
    assert quote.applied[0].worth == 2 * 12500


def test_freebie_on_minimum_cart_value() -> None:
    quote = apply_offers(
        cart(("I1", 60000, 1)), [FREEBIE1], at=AT, gifts={"I4": GiftStock(20000, 3)}
    )
    (entry,) = [e for e in quote_wire(quote)["breakup"] if e["@ondc/org/title_type"] == "offer"]
    assert entry["title"] == "Free item of ₹200 on minimum cart value of ₹598"
    assert (entry["@ondc/org/item_quantity"]["count"], entry["price"]["value"]) == (1, "0.00")
    assert quote.total == 60000
    short = apply_offers(cart(("I1", 59799, 1)), [FREEBIE1], at=AT, gifts={"I4": GiftStock(1, 3)})
    assert short.applied == ()


def test_slabs_by_unit_count() -> None:
    # ten I1 at 150.00: slab2 (10+) 20% of 1500.00 = 300.00, capped at 200.00
    quote = apply_offers(cart(("I1", 15000, 10)), [SLAB1, SLAB2], at=AT)
    assert offer_lines(quote_wire(quote)) == {"slab2": "-200.00"}
    assert "outside the slab (6-9)" in quote.rejected[0].reason
    seven = apply_offers(cart(("I1", 15000, 7)), [SLAB1, SLAB2], at=AT)
    assert [(a.offer.id, a.discount) for a in seven.applied] == [("slab1", 10000)]  # 105.00 > cap
    six = apply_offers(cart(("I1", 9000, 6)), [SLAB1, SLAB2], at=AT)
    assert six.applied[0].discount == 5400  # 10% of 540.00


def test_combo_needs_every_secondary_item() -> None:
    lines = [("I1", 30000, 1), ("I4", 10000, 1), ("I5", 10000, 1)]
    quote = apply_offers(cart(*lines), [COMBO1], at=AT)
    assert offer_lines(quote_wire(quote)) == {"combo1": "-200.00"}  # 50% of 500.00, capped
    partial = apply_offers(cart(*lines[:2]), [COMBO1], at=AT, chosen={"combo1"})
    assert partial.rejected[0].reason == "the combo needs I5 in the cart"


def test_delivery_offer_takes_the_delivery_charge_off() -> None:
    quote = apply_offers(cart(("I1", 30000, 1), delivery=10000), [DELIVERY1], at=AT)
    wire = quote_wire(quote)
    assert offer_lines(wire) == {"delivery1": "-75.00"}  # 100% of 100.00, capped at 75.00
    (entry,) = [e for e in wire["breakup"] if e["@ondc/org/title_type"] == "offer"]
    assert entry["item"]["tags"][0] == {
        "code": "quote",
        "list": [{"code": "type", "value": "fulfillment"}],
    }
    free = apply_offers(cart(("I1", 30000, 1), delivery=4000), [DELIVERY1], at=AT)
    assert free.total == 30000  # free delivery: the negative of the delivery line


def test_non_additive_offers_are_not_combined() -> None:
    # freebie1 (non-additive, worth 200.00) against flat150 (additive, 150.00): the freebie
    quote = apply_offers(
        cart(("I1", 60000, 1, "C1")), [FLAT150, FREEBIE1], at=AT, gifts={"I4": GiftStock(20000, 1)}
    )
    assert [a.offer.id for a in quote.applied] == ["freebie1"]
    assert "not combinable" in quote.rejected[0].reason
    # a cheaper gift: the additive discount saves more
    cheap = apply_offers(
        cart(("I1", 60000, 1, "C1")), [FLAT150, FREEBIE1], at=AT, gifts={"I4": GiftStock(9900, 1)}
    )
    assert [a.offer.id for a in cheap.applied] == ["flat150"]
    # the buyer may decline an auto offer
    declined = apply_offers(
        cart(("I1", 60000, 1, "C1")),
        [FLAT150, FREEBIE1],
        at=AT,
        declined={"freebie1"},
        gifts={"I4": GiftStock(20000, 1)},
    )
    assert [a.offer.id for a in declined.applied] == ["flat150"]


def test_percent_rounds_half_up_to_the_paisa() -> None:
    tenth = offer("p125", "discount", benefit={"percent": "12.5"})
    assert apply_offers(cart(("I1", 9999, 1)), [tenth], at=AT).discount == 1250  # 1249.875
    five = offer("p5", "discount", benefit={"percent": "5"})
    assert apply_offers(cart(("I1", 10, 1)), [five], at=AT).discount == 1  # 0.5 paisa up
    assert apply_offers(cart(("I1", 30, 1)), [five], at=AT).discount == 2  # 1.5 paise up
    assert apply_offers(cart(("I1", 29, 1)), [five], at=AT).discount == 1  # 1.45 paise down


def test_reversal_examples() -> None:
    # discp60 rolled back by 60.00 (the 1.2.5 reverse example): one of two I1 cancelled
    order = apply_offers(
        cart(("I1", 10000, 2), ("I3", 10000, 1)), [DISCP60], at=AT, chosen={"discp60"}
    )
    assert order.discount == 12000
    back = refund(order, {"I1": 1})
    assert back.after.applied_offer("discp60").discount == 6000  # 60% of the 100.00 left
    assert back.amount == 10000 - 6000
    assert ("offer", "discp60", 6000) in back.trail
    # combo1 rolled back by 50.00, leaving -150.00 (the 1.2.5 combo reverse example)
    combo = apply_offers(
        cart(("I1", 10000, 2), ("I4", 10000, 1), ("I5", 10000, 1)), [COMBO1], at=AT
    )
    assert combo.discount == 20000
    less = refund(combo, {"I1": 1})
    assert less.after.discount == 15000 and less.amount == 10000 - 5000
    # delivery1 withdrawn in full (75.00) when the cart falls below 299.00
    ship = apply_offers(
        cart(("I1", 30000, 1), ("I2", 10000, 1), delivery=10000), [DELIVERY1], at=AT
    )
    gone = refund(ship, {"I1": 1})
    assert ("offer", "delivery1", 7500) in gone.trail
    assert gone.amount == 30000 - 7500
    # buy2get3: the free unit goes with the qualifier, a count-only change at 0.00
    gift = apply_offers(
        cart(("I2", 25000, 2)), [BUY2GET3], at=AT, gifts={"I2": GiftStock(25000, 1)}
    )
    one = refund(gift, {"I2": 1})
    assert one.after.applied_offer("buy2get3").gift_count == 0
    assert ("offer", "buy2get3", 0) in one.trail and one.amount == 25000
