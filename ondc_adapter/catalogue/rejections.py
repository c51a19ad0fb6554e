"""Catalogue rejections (``POST /catalog_rejection``, ONDC retail flows 7 and 9): a buyer app
tells the seller which parts of its catalogue it refused, and why.

The request is ``{context, errors: [{code, type, path, message}]}`` (no ``message``), verified
and recorded like every request; the inbox already ignores a repeated (bap_id,
transaction_id, message_id). The processor stores one row per error, linked to the provider and
item its ``path`` names, so the seller sees "your item I7 was refused: No Images found" and can
fix it. A path names them by id (``...providers[id=P1]...``, ``...providers[?(@.id=='P1')]``)
or by position in the on_search this node sent in that transaction, which is read back from
the outbox. There is no ``on_catalog_rejection``: the ACK is the whole answer.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Index, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from ondc_adapter.exchange import InboundRequest, OutboundMessage, SellerDeps
from ondc_adapter.outbox import OutboxEntry
from ondc_adapter.protocol.context import Context
from ondc_adapter.storage.base import Base, UTCDateTime

CODES_FILE = Path(__file__).resolve().parent.parent / "data" / "catalog_rejection_codes.json"
RejectionType = Literal["PROVIDER-ERROR", "ITEM-ERROR", "INTEGRATION-ERROR", "BPP-ERROR"]


class RejectionError(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^\d{5}$")
    type: RejectionType
    path: str = Field(default="", max_length=1000)
    message: str = Field(default="", max_length=2000)


class CatalogRejection(BaseModel):
    """The whole ``catalog_rejection`` request (it has ``errors`` where others have
    ``message``)."""

    model_config = ConfigDict(extra="forbid")

    context: Context
    errors: list[RejectionError] = Field(min_length=1, max_length=1000)


SCHEMA_MODELS: dict[str, type[BaseModel]] = {"catalog_rejection": CatalogRejection}


class CatalogueRejection(Base):
    __tablename__ = "catalogue_rejections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    bap_id: Mapped[str] = mapped_column(String(255), nullable=False)
    transaction_id: Mapped[str] = mapped_column(String(128), nullable=False)
    message_id: Mapped[str] = mapped_column(String(128), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)  # index in errors[]
    domain: Mapped[str] = mapped_column(String(16), nullable=False)
    code: Mapped[str] = mapped_column(String(8), nullable=False)
    type: Mapped[str] = mapped_column(String(24), nullable=False)
    path: Mapped[str] = mapped_column(Text, nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    provider_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    item_id: Mapped[str | None] = mapped_column(String(64), nullable=True)

    __table_args__ = (
        UniqueConstraint("bap_id", "transaction_id", "message_id", "position"),
        Index("ix_catalogue_rejections_provider", "provider_id", "received_at"),
    )


@cache
def rejection_codes() -> dict[str, dict[str, str]]:
    """code -> {type, message}: ONDC's list (data/catalog_rejection_codes.json)."""
    data = json.loads(CODES_FILE.read_text(encoding="utf-8"))
    return {row["code"]: {"type": row["type"], "message": row["message"]} for row in data["codes"]}


# "providers" or "items", perhaps closing a quoted key ("['bpp/providers']"), then a selector
_KEY = r"(providers|items)['\"]?\]?\s*"
_BY_ID = re.compile(
    _KEY + r"\[\s*(?:\?\(@\.id\s*==\s*)?(?:id\s*=\s*)?['\"]?([^'\"\]\)]+?)['\"]?\s*\)?\s*\]"
)
_BY_POSITION = re.compile(_KEY + r"(?:\[\s*(\d+)\s*\]|[/.](\d+)(?=[/.]|$))")


def ids_in_path(path: str) -> tuple[str | None, str | None, str | None, str | None]:
    """(provider id, item id, provider position, item position) a rejection path names."""
    provider = item = provider_at = item_at = None
    for kind, value in _BY_ID.findall(path):
        if value.isdigit():
            continue  # a position, not an id
        if kind == "providers":
            provider = value
        else:
            item = value
    for kind, bracket, slash in _BY_POSITION.findall(path):
        position = bracket or slash
        if kind == "providers":
            provider_at = position
        else:
            item_at = position
    return provider, item, provider_at, item_at


