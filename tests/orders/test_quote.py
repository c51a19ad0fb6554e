"""Quote arithmetic: breakup lines always add up to the price, to the paisa."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from ondc_adapter.orders.quote import (
    CatalogueLine,
    Charges,
    commercial_terms,
    compute_quote,
    trail,
)
from ondc_adapter.protocol.money import to_money
from ondc_adapter.protocol.order_objects import Quote

money = st.decimals(min_value="0.01", max_value="99999.99", places=2)
rates = st.sampled_from([Decimal(r) for r in ("0", "5", "12", "18", "28", "2.5", "0.25")])


@st.composite
def baskets(draw):
    n = draw(st.integers(1, 6))
    catalogue = {}
    requested = []
    for i in range(n):
        item_id = f"I{i}"
        price = draw(money)
        catalogue[item_id] = CatalogueLine(
            id=item_id,
            title=f"Item {i}",
            unit_price=price,
            available=draw(st.integers(0, 30)),
            maximum=draw(st.integers(1, 20)),
            tax_rate=draw(rates),
            discount=draw(st.sampled_from([Decimal("0"), Decimal("0.01"), price / 3])),
        )
        requested.append((item_id, draw(st.integers(1, 40))))
    charges = Charges(draw(money), draw(st.sampled_from([Decimal("0"), Decimal("12.34")])),
                      draw(st.sampled_from([Decimal("0"), Decimal("9.99")])))
    return requested, catalogue, charges, draw(st.booleans())


@settings(max_examples=300, deadline=None)
@given(baskets())
def test_total_is_the_sum_of_the_wire_breakup(basket) -> None:
    requested, catalogue, charges, serviceable = basket
    result = compute_quote(requested, catalogue, charges, serviceable=serviceable)
    wire = result.wire(availability=True)
    Quote.model_validate(wire)  # parses with the protocol model
    total = sum((Decimal(b["price"]["value"]) for b in wire["breakup"]), Decimal("0"))
    assert Decimal(wire["price"]["value"]) == total
    for b in wire["breakup"]:
        assert b["price"]["value"] == f"{Decimal(b['price']['value']):.2f}"
    for item_id, asked in requested:
        supplied = result.supplied[item_id]
        offer = catalogue[item_id]
        assert 0 <= supplied <= min(asked, max(offer.available, 0), offer.maximum)
        codes = {i.code.value for i in result.issues if i.item_id == item_id}
        if asked > offer.available:
            assert codes == {"40002"}
        elif asked > offer.maximum:
            assert codes == {"40009"}
        else:
            assert not codes and supplied == asked
    assert any(b["@ondc/org/title_type"] == "delivery" for b in wire["breakup"]) is serviceable
    err = result.error()
    if not serviceable:
        assert err is not None and err.code == "30009"
    elif result.issues:
        assert err is not None
        listed = json.loads(err.message or "[]")
        assert {d["item_id"] for d in listed} == {i.item_id for i in result.issues}
    else:
        assert err is None


@settings(max_examples=200, deadline=None)
@given(baskets(), st.data())
def test_repricing_trail_explains_the_difference(basket, data) -> None:
    requested, catalogue, charges, _ = basket
    big = {k: replace(v, available=1000, maximum=1000) for k, v in catalogue.items()}
    before = compute_quote(requested, big, charges, check_availability=False)
    fewer = [(i, data.draw(st.integers(0, n))) for i, n in requested]
    after = compute_quote(fewer, big, charges, check_availability=False)
    deltas = trail(before, after)
    assert sum((d for _, _, d in deltas), Decimal(0)) == after.total - before.total
    # fewer units: item and tax lines shrink, discounts (negative lines) shrink towards zero
    assert all(d <= 0 for kind, _, d in deltas if kind in ("item", "tax"))
    assert all(d >= 0 for kind, _, d in deltas if kind == "discount")


def test_titles_and_types_follow_lvu() -> None:
    line = CatalogueLine("I1", "Saree", Decimal("999.99"), 5, 5, tax_rate=Decimal("5"),
                         discount=Decimal("100"))
    q = compute_quote([("I1", 2)], {"I1": line}, Charges(Decimal("40"), Decimal("15"),
                                                         Decimal("5")))
    got = [(b["title"], b["@ondc/org/title_type"], b["@ondc/org/item_id"], b["price"]["value"])
           for b in q.wire()["breakup"]]
    assert got == [
        ("Saree", "item", "I1", "1999.98"),
        ("Discount", "discount", "I1", "-200.00"),
        ("Tax", "tax", "I1", "90.00"),  # 5 % of 1799.98 = 89.999 -> 90.00
        ("Delivery charges", "delivery", "F1", "40.00"),
        ("Packing charges", "packing", "F1", "15.00"),
        ("Convenience Fee", "misc", "F1", "5.00"),
    ]
    assert q.wire()["price"]["value"] == "1949.98"


def test_commercial_terms_ignore_availability_hints_and_number_format() -> None:
    line = CatalogueLine("I1", "Lamp", Decimal("170"), 99, 99)
    q = compute_quote([("I1", 2)], {"I1": line}, Charges(Decimal("25")))
    with_hints, plain = q.wire(availability=True), q.wire()
    assert with_hints != plain
    assert commercial_terms(with_hints) == commercial_terms(plain)
    reformatted = json.loads(json.dumps(plain).replace('"340.00"', '"340.0"'))
    assert commercial_terms(reformatted) == commercial_terms(plain)
    changed = json.loads(json.dumps(plain).replace('"340.00"', '"341.00"'))
    assert commercial_terms(changed) != commercial_terms(plain)


@given(st.decimals(min_value="-1e9", max_value="1e9", places=6))
def test_money_parses_and_prints_two_decimals(value) -> None:
    from ondc_adapter.protocol.money import format_money

    text = format_money(to_money(str(value)))
    assert text == f"{to_money(text):.2f}"
    assert abs(Decimal(text) - value) <= Decimal("0.005")
