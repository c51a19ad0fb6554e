"""IGM flow 1 and a buyer's escalation to the seller's GRO, through the issue handler and the
seller's service on PostgreSQL: statuses, actions, actors, timestamps as ONDC's validator
checks them, and the refund carried into the order's settlements exactly once."""

from __future__ import annotations

from decimal import Decimal

from igm_kit import Complainant, confirmed_order, igm_settings, seller
from order_flowkit import Clock
from sqlalchemy import func, select

from ondc_adapter.igm import service
from ondc_adapter.orders import settlements
from ondc_adapter.orders.tables import OrderRecord, OrderSettlement
from ondc_adapter.storage import Database


def codes(issue: dict) -> list[str]:
    return [a["descriptor"]["code"] for a in issue["actions"]]


def check_on_issue(payload: dict, created_at: str) -> None:
    """The validator's on_issue rules: one instant for the callback, updated_at and the last
    action, later than created_at; last_action_id; our actor; twin names."""
    issue = payload["message"]["issue"]
    assert payload["context"]["timestamp"] == issue["updated_at"]
    assert issue["updated_at"] == issue["actions"][-1]["updated_at"]
    assert issue["updated_at"] > created_at == issue["created_at"]
    assert issue["last_action_id"] == issue["actions"][-1]["id"]
    assert payload["context"]["ttl"] == "PT30S"
    ids = {a["id"] for a in issue["actors"]}
    assert set(issue["respondent_ids"]) <= ids
    assert issue["actions"][-1]["action_by"] in ids
    for actor in issue["actors"]:
        if actor["type"].startswith("COUNTERPARTY_NP"):
            assert actor["info"]["org"]["name"] == (
                f"{payload['context']['bpp_id']}::{payload['context']['domain']}"
            )
            assert len(actor["info"]["contact"]["phone"]) == 10
    assert payload["message"]["update_target"] == payload["message"]["updated_target"]
    assert issue["description"]["code"] == issue["descriptor"]["code"]
    if {"RESOLUTION_PROPOSED", "RESOLVED"} & set(codes(issue)):
        assert issue["resolutions"]


async def test_flow_1_with_two_info_rounds_and_a_refund(pg_db: Database) -> None:
    clock, settings = Clock(), igm_settings()
    buyer = await confirmed_order(pg_db, clock, settings)
    c = Complainant(pg_db, buyer)
    [processing] = await c.open()
    created = c.last["created_at"]
    check_on_issue(processing, created)
    assert processing["context"]["message_id"] == c.replies[0]["context"]["message_id"]
    assert c.last["status"] == "PROCESSING" and codes(c.last) == ["OPEN", "PROCESSING"]

    for round_ in (1, 2):
        push = c.pushed(await seller(pg_db, settings, clock, "ask-info", c.issue_id,
                                     question=f"Please share photo {round_}"))
        check_on_issue(push, created)
        assert codes(c.last)[-1] == "INFO_REQUESTED"
        [answer] = await c.act("INFO_PROVIDED", "Photo attached",
                               ref_id=c.last["last_action_id"],
                               images=["https://buyer.example.com/img/2.jpg"])
        check_on_issue(answer, created)
        assert codes(c.last)[-2:] == ["INFO_PROVIDED", "PROCESSING"]

    push = c.pushed(await seller(pg_db, settings, clock, "propose", c.issue_id,
                                 kind="REFUND", amount="200.00"))
    check_on_issue(push, created)
    assert c.last["status"] == "PROCESSING"
    [resolution] = c.last["resolutions"]
    assert resolution["descriptor"]["code"] == "REFUND"

    assert await c.act("RESOLUTION_ACCEPTED", "Refund accepted", ref_id=resolution["id"],
                       ref_type="RESOLUTIONS") == []
    push = c.pushed(await seller(pg_db, settings, clock, "resolve", c.issue_id,
                                 text="Refund of Rs 200 paid"))
    check_on_issue(push, created)
    assert c.last["status"] == "RESOLVED"
    assert await c.act("CLOSED", "Thank you") == []

    async with pg_db.session() as s:
        record = await service.find(s, c.issue_id)
        assert record is not None and record.status == "CLOSED"
        assert record.responded_at is not None and record.resolved_at is not None
        order = (await s.scalars(select(OrderRecord))).one()
        rows = await settlements.of_order(s, order.id)
        assert [(r.kind, r.amount, r.source) for r in rows] == [("refund", "200.00", "igm")]
        trail = settlements.as_quote_trail(rows)
        assert trail[0]["value"] == "-200.00"
        assert await settlements.refundable(s, order) == (
            Decimal(order.quote["price"]["value"]) - Decimal("200.00")
        )


async def test_escalation_goes_to_the_gro(pg_db: Database) -> None:
    clock, settings = Clock(), igm_settings()
    buyer = await confirmed_order(pg_db, clock, settings)
    c = Complainant(pg_db, buyer)
    await c.open()
    c.pushed(await seller(pg_db, settings, clock, "propose", c.issue_id, kind="NO_ACTION"))
    assert await c.act("RESOLUTION_REJECTED", "Not acceptable",
                       ref_id=c.last["resolutions"][0]["id"]) == []
    [gro] = await c.act("ESCALATED", "Escalating to the GRO")
    assert "error" not in gro, gro["error"]
    issue = gro["message"]["issue"]
    assert issue["level"] == "GRIEVANCE"
    gro_actor = next(a for a in issue["actors"] if a["type"] == "COUNTERPARTY_NP_GRO")
    assert issue["actions"][-1]["action_by"] == gro_actor["id"]
    assert gro_actor["info"]["person"]["name"] == "Ravi Grievance Officer"
    check_on_issue(gro, c.last["created_at"])
    # the GRO proposes, the buyer accepts a refund, the GRO resolves
    push = c.pushed(await seller(pg_db, settings, clock, "propose", c.issue_id,
                                 kind="REFUND", amount="50"))
    assert push["message"]["issue"]["actions"][-1]["action_by"] == gro_actor["id"]
    accepted = c.last["resolutions"][-1]["id"]
    await c.act("RESOLUTION_ACCEPTED", "ok", ref_id=accepted, ref_type="RESOLUTIONS")
    c.pushed(await seller(pg_db, settings, clock, "resolve", c.issue_id))
    assert c.last["status"] == "RESOLVED" and c.last["level"] == "GRIEVANCE"
    # a second escalation (to ODR) is not the seller's to take
    [refused] = await c.act("ESCALATED", "again")
    assert refused["error"]["code"] == "IGM007"


async def test_accepting_twice_records_the_refund_once(pg_db: Database) -> None:
    clock, settings = Clock(), igm_settings()
    buyer = await confirmed_order(pg_db, clock, settings)
    c = Complainant(pg_db, buyer)
    await c.open()
    c.pushed(await seller(pg_db, settings, clock, "propose", c.issue_id,
                          kind="REFUND", amount="100"))
    rid = c.last["resolutions"][0]["id"]
    before = dict(c.last)
    assert await c.act("RESOLUTION_ACCEPTED", "ok", ref_id=rid, ref_type="RESOLUTIONS") == []
    c.last = before  # the buyer app sends its acceptance again (a retry with a new message id)
    [again] = await c.act("RESOLUTION_ACCEPTED", "ok", ref_id=rid, ref_type="RESOLUTIONS")
    assert again["error"]["code"] == "IGM001"
    async with pg_db.session() as s:
        assert await s.scalar(select(func.count()).select_from(OrderSettlement)) == 1