async def _sent_catalogue(session: AsyncSession, transaction_id: str) -> list[dict[str, Any]]:
    """The providers of the first on_search this node sent in ``transaction_id``."""
    body = await session.scalar(
        select(OutboxEntry.body)
        .where(OutboxEntry.transaction_id == transaction_id, OutboxEntry.action == "on_search")
        .order_by(OutboxEntry.id)
        .limit(1)
    )
    if body is None:
        return []
    try:
        catalog = json.loads(body)["message"]["catalog"]
        providers = catalog.get("bpp/providers") or []
    except (ValueError, KeyError, TypeError):
        return []
    return providers if isinstance(providers, list) else []


Named = tuple[str | None, str | None, str | None, str | None]  # what ``ids_in_path`` gives


def needs_positions(named: Named) -> bool:
    """Does the path name a provider or an item only by its position in the on_search?"""
    provider, item, provider_at, item_at = named
    return (provider is None and provider_at is not None) or (item is None and item_at is not None)


def resolve(named: Named, sent: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    """(provider id, item id) a path names; positions are read in ``sent``, the providers of
    the on_search this node sent in the transaction."""
    provider, item, provider_at, item_at = named
    if needs_positions(named):
        try:
            chosen = sent[int(provider_at)] if provider_at is not None else None
        except IndexError:
            chosen = None
        if chosen is not None:
            provider = provider or str(chosen.get("id"))
            if item is None and item_at is not None:
                try:
                    item = str((chosen.get("items") or [])[int(item_at)].get("id"))
                except (IndexError, AttributeError):
                    item = None
    return (provider[:64] if provider else None), (item[:64] if item else None)


async def handle_catalog_rejection(
    request: InboundRequest, session: AsyncSession, deps: SellerDeps
) -> list[OutboundMessage]:
    """Store each error of the rejection (a repeated one is ignored); nothing is sent back."""
    ctx = request.context
    errors = request.message.get("errors") or []
    seen = set(
        (
            await session.scalars(
                select(CatalogueRejection.position).where(
                    CatalogueRejection.bap_id == ctx.bap_id,
                    CatalogueRejection.transaction_id == ctx.transaction_id,
                    CatalogueRejection.message_id == ctx.message_id,
                )
            )
        ).all()
    )
    sent: list[dict[str, Any]] | None = None  # read once, and only when a path needs it
    for position, error in enumerate(errors):
        if position in seen or not isinstance(error, dict):
            continue
        path = str(error.get("path") or "")
        named = ids_in_path(path)
        if sent is None and needs_positions(named):
            sent = await _sent_catalogue(session, ctx.transaction_id)
        provider, item = resolve(named, sent or [])
        session.add(
            CatalogueRejection(
                received_at=request.received_at,
                bap_id=ctx.bap_id,
                transaction_id=ctx.transaction_id,
                message_id=ctx.message_id,
                position=position,
                domain=ctx.domain,
                code=str(error.get("code") or ""),
                type=str(error.get("type") or ""),
                path=path,
                message=str(error.get("message") or ""),
                provider_id=provider,
                item_id=item,
            )
        )
    return []


async def list_rejections(
    session: AsyncSession, *, provider_id: str | None = None, limit: int = 100, offset: int = 0
) -> list[CatalogueRejection]:
    query = select(CatalogueRejection).order_by(
        CatalogueRejection.received_at.desc(), CatalogueRejection.id.desc()
    )
    if provider_id is not None:
        query = query.where(CatalogueRejection.provider_id == provider_id)
    return list((await session.scalars(query.offset(offset).limit(limit))).all())


def as_dict(row: CatalogueRejection) -> dict[str, Any]:
    known = rejection_codes().get(row.code)
    return {
        "received_at": row.received_at.isoformat(), "bap_id": row.bap_id,
        "transaction_id": row.transaction_id, "message_id": row.message_id,
        "domain": row.domain, "code": row.code, "type": row.type, "path": row.path,
        "message": row.message, "provider_id": row.provider_id, "item_id": row.item_id,
        "meaning": known["message"] if known else None,
    }
