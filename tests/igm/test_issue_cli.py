"""``ondc-adapter issues``: list, show and the seller's actions on PostgreSQL, with what they
queue, how refusals exit, and the officers. The issue is opened through the handler (igm_kit)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from igm_kit import OFFICERS, Complainant, confirmed_order, igm_settings
from order_flowkit import Clock
from sqlalchemy import select, text
from typer.testing import CliRunner

from ondc_adapter.cli import app as cli_app
from ondc_adapter.outbox import OutboxEntry
from ondc_adapter.storage import Database


async def cli(db: Database, *args: str, officers: bool = True) -> Any:
    env = {"ONDC_DATABASE_URL": db.url, "ONDC_SUBSCRIBER_ID": "seller.example.com",
           "ONDC_BPP_URI": "https://seller.example.com/ondc"}
    if officers:
        env.update({f"ONDC_{k.upper()}": v for k, v in OFFICERS.items()})
    # its own event loop (asyncio.run), so in a thread of its own
    return await asyncio.to_thread(CliRunner().invoke, cli_app, list(args), env=env)


async def test_issues_list_show_and_propose(pg_db: Database) -> None:
    clock, settings = Clock(), igm_settings()
    buyer = await confirmed_order(pg_db, clock, settings)
    c = Complainant(pg_db, buyer)
    c.issue_id = "ISSUE-CLI-1"
    await c.open()
    order_id = buyer.order_id

    listed = await cli(pg_db, "issues", "list")
    assert listed.exit_code == 0, listed.output
    [header, row] = listed.output.splitlines()
    assert header.split()[:5] == ["ISSUE", "STATUS", "LEVEL", "ORDER", "CATEGORY"]
    fields = row.split()
    assert fields[:5] == ["ISSUE-CLI-1", "PROCESSING", "ISSUE", order_id, "ITM004"]
    assert fields[6] in ("met", "late") and fields[8] in ("ok", "near", "overdue")
    as_json = json.loads((await cli(pg_db, "issues", "list", "--json")).output)
    assert as_json[0]["issue_id"] == "ISSUE-CLI-1" and as_json[0]["response_deadline"] == "met"
    assert (await cli(pg_db, "issues", "list", "--status", "closed")).output == "no issues\n"
    assert (await cli(pg_db, "issues", "list", "--status", "nope")).exit_code == 2
    # a buyer app's category with an escape sequence and a bidi override: shown escaped
    async with pg_db.session() as s:
        await s.execute(text("UPDATE igm_issues SET category = :c"), {"c": "\x1b[2J\u202eX"})
    hostile = await cli(pg_db, "issues", "list")
    assert "\x1b" not in hostile.output and "\u202e" not in hostile.output
    assert "\\x1b[2J\\u202eX" in hostile.output
    async with pg_db.session() as s:
        await s.execute(text("UPDATE igm_issues SET category = 'ITM004'"))

    shown = await cli(pg_db, "issues", "show", "ISSUE-CLI-1")
    assert shown.exit_code == 0, shown.output
    detail = json.loads(shown.output)
    assert detail["issue"]["order_id"] == order_id
    assert [a["code"] for a in detail["actions"]] == ["OPEN", "PROCESSING"]
    assert [(e["direction"], e["code"]) for e in detail["events"]] == [
        ("in", "OPEN"), ("out", "PROCESSING")]
    assert detail["wire"]["id"] == "ISSUE-CLI-1"

    proposed = await cli(pg_db, "issues", "propose", "ISSUE-CLI-1", "refund", "--amount", "120")
    assert proposed.exit_code == 0, proposed.output
    assert proposed.output.startswith("ISSUE-CLI-1: PROCESSING, level ISSUE; queued on_issue ")
    assert proposed.output.rstrip().endswith("(RESOLUTION_PROPOSED)")
    message_id = proposed.output.split("queued on_issue ")[1].split()[0]
    async with pg_db.session() as s:
        [entry] = (await s.scalars(
            select(OutboxEntry).where(OutboxEntry.message_id == message_id))).all()
    pushed = json.loads(entry.body)
    assert pushed["context"]["action"] == "on_issue" and entry.solicited is False
    assert pushed["message"]["issue"]["resolutions"][0]["descriptor"]["code"] == "REFUND"

    # refusals: one line on stderr, non-zero exit, nothing queued
    async with pg_db.session() as s:
        queued = len((await s.scalars(select(OutboxEntry))).all())
    again = await cli(pg_db, "issues", "propose", "ISSUE-CLI-1", "REFUND", "--amount", "1")
    assert again.exit_code == 3
    assert again.output.strip() == (
        "refused (IGM001): a proposed resolution is awaiting the buyer's answer"
    )
    unknown = await cli(pg_db, "issues", "show", "NOPE")
    assert (unknown.exit_code, unknown.output.strip()) == (1, "error: issue NOPE not found")
    assert (await cli(pg_db, "issues", "resolve", "NOPE")).exit_code == 1
    async with pg_db.session() as s:
        assert len((await s.scalars(select(OutboxEntry))).all()) == queued


async def test_issue_officers_from_the_command_line(pg_db: Database) -> None:
    shown = await cli(pg_db, "issues", "officers", "show", officers=False)
    assert shown.exit_code == 0, shown.output
    assert "support  NOT NAMED" in shown.output and "gro      NOT NAMED" in shown.output
    bad = await cli(pg_db, "issues", "officers", "set", "gro", "--name", "Ravi",
                    "--email", "gro@seller.example.in", "--phone", "+91 98765", officers=False)
    assert bad.exit_code == 2 and bad.output.startswith("error: phone:"), bad.output
    assert (await cli(pg_db, "issues", "officers", "set", "ceo", "--name", "x", "--email",
                      "a@b.in", "--phone", "9000000000")).exit_code == 2
    ok = await cli(pg_db, "issues", "officers", "set", "gro", "--name", "Lakshmi Rao",
                   "--email", "gro@seller.example.in", "--phone", "9000000001", officers=False)
    assert ok.exit_code == 0, ok.output
    shown = await cli(pg_db, "issues", "officers", "show", officers=False)
    assert "gro      Lakshmi Rao <gro@seller.example.in> 9000000001  (set here)" in shown.output
    assert "support  NOT NAMED" in shown.output
    shown = await cli(pg_db, "issues", "officers", "show")
    assert "support  Meera Support <support@seller.example.com> 9876500001" in shown.output


async def test_seller_text_is_checked_before_anything_is_done(pg_db: Database) -> None:
    for args in (["ask-info", "ISSUE-X", "look\x1b[2J"],
                 ["resolve", "ISSUE-X", "--text", "x" * 501],
                 ["process", "ISSUE-X", "--text", ""]):
        r = await cli(pg_db, "issues", *args)
        assert r.exit_code == 2 and r.output.startswith("error: "), (args, r.output)


def test_the_admin_api_offers_every_resolution_kind() -> None:
    from ondc_adapter.igm.admin import ProposeBody
    from ondc_adapter.igm.rules import RESOLUTION_KINDS

    kinds = ProposeBody.model_json_schema()["properties"]["kind"]["enum"]
    assert tuple(kinds) == RESOLUTION_KINDS


async def test_the_seller_raises_a_complaint_and_takes_its_steps(pg_db: Database) -> None:
    """``issues raise`` sends the seller's complaint (flow 2) to the buyer app of the
    transaction; ``issues complaint`` refuses a step that does not fit and queues one that
    does."""
    clock, settings = Clock(), igm_settings()
    buyer = await confirmed_order(pg_db, clock, settings)
    raised = await cli(
        pg_db, "issues", "raise", "--transaction", buyer.transaction_id, "--store", "P1",
        "--category", "VIS001", "--short", "Store not visible",
        "--long", "The store does not show in the buyer app",
    )
    assert raised.exit_code == 0, raised.output
    assert "OPEN, level ISSUE; queued issue" in raised.output
    async with pg_db.session() as s:
        [row] = (await s.scalars(select(OutboxEntry).where(OutboxEntry.action == "issue"))).all()
    payload = json.loads(row.body)
    assert row.url == payload["context"]["bap_uri"] + "/issue"
    issue = payload["message"]["issue"]
    assert {r["ref_type"] for r in issue["refs"]} == {"TRANSACTION", "PROVIDER"}
    # nothing proposed yet: accepting is refused, escalating is a new issue step
    refused = await cli(pg_db, "issues", "complaint", issue["id"], "accept")
    assert refused.exit_code == 3 and "IGM001" in refused.output
    escalated = await cli(pg_db, "issues", "complaint", issue["id"], "escalate",
                          "--text", "No answer from the buyer app")
    assert escalated.exit_code == 0 and "OPEN, level GRIEVANCE" in escalated.output
    assert (await cli(pg_db, "issues", "complaint", issue["id"], "shout")).exit_code == 2
    assert (await cli(pg_db, "issues", "raise", "--transaction", "nope", "--store", "P1",
                      "--category", "VIS001", "--short", "x", "--long", "y")).exit_code == 3
