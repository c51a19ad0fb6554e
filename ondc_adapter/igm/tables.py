"""Where issues live.

* ``igm_issues``   one row per issue (unique per buyer app and issue id), ours to answer or
                   raised by us: the order it is about,
                   its status and level, the whole issue object as last exchanged (``issue``,
                   the wire JSON, so the next ``on_issue`` repeats it with one more action),
                   the context that opened it (unsolicited ``on_issue`` reuse its transaction),
                   and the times ONDC expects: respond by, resolve by.
* ``igm_events``   every message about an issue, in and out: which action, who, when, and the
                   message id. Append only.
* ``igm_officers`` the seller's contacts that appear as IGM actors: the support desk
                   (``COUNTERPARTY_NP``) and the grievance redressal officer (GRO). Set through
                   the admin API; the settings give the defaults.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ondc_adapter.storage.base import Base, JSONType, UTCDateTime


class IssueRecord(Base):
    __tablename__ = "igm_issues"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    issue_id: Mapped[str] = mapped_column(String(128), nullable=False)
    bap_id: Mapped[str] = mapped_column(String(255), nullable=False)
    # respondent: a buyer app's complaint to us (flow 1); complainant: ours to a buyer app
    # (flow 2, e.g. the store is not shown)
    role: Mapped[str] = mapped_column(String(16), nullable=False, default="respondent")
    transaction_id: Mapped[str] = mapped_column(String(128), nullable=False)
    order_pk: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="RESTRICT"), nullable=True
    )
    order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    domain: Mapped[str] = mapped_column(String(16), nullable=False)
    category: Mapped[str] = mapped_column(String(64), nullable=False)  # descriptor.code, ITM004
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    level: Mapped[str] = mapped_column(String(16), nullable=False)
    issue: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)  # wire, as last sent
    context: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    accepted_resolution: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    respond_by: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    resolve_by: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        UniqueConstraint("bap_id", "issue_id"),
        Index("ix_igm_issues_status_resolve_by", "status", "resolve_by"),
        Index("ix_igm_issues_order_pk", "order_pk"),
    )


class IssueEvent(Base):
    __tablename__ = "igm_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    issue_pk: Mapped[int] = mapped_column(
        ForeignKey("igm_issues.id", ondelete="CASCADE"), nullable=False
    )
    direction: Mapped[str] = mapped_column(String(3), nullable=False)  # in | out
    action_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    code: Mapped[str] = mapped_column(String(32), nullable=False)
    actor: Mapped[str] = mapped_column(String(128), nullable=False)
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    message_id: Mapped[str] = mapped_column(String(128), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (Index("ix_igm_events_issue_pk", "issue_pk", "id"),)


class IssueOfficer(Base):
    __tablename__ = "igm_officers"

    role: Mapped[str] = mapped_column(String(16), primary_key=True)  # support | gro
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    email: Mapped[str] = mapped_column(String(254), nullable=False)
    phone: Mapped[str] = mapped_column(String(10), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
