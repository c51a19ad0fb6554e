"""Refunds agreed after an order was confirmed (today: an IGM resolution the buyer accepted).

They are kept apart from the quote: the quote is what the buyer app shows as the order's price,
and ONDC changes it only through cancels and returns (``quote_trail``). A refund agreed in a
complaint is money paid back against the order, recorded once per (source, reference) and shown
with the order as a ``quote_trail``-style entry.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.orders.tables import OrderRecord, OrderSettlement


class RefundTooLarge(ValueError):
    pass


async def of_order(session: AsyncSession, order_pk: int) -> list[OrderSettlement]:
    rows = await session.scalars(
        select(OrderSettlement)
        .where(OrderSettlement.order_pk == order_pk)
        .order_by(OrderSettlement.id)
    )
    return list(rows)


async def refundable(session: AsyncSession, record: OrderRecord) -> Decimal:
    """What may still be refunded: the order's current total less the refunds recorded."""
    paid = Decimal(str(record.quote["price"]["value"]))
    refunded = sum((Decimal(s.amount) for s in await of_order(session, record.id)), Decimal(0))
    return max(paid - refunded, Decimal(0))


async def record_refund(
    session: AsyncSession,
    record: OrderRecord,
    *,
    amount: Decimal,
    item_id: str | None,
    source: str,
    reference: str,
    note: str | None,
    now: datetime,
) -> OrderSettlement | None:
    """Record a refund once; None when this (source, reference) is already recorded."""
    existing = await session.scalar(
        select(OrderSettlement).where(
            OrderSettlement.source == source, OrderSettlement.reference == reference
        )
    )
    if existing is not None:
        return None
    if amount <= 0 or amount > await refundable(session, record):
        raise RefundTooLarge(f"refund {amount} exceeds what the order may still refund")
    row = OrderSettlement(
        order_pk=record.id,
        kind="refund",
        amount=f"{amount:.2f}",
        item_id=item_id,
        source=source,
        reference=reference,
        note=note,
        at=now,
    )
    session.add(row)
    await session.flush()
    return row


def as_quote_trail(rows: list[OrderSettlement]) -> list[dict[str, Any]]:
    """The refunds as ``quote_trail`` entries (negative values, as ONDC writes refunds)."""
    return [
        {
            "type": "refund",
            "id": row.item_id or row.reference,
            "currency": "INR",
            "value": f"-{Decimal(row.amount):.2f}",
            "source": row.source,
            "reference": row.reference,
            "at": row.at.isoformat(),
        }
        for row in rows
    ]
