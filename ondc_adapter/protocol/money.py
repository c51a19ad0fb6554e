"""Amounts in the order messages: ``Decimal`` inside, a string with exactly two decimals on
the wire ("170.00").

Inbound values such as "600.0" (and bare numbers, which some buyer apps send) are accepted and
rounded to the paisa. ``Money`` is the Pydantic type the order models use; ``format_money`` is
for code that writes wire JSON itself (quotes, settlement terms, quote trails).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

PAISA = Decimal("0.01")
_MONEY_TEXT = re.compile(r"^-?\d{1,12}(?:\.\d{1,6})?$")


def to_money(value: Any) -> Decimal:
    """Parse a wire amount ("170", "170.0", "170.00", 170) into a Decimal rounded to the paisa."""
    if isinstance(value, bool):
        raise ValueError("amount must be a decimal string")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        # floats are not valid on the wire but some buyer apps send them; str() keeps 2 decimals
        number = Decimal(str(value))
    elif isinstance(value, str) and _MONEY_TEXT.match(value.strip()):
        try:
            number = Decimal(value.strip())
        except InvalidOperation as exc:  # pragma: no cover - regex guards this
            raise ValueError("amount must be a decimal string") from exc
    else:
        raise ValueError("amount must be a decimal string such as '170.00'")
    if not number.is_finite():
        raise ValueError("amount must be finite")
    return number.quantize(PAISA, rounding=ROUND_HALF_UP)


def format_money(value: Decimal) -> str:
    return f"{value.quantize(PAISA, rounding=ROUND_HALF_UP):.2f}"


Money = Annotated[
    Decimal,
    BeforeValidator(to_money),
    PlainSerializer(format_money, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d{1,12}(\.\d{1,6})?$"}),
]
