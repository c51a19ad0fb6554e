"""The durable outbox of ``on_*`` callbacks.

Seller logic calls ``enqueue`` inside its own database transaction, so a callback exists if and
only if the business change it reports was committed. It stores the message's body (serialised
once, when the message was built); the dispatcher signs and sends exactly these bytes.

The processor writes the messages its handlers return in one statement for a whole batch
(``insert_leased``; on PostgreSQL the processor's own statement, which also marks the batch's
inbox rows processed), each row already leased to the dispatcher of the same process, which gets
them in memory (``CallbackSink.adopt``) once the transaction commits instead of finding them
with a query of its own. If the process dies first, the lease runs out and any worker's
dispatcher finds the rows as it finds every due row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from ondc_adapter.exchange import OutboundMessage
from ondc_adapter.storage.base import Base, UTCDateTime

PENDING = "pending"
DELIVERED = "delivered"  # the receiver answered ACK
NACKED = "nacked"  # the receiver answered NACK: recorded, not retried blindly
EXPIRED = "expired"  # the request's TTL ran out before an ACK
# the target is not one the node may connect to (outbound.py): never sent, never retried
REFUSED = "refused"


class OutboxEntry(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    url: Mapped[str] = mapped_column(Text, nullable=False)
    transaction_id: Mapped[str] = mapped_column(String(128), nullable=False)
    message_id: Mapped[str] = mapped_column(String(128), nullable=False)
    body: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    solicited: Mapped[bool] = mapped_column(default=True, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)


class OutboxAttempt(Base):
    """One delivery attempt: what the receiver said (or why nothing was said)."""

    __tablename__ = "outbox_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    outbox_id: Mapped[int] = mapped_column(
        ForeignKey("outbox.id", ondelete="CASCADE"), nullable=False, index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    http_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ack: Mapped[str | None] = mapped_column(String(8), nullable=True)  # ACK / NACK / None
    error_code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    elapsed_ms: Mapped[float | None] = mapped_column(nullable=True)


async def enqueue(session: AsyncSession, message: OutboundMessage, *, now: datetime) -> OutboxEntry:
    """Add ``message`` to the outbox in the caller's transaction; due immediately."""
    entry = OutboxEntry(
        created_at=now,
        action=message.action,
        url=message.url,
        transaction_id=message.transaction_id,
        message_id=message.message_id,
        body=message.body,
        solicited=message.solicited,
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
        expires_at=message.expires_at,
    )
    session.add(entry)
    return entry


@dataclass(slots=True)
class Callback:
    """A leased outbox row as the dispatcher works with it (no ORM identity: rows come from
    a claim statement or straight from the processor that wrote them)."""

    id: int
    action: str
    url: str
    transaction_id: str
    message_id: str
    body: bytes
    attempts: int
    created_at: datetime
    expires_at: datetime
    leased_until: datetime
    last_error: str | None = None

    @classmethod
    def of(cls, entry: OutboxEntry) -> Callback:
        """An ORM row as the dispatcher takes it (rows ``enqueue`` wrote and committed)."""
        return cls(
            id=entry.id,
            action=entry.action,
            url=entry.url,
            transaction_id=entry.transaction_id,
            message_id=entry.message_id,
            body=entry.body,
            attempts=entry.attempts,
            created_at=entry.created_at,
            expires_at=entry.expires_at,
            leased_until=entry.next_attempt_at,
            last_error=entry.last_error,
        )


class CallbackSink(Protocol):
    """Who takes freshly written callbacks in memory (the dispatcher of the same process)."""

    lease: timedelta

    def adopt(self, callbacks: Sequence[Callback]) -> None: ...


async def insert_leased(
    session: AsyncSession,
    messages: Sequence[OutboundMessage],
    *,
    now: datetime,
    leased_until: datetime,
) -> list[Callback]:
    """Write ``messages`` in the session's transaction, due at ``leased_until``, in one
    statement (a multi-row INSERT ... RETURNING); returns them as ``Callback`` rows, in order."""
    if not messages:
        return []
    # the Table, not the mapped class: a Core statement, no ORM bulk-insert bookkeeping
    table = OutboxEntry.__table__
    result = await session.execute(
        insert(table).returning(table.c.id, sort_by_parameter_order=True),
        [
            {
                "created_at": now,
                "action": m.action,
                "url": m.url,
                "transaction_id": m.transaction_id,
                "message_id": m.message_id,
                "body": m.body,
                "solicited": m.solicited,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": leased_until,
                "expires_at": m.expires_at,
            }
            for m in messages
        ],
    )
    ids = [row_id for (row_id,) in result.all()]
    return as_callbacks(ids, messages, now=now, leased_until=leased_until)


def as_callbacks(
    ids: Sequence[int],
    messages: Sequence[OutboundMessage],
    *,
    now: datetime,
    leased_until: datetime,
) -> list[Callback]:
    """The rows just written for ``messages`` (``ids`` in the same order) as ``Callback``s."""
    return [
        Callback(
            id=row_id,
            action=m.action,
            url=m.url,
            transaction_id=m.transaction_id,
            message_id=m.message_id,
            body=m.body,
            attempts=0,
            created_at=now,
            expires_at=m.expires_at,
            leased_until=leased_until,
        )
        for row_id, m in zip(ids, messages, strict=True)
    ]
