"""Paise (integers) inside, the wire's rupee strings ("123.45") outside.

Offer arithmetic is done in whole paise so that no rounding can creep in between a discount,
the breakup line that shows it and the total. The two conversions here are exact: a wire
amount that is not a whole number of paise ("1.005") is refused rather than rounded, and
``to_rupees`` is the inverse of ``to_paise``. The string form is ``protocol.money``'s, so
offer lines look like every other amount the node sends.
"""

from __future__ import annotations

from decimal import Decimal

from ondc_adapter.protocol.money import format_money, to_money

PAISE_PER_RUPEE = 100


def to_paise(value: str | int | Decimal) -> int:
    """``"123.45"`` -> ``12345``; ``"-120"`` -> ``-12000``. Refuses fractions of a paisa."""
    rupees = to_money(value)  # syntax check; rounds to the paisa, which is why we compare
    exact = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    if exact != rupees:
        raise ValueError(f"{value!r} is not a whole number of paise")
    return int(rupees.scaleb(2))


def to_rupees(paise: int) -> str:
    """``12345`` -> ``"123.45"``; ``-12000`` -> ``"-120.00"`` (two decimals, as ONDC sends)."""
    return format_money(Decimal(paise).scaleb(-2))


def percent_text(percent: Decimal, *, negative: bool = False) -> str:
    """A percent as the offer tags carry it: ``Decimal("60")`` -> ``"60.00"`` (or ``"-60.00"``)."""
    value = -percent if negative else percent
    return f"{value.quantize(Decimal('0.01')):.2f}"
