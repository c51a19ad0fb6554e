"""A 1.2.5 order's offer lines through a cancel (orders.repricing._carry_offers): the quote
trail never refunds more than was paid, and the total never rises."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ondc_adapter.orders.repricing import _carry_offers


def _line(kind: str, ident: str, value: Decimal) -> dict[str, Any]:
    return {"@ondc/org/item_id": ident, "@ondc/org/title_type": kind,
            "price": {"currency": "INR", "value": f"{value:.2f}"}}


def _quote(lines: list[dict[str, Any]]) -> dict[str, Any]:
    total = sum(Decimal(x["price"]["value"]) for x in lines)
    return {"price": {"currency": "INR", "value": f"{total:.2f}"}, "breakup": lines}


def test_a_full_cancel_takes_the_discount_back_in_the_trail() -> None:
    old = _quote([_line("item", "I1", Decimal("1893")), _line("delivery", "F1", Decimal("50")),
                  _line("offer", "flat50", Decimal("-50"))])
    new = _quote([_line("item", "I1", Decimal("0")), _line("delivery", "F1", Decimal("0"))])
    trail = _carry_offers(old, new, units_left=False)
    assert trail == [("offer", "flat50", Decimal("50.00"))]
    assert new["price"]["value"] == "0.00"
    assert new["breakup"][-1]["price"]["value"] == "0.00"
    # item -1893, delivery -50, offer +50: exactly what was paid
    assert Decimal("-1893") - 50 + trail[0][2] == -Decimal(old["price"]["value"])


money = st.integers(min_value=0, max_value=500_000).map(lambda p: Decimal(p) / 100)


@given(paid_lines=st.lists(money, min_size=1, max_size=4), left=st.lists(money, max_size=4),
       discounts=st.lists(money, min_size=1, max_size=3))
def test_the_refund_never_exceeds_what_was_paid(
    paid_lines: list[Decimal], left: list[Decimal], discounts: list[Decimal]
) -> None:
    before = sum(paid_lines)
    discounts = [min(d, before) for d in discounts]
    taken = Decimal(0)
    offers = []
    for n, d in enumerate(discounts):  # the confirmed quote never went below zero
        d = min(d, before - taken)
        taken += d
        offers.append(_line("offer", f"o{n}", -d))
    old = _quote([*(_line("item", f"I{n}", v) for n, v in enumerate(paid_lines)), *offers])
    remaining = [min(v, paid_lines[n % len(paid_lines)]) for n, v in enumerate(left)]
    new = _quote([_line("item", f"I{n}", v) for n, v in enumerate(remaining)])
    _carry_offers(old, new, units_left=bool(remaining))
    after = Decimal(new["price"]["value"])
    assert after >= 0
    assert after == sum(Decimal(x["price"]["value"]) for x in new["breakup"])
    refund = Decimal(old["price"]["value"]) - after
    assert refund <= Decimal(old["price"]["value"])
    if not remaining:
        assert after == 0
