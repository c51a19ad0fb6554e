"""Test kit for issues: a confirmed order (through the order kit), then a complainant that sends
``issue`` messages to the IGM handler the way the inbox processor does (one transaction per
request, callbacks written to the outbox), and a seller acting through ``igm.service``."""

from __future__ import annotations

import json
import uuid
from typing import Any

from order_flowkit import BAP_ID, Buyer, Clock, node_settings, seed

from ondc_adapter import outbox
from ondc_adapter.exchange import InboundRequest, OutboundMessage
from ondc_adapter.igm import service
from ondc_adapter.igm.handler import handle_issue
from ondc_adapter.protocol.context import Context
from ondc_adapter.protocol.durations import format_timestamp
from ondc_adapter.sandbox import complaints
from ondc_adapter.settings import Settings
from ondc_adapter.storage import Database

OFFICERS = {
    "igm_support_name": "Meera Support",
    "igm_support_email": "support@seller.example.com",
    "igm_support_phone": "9876500001",
    "gro_name": "Ravi Grievance Officer",
    "gro_email": "gro@seller.example.com",
    "gro_phone": "9876500002",
}


def igm_settings(**extra: Any) -> Settings:
    return node_settings().model_copy(update={**OFFICERS, **extra})


async def confirmed_order(db: Database, clock: Clock, settings: Settings) -> Buyer:
    await seed(db)
    buyer = Buyer(db, clock, settings=settings)
    await buyer.select([("I1", 2)])
    await buyer.init()
    await buyer.confirm()
    return buyer


class Complainant:
    """The buyer app's side of one issue."""

    def __init__(self, db: Database, buyer: Buyer, *, bap_id: str = BAP_ID) -> None:
        self.db = db
        self.buyer = buyer
        self.bap_id = bap_id
        self.issue_id = f"ISSUE-{uuid.uuid4().hex[:8]}"
        self.last: dict[str, Any] | None = None  # the issue as last received
        self.replies: list[dict[str, Any]] = []

    @property
    def order(self) -> dict[str, Any]:
        return self.buyer.log[-1].order  # the on_confirm's order

    def context(self) -> dict[str, Any]:
        ctx = self.buyer.context("issue")
        ctx["bap_id"] = self.bap_id
        ctx["location"] = {"country": {"code": "IND"}, "city": {"code": ctx["city"]}}
        return ctx

    async def send(self, message: dict[str, Any], ctx: dict[str, Any] | None = None
                   ) -> list[dict[str, Any]]:
        ctx = ctx or self.context()
        request = InboundRequest(
            action="issue", context=Context.model_validate(ctx), message=message,
            received_at=self.buyer.clock(), signer=self.bap_id,
        )
        async with self.db.session() as session:
            messages = await handle_issue(request, session, self.buyer.deps)
            for m in messages:
                await outbox.enqueue(session, m, now=self.buyer.deps.now())
        replies = [json.loads(m.body) for m in messages]
        self.last = message["issue"]  # what we sent, until the seller's answer replaces it
        for reply in replies:
            if "issue" in reply.get("message", {}):
                self.last = reply["message"]["issue"]
        self.replies.extend(replies)
        return replies

    async def open(self, **kw: Any) -> list[dict[str, Any]]:
        ctx = self.context()
        message = complaints.opening_issue(
            issue_id=self.issue_id, bap_id=self.bap_id, domain=ctx["domain"],
            now=ctx["timestamp"], order=kw.pop("order", self.order),
            image_url="https://buyer.example.com/img/torn-saree.jpg", **kw,
        )
        return await self.send(message, ctx)

    async def act(self, code: str, short_desc: str = "buyer action", **kw: Any
                  ) -> list[dict[str, Any]]:
        assert self.last is not None
        ctx = self.context()
        message = complaints.next_issue(
            self.last, code=code, now=ctx["timestamp"], short_desc=short_desc, **kw
        )
        return await self.send(message, ctx)

    def pushed(self, messages: list[OutboundMessage]) -> dict[str, Any]:
        """Take in a seller push (unsolicited on_issue)."""
        assert len(messages) == 1
        payload = json.loads(messages[0].body)
        self.last = payload["message"]["issue"]
        return payload


async def seller(db: Database, settings: Settings, clock: Clock, what: str, issue_id: str,
                 **kw: Any) -> list[OutboundMessage]:
    fn = {"process": service.process, "ask-info": service.ask_info,
          "propose": service.propose, "resolve": service.resolve}[what]
    async with db.session() as session:
        outcome = await fn(session, settings, issue_id, now=clock.tick(), **kw)
        for m in outcome.messages:
            await outbox.enqueue(session, m, now=clock())
    return outcome.messages


def stamp(clock: Clock) -> str:
    return format_timestamp(clock())
