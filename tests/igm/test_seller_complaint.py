"""IGM flow 2: the seller raises an issue with the buyer app of a transaction, the buyer app
answers with on_issue, the seller accepts, escalates to the buyer app's GRO, and closes. Each
``issue`` the node sends carries the validator's timestamps, refs and actors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from igm_kit import confirmed_order, igm_settings
from order_flowkit import BAP_ID, Clock
from sqlalchemy import select

from ondc_adapter.exchange import InboundRequest, SellerDeps
from ondc_adapter.igm import complainant
from ondc_adapter.igm.rules import IssueRefusal
from ondc_adapter.igm.tables import IssueEvent
from ondc_adapter.protocol.context import Context
from ondc_adapter.protocol.durations import format_timestamp
from ondc_adapter.sandbox import complaints
from ondc_adapter.storage import Database


def check_issue(payload: dict[str, Any], *, opening: bool = False) -> None:
    ctx, issue = payload["context"], payload["message"]["issue"]
    assert ctx["action"] == "issue" and ctx["ttl"] == "PT30S" and ctx["city"]
    assert issue["created_at"] <= issue["updated_at"] == ctx["timestamp"]
    assert issue["updated_at"] == issue["actions"][-1]["updated_at"]
    assert issue["last_action_id"] == issue["actions"][-1]["id"]
    if opening:
        assert issue["created_at"] == issue["updated_at"] and issue["status"] == "OPEN"
        assert "update_target" not in payload["message"]
    assert {r["ref_type"] for r in issue["refs"]} >= {"TRANSACTION", "PROVIDER"}
    interfacing = next(a for a in issue["actors"] if a["type"] == "INTERFACING_NP")
    assert issue["complainant_id"] == interfacing["id"]
    assert interfacing["info"]["org"]["name"] == f"{ctx['bpp_id']}::{ctx['domain']}"


class Buyer:
    """The buyer app answering the seller's complaint."""

    def __init__(self, db: Database, settings: Any, clock: Clock) -> None:
        self.db, self.settings, self.clock = db, settings, clock
        self.last: dict[str, Any] = {}
        self.context: dict[str, Any] = {}

    def receive(self, messages: list[Any]) -> dict[str, Any]:
        [message] = messages
        payload = json.loads(message.body)
        assert message.url == payload["context"]["bap_uri"] + "/issue"
        self.last, self.context = payload["message"]["issue"], payload["context"]
        return payload

    async def answer(self, code: str, **kw: Any) -> None:
        now = format_timestamp(self.clock.tick())
        message = complaints.answered(
            self.last,
            bap_id=BAP_ID,
            domain=self.context["domain"],
            code=code,
            now=now,
            short_desc=f"buyer app: {code}",
            **kw,
        )
        ctx = {**self.context, "action": "on_issue", "message_id": f"m-{now}", "timestamp": now}
        request = InboundRequest(
            action="on_issue",
            context=Context.model_validate(ctx),
            message=message,
            received_at=self.clock(),
            signer=BAP_ID,
        )
        deps = SellerDeps(settings=self.settings, now=self.clock)
        async with self.db.session() as session:
            assert await complainant.handle_on_issue(request, session, deps) == []
        self.last = message["issue"]


async def test_seller_raises_escalates_and_closes(pg_db: Database) -> None:
    clock, settings = Clock(), igm_settings()
    order = await confirmed_order(pg_db, clock, settings)
    buyer = Buyer(pg_db, settings, clock)

    async def seller(what: str, **kw: Any) -> dict[str, Any]:
        async with pg_db.session() as session:
            issue_id = kw.pop("issue_id")
            outcome = await complainant.act(
                session, settings, issue_id, what, now=clock.tick(), **kw
            )
        return buyer.receive(outcome.messages)

    async with pg_db.session() as session:
        outcome = await complainant.raise_issue(
            session,
            settings,
            transaction_id=order.transaction_id,
            provider_id="P1",
            category="VIS001",
            short_desc="Store not visible",
            long_desc="The store does not show in the buyer app",
            now=clock.tick(),
        )
    opening = buyer.receive(outcome.messages)
    check_issue(opening, opening=True)
    issue_id = opening["message"]["issue"]["id"]

    await buyer.answer("PROCESSING")
    await buyer.answer(
        "RESOLUTION_PROPOSED",
        resolution=complaints.resolution("R1", now=stamp(clock), by="BUYER-NP-1"),
    )
    check_issue(await seller("accept", issue_id=issue_id))
    await buyer.answer("RESOLVED")
    escalated = await seller("escalate", issue_id=issue_id, text="Still not visible")
    check_issue(escalated)
    assert escalated["message"]["issue"]["level"] == "GRIEVANCE"
    await buyer.answer("PROCESSING", gro=True)
    await buyer.answer(
        "RESOLUTION_PROPOSED",
        gro=True,
        resolution=complaints.resolution("R2", now=stamp(clock), by="BUYER-NP-1-GRO"),
    )
    check_issue(await seller("accept", issue_id=issue_id))
    await buyer.answer("RESOLVED", gro=True)
    closed = await seller("close", issue_id=issue_id)
    check_issue(closed)
    assert closed["message"]["issue"]["status"] == "CLOSED"
    with pytest.raises(IssueRefusal):
        await seller("escalate", issue_id=issue_id)
    async with pg_db.session() as session:
        codes = [e.code for e in await session.scalars(select(IssueEvent).order_by(IssueEvent.id))]
    assert codes == [
        "OPEN",
        "PROCESSING",
        "RESOLUTION_PROPOSED",
        "RESOLUTION_ACCEPTED",
        "RESOLVED",
        "ESCALATED",
        "PROCESSING",
        "RESOLUTION_PROPOSED",
        "RESOLUTION_ACCEPTED",
        "RESOLVED",
        "CLOSED",
    ]


def stamp(clock: Clock) -> str:
    return format_timestamp(clock())
