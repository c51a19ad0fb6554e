"""The durable outbox of ``on_*`` callbacks.

Seller logic calls ``enqueue`` inside its own database transaction, so a callback exists if and
only if the business change it reports was committed. It stores the message's body (serialised
once, when the message was built); the dispatcher signs and sends exactly these bytes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
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
