"""Order records and what happens to them.

* ``orders``            one row per confirmed order: the buyer app's order id, the transaction it
                        belongs to (unique: one order per transaction, which also makes
                        (transaction_id, order id) unique and confirm idempotent), the wire
                        objects (items, quote, billing, fulfillments, payment, terms) as last sent,
                        and the pricing lines needed to re-price after cancels and returns.
* ``order_transitions`` every state change: which fulfillment, from, to, who, when, why. Append
                        only; nothing updates or deletes it.
* ``order_drafts``      the on_select / on_init answer per transaction, so init and confirm can be
                        checked against what we quoted, and the transaction's retail version.
* ``order_returns``     buyer return requests and their progress.
* ``order_ratings``     ratings received.
* ``order_settlements`` refunds agreed after the order (IGM resolutions), once each.

Wire objects are stored as JSON exactly as sent so status/on_update answers repeat them
byte-for-byte (LVU compares on_confirm and on_status field by field).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ondc_adapter.protocol.versions import RetailVersion
from ondc_adapter.storage.base import Base, JSONType, UTCDateTime

# Rows written before transactions kept their version were all retail 1.2.0, the one version
# served then (migration 0012).
CORE_VERSION_BEFORE_ISSUE_16 = "1.2.0"


class OrderRecord(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(64), nullable=False)  # from the buyer app
    transaction_id: Mapped[str] = mapped_column(String(128), nullable=False)
    bap_id: Mapped[str] = mapped_column(String(255), nullable=False)
    bap_uri: Mapped[str] = mapped_column(Text, nullable=False)
    domain: Mapped[str] = mapped_column(String(16), nullable=False)
    city: Mapped[str] = mapped_column(String(16), nullable=False)
    provider_id: Mapped[str] = mapped_column(String(64), nullable=False)
    location_id: Mapped[str] = mapped_column(String(64), nullable=False)
    # pricing lines: [{id, title, unit_price, ordered, count, tax_rate, discount, cancellable,
    # returnable, fulfillment_id}]; "count" is what is still being delivered/kept
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, nullable=False)
    charges: Mapped[dict[str, str]] = mapped_column(JSONType, nullable=False)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, nullable=False)  # wire
    quote: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)  # wire
    billing: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    fulfillments: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, nullable=False)
    payment: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    cancellation_terms: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, nullable=False)
    tags: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, nullable=False)
    documents: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType, nullable=True)
    cancellation: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    fulfillment_state: Mapped[str] = mapped_column(String(32), nullable=False)  # forward F
    accepted: Mapped[bool] = mapped_column(Boolean, nullable=False)
    # the confirm context: base of every unsolicited callback of this order
    context: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    # the retail version the transaction started in (protocol/versions.py): every answer and
    # push of this order speaks it, and a request in another version is refused
    core_version: Mapped[str] = mapped_column(
        String(16), nullable=False, server_default=CORE_VERSION_BEFORE_ISSUE_16
    )
    confirm_message_id: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)  # confirm ts
    created_at_text: Mapped[str] = mapped_column(String(40), nullable=False)  # as sent
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at_text: Mapped[str] = mapped_column(String(40), nullable=False)

    __table_args__ = (
        UniqueConstraint("transaction_id"),
        Index("ix_orders_order_id", "order_id"),
        Index("ix_orders_state_updated", "state", "updated_at"),
    )

    @property
    def retail_version(self) -> RetailVersion:
        """``core_version`` typed, for the builders that branch on it."""
        return RetailVersion(self.core_version)


class OrderTransition(Base):
    __tablename__ = "order_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_pk: Mapped[int] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True
    )
    entity: Mapped[str] = mapped_column(String(16), nullable=False)  # order | fulfillment | payment
    fulfillment_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    from_state: Mapped[str | None] = mapped_column(String(32), nullable=True)
    to_state: Mapped[str] = mapped_column(String(32), nullable=False)
    actor: Mapped[str] = mapped_column(String(16), nullable=False)  # buyer | seller | system
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    reason_code: Mapped[str | None] = mapped_column(String(8), nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class OrderDraft(Base):
    __tablename__ = "order_drafts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    transaction_id: Mapped[str] = mapped_column(String(128), nullable=False)
    stage: Mapped[str] = mapped_column(String(8), nullable=False)  # select | init
    message_id: Mapped[str] = mapped_column(String(128), nullable=False)
    bap_id: Mapped[str] = mapped_column(String(255), nullable=False)
    provider_id: Mapped[str] = mapped_column(String(64), nullable=False)
    # the order object we answered with (on_select / on_init message.order)
    order: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    # pricing lines and delivery promise used to build it (same shape as OrderRecord.lines)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, nullable=False)
    fulfillment: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # the transaction's retail version, fixed by its first step (select, or init when a buyer
    # app skips select); both stages' rows carry it (see repository.save_draft)
    core_version: Mapped[str] = mapped_column(
        String(16), nullable=False, server_default=CORE_VERSION_BEFORE_ISSUE_16
    )

    __table_args__ = (UniqueConstraint("transaction_id", "stage"),)


class OrderReturn(Base):
    __tablename__ = "order_returns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_pk: Mapped[int] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True
    )
    return_id: Mapped[str] = mapped_column(String(32), nullable=False)  # fulfillment id, "R1"
    item_id: Mapped[str] = mapped_column(String(64), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    reason_code: Mapped[str] = mapped_column(String(8), nullable=False)
    reason_desc: Mapped[str | None] = mapped_column(Text, nullable=True)
    images: Mapped[list[str]] = mapped_column(JSONType, nullable=False)
    state: Mapped[str] = mapped_column(String(32), nullable=False)
    initiated_by: Mapped[str] = mapped_column(String(255), nullable=False)
    request_tag: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (UniqueConstraint("order_pk", "return_id"),)


class OrderRating(Base):
    __tablename__ = "order_ratings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    transaction_id: Mapped[str] = mapped_column(String(128), nullable=False, index=True)
    order_pk: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL"), nullable=True
    )
    bap_id: Mapped[str] = mapped_column(String(255), nullable=False)
    category: Mapped[str] = mapped_column(String(16), nullable=False)
    rated_id: Mapped[str] = mapped_column(String(128), nullable=False)
    value: Mapped[int] = mapped_column(Integer, nullable=False)
    feedback: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    message_id: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class OrderSettlement(Base):
    """Money moved on an order after it was confirmed, outside the quote's own changes: today,
    refunds agreed in an IGM issue. One row per (source, reference), so a refund the buyer
    accepts is recorded exactly once however often the acceptance is delivered."""

    __tablename__ = "order_settlements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_pk: Mapped[int] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # refund
    amount: Mapped[str] = mapped_column(String(24), nullable=False)  # rupees, "200.00"
    item_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source: Mapped[str] = mapped_column(String(16), nullable=False)  # igm
    reference: Mapped[str] = mapped_column(String(300), nullable=False)  # issue id/resolution id
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (UniqueConstraint("source", "reference"),)
