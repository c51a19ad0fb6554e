"""Database access for orders: look-ups (optionally row-locked), the idempotent claim of an
order row, drafts and the transition journal. Everything runs in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.orders.tables import OrderDraft, OrderRecord, OrderTransition


async def find_by_transaction(
    session: AsyncSession, transaction_id: str, *, lock: bool = False
) -> OrderRecord | None:
    stmt = select(OrderRecord).where(OrderRecord.transaction_id == transaction_id)
    if lock:
        # serialises concurrent changes to one order on PostgreSQL; SQLite locks the database
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def find_by_order_id(
    session: AsyncSession, order_id: str, *, bap_id: str | None = None, lock: bool = False
) -> OrderRecord | None:
    stmt = select(OrderRecord).where(OrderRecord.order_id == order_id)
    if bap_id is not None:
        stmt = stmt.where(OrderRecord.bap_id == bap_id)
    stmt = stmt.order_by(OrderRecord.id.desc())
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def find_for_request(
    session: AsyncSession, *, transaction_id: str, order_id: str | None, lock: bool = False
) -> OrderRecord | None:
    """The order a post-confirm request (status, cancel, ...) refers to: same transaction and,
    when the request names one, the same order id."""
    record = await find_by_transaction(session, transaction_id, lock=lock)
    if record is None or (order_id is not None and record.order_id != order_id):
        return None
    return record


async def claim_order(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """Insert the order row unless the transaction already has one; the new primary key, or
    ``None`` when another confirm got there first (then the caller answers with that order).

    ``ON CONFLICT DO NOTHING`` instead of catching IntegrityError keeps the surrounding
    transaction usable on PostgreSQL, and waits for a concurrent insert of the same key."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(OrderRecord)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["transaction_id"])
        .returning(OrderRecord.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_draft(session: AsyncSession, transaction_id: str, stage: str) -> OrderDraft | None:
    stmt = select(OrderDraft).where(
        OrderDraft.transaction_id == transaction_id, OrderDraft.stage == stage
    )
    return (await session.scalars(stmt)).first()


async def save_draft(
    session: AsyncSession,
    *,
    transaction_id: str,
    stage: str,
    message_id: str,
    bap_id: str,
    provider_id: str,
    order: dict[str, Any],
    lines: list[dict[str, Any]],
    fulfillment: dict[str, Any],
    now: datetime,
) -> None:
    """Keep the latest answer per (transaction, stage): a second select replaces the first."""
    values = {
        "message_id": message_id,
        "bap_id": bap_id,
        "provider_id": provider_id,
        "order": order,
        "lines": lines,
        "fulfillment": fulfillment,
        "created_at": now,
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(OrderDraft).values(transaction_id=transaction_id, stage=stage, **values)
    stmt = stmt.on_conflict_do_update(index_elements=["transaction_id", "stage"], set_=values)
    await session.execute(stmt)


def journal(
    session: AsyncSession,
    record: OrderRecord,
    *,
    entity: str,
    to_state: str,
    from_state: str | None,
    actor: str,
    at: datetime,
    fulfillment_id: str | None = None,
    reason: str | None = None,
    reason_code: str | None = None,
    message_id: str | None = None,
) -> None:
    session.add(
        OrderTransition(
            order_pk=record.id,
            entity=entity,
            fulfillment_id=fulfillment_id,
            from_state=from_state,
            to_state=to_state,
            actor=actor,
            reason=reason,
            reason_code=reason_code,
            message_id=message_id,
            at=at,
        )
    )


async def transitions(session: AsyncSession, order_pk: int) -> list[OrderTransition]:
    stmt = (
        select(OrderTransition)
        .where(OrderTransition.order_pk == order_pk)
        .order_by(OrderTransition.id)
    )
    return list((await session.scalars(stmt)).all())


async def list_orders(
    session: AsyncSession, *, state: str | None = None, limit: int = 50, offset: int = 0
) -> list[OrderRecord]:
    stmt = select(OrderRecord).order_by(OrderRecord.updated_at.desc(), OrderRecord.id.desc())
    if state:
        stmt = stmt.where(OrderRecord.state == state)
    return list((await session.scalars(stmt.limit(limit).offset(offset))).all())
