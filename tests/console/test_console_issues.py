"""Complaints (IGM 2.0.0 issues) in the console, over HTTP: the list with each deadline's
state, one complaint with its photos and timeline, the seller's steps (ask for information,
propose a refund, mark resolved) each sending an on_issue through the outbox, refusals shown
in the seller's language, and another store's account kept out."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
from console_kit import sign_in, token
from igm_kit import Complainant
from sqlalchemy import select, update

from ondc_adapter.igm.tables import IssueRecord
from ondc_adapter.outbox import OutboxEntry
from ondc_adapter.storage import Database

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>\'"&amp;{{7*7}}'


def on_issues_after(rows: list[OutboxEntry], before: int) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in rows[before:] if r.action == "on_issue"]


async def outbox_rows(db: Database) -> list[OutboxEntry]:
    async with db.session() as session:
        return list((await session.scalars(select(OutboxEntry).order_by(OutboxEntry.id))).all())


async def record_of(db: Database, issue_id: str) -> IssueRecord:
    async with db.session() as session:
        record = await session.scalar(select(IssueRecord).where(IssueRecord.issue_id == issue_id))
        assert record is not None
        return record


def shared_clock(console_app: Any, complaint: Complainant, hours: float) -> Any:
    """The buyer app and the console on one clock, ``hours`` after the order was placed."""
    clock = complaint.buyer.clock
    clock.t += timedelta(hours=hours)
    console_app.state.clock = clock
    return clock


async def test_the_list_shows_the_complaint_and_its_deadline(
    asha: httpx.AsyncClient, console_app: Any, issues: dict[str, Complainant],
    stores: dict[str, str],
) -> None:
    mine, theirs = issues["P1"], issues["P2"]
    clock = shared_clock(console_app, mine, 2)
    page = await asha.get("/console/issues")
    assert page.status_code == 200
    assert 'href="/console/issues"' in page.text  # the navigation link
    assert mine.issue_id in page.text and stores["P1"] in page.text
    assert theirs.issue_id not in page.text and stores["P2"] not in page.text
    assert "Product quality (ITM004)" in page.text and "Being handled" in page.text
    assert "Issue" in page.text and "Resolve by" in page.text
    assert "Deadline near" not in page.text and "Overdue" not in page.text

    clock.t += timedelta(hours=18)  # the day to resolve it is three-quarters gone
    page = await asha.get("/console/issues")
    assert "Deadline near" in page.text and "Overdue" not in page.text
    hindi = await asha.get("/console/issues", headers={"Accept-Language": "hi"})
    assert "शिकायतें" in hindi.text and "समय सीमा नज़दीक" in hindi.text
    assert "सामान की गुणवत्ता (ITM004)" in hindi.text

    clock.t += timedelta(days=1)
    page = await asha.get("/console/issues")
    assert "Overdue" in page.text


async def test_the_complaint_page_shows_text_photos_as_links_and_the_timeline(
    asha: httpx.AsyncClient, issues: dict[str, Complainant]
) -> None:
    page = await asha.get(f"/console/issues/{issues['P1'].issue_id}")
    assert page.status_code == 200, page.text[:2000]
    text = page.text
    assert "Issue with product quality" in text and "The item arrived damaged" in text
    # the buyer's photo: a link to its URL, never an <img> fetched from the buyer's host
    url = "https://buyer.example.com/img/torn-saree.jpg"
    assert f'<a href="{url}" rel="noopener noreferrer nofollow">{url}</a>' in text
    assert "<img" not in text
    assert "Handmade item I1" in text  # the item complained about
    # timeline: who, what, when
    assert "Complaint raised" in text and "Buyer app (Asha Devi)" in text
    assert "Taken up" in text and "Your support desk (Meera Support)" in text
    assert "Complaint taken up by the seller" in text
    assert "22 Nov 2026" in text
    # the steps allowed now: ask, propose (not resolve: nothing accepted yet)
    assert "/ask-info" in text and "/propose" in text and "/resolve" not in text


async def test_ask_propose_a_refund_and_resolve_each_send_on_issue(
    asha: httpx.AsyncClient, console_app: Any, issues: dict[str, Complainant], pg_db: Database
) -> None:
    complaint = issues["P1"]
    shared_clock(console_app, complaint, 2)
    address = f"/console/issues/{complaint.issue_id}"
    csrf = token((await asha.get(address)).text)

    # ask for information
    before = len(await outbox_rows(pg_db))
    done = await asha.post(f"{address}/ask-info",
                           data={"csrf_token": csrf, "question": "Please send a photo"})
    assert done.status_code == 303 and done.headers["location"] == f"{address}?done=1"
    [sent] = on_issues_after(await outbox_rows(pg_db), before)
    last = sent["message"]["issue"]["actions"][-1]
    assert last["descriptor"] == {"code": "INFO_REQUESTED", "short_desc": "Please send a photo"}
    page = await asha.get(done.headers["location"])
    assert "Done. The buyer app has been told." in page.text
    assert "Waiting for the buyer&#39;s answer to your question." in page.text
    assert "/ask-info" not in page.text and "/propose" not in page.text

    # the buyer answers (the node takes it up again by itself)
    complaint.last = sent["message"]["issue"]
    await complaint.act("INFO_PROVIDED", "Photo attached", ref_id=last["id"],
                        images=["https://buyer.example.com/img/2.jpg"])
    page = await asha.get(address)
    assert "Information given" in page.text and "https://buyer.example.com/img/2.jpg" in page.text

    # propose a refund
    before = len(await outbox_rows(pg_db))
    done = await asha.post(f"{address}/propose", data={
        "csrf_token": csrf, "kind": "REFUND", "amount": "150", "text": "Sorry for the tear"})
    assert done.status_code == 303, done.text[:2000]
    [sent] = on_issues_after(await outbox_rows(pg_db), before)
    issue = sent["message"]["issue"]
    assert issue["actions"][-1]["descriptor"]["code"] == "RESOLUTION_PROPOSED"
    [resolution] = issue["resolutions"]
    assert resolution["descriptor"] == {"code": "REFUND", "short_desc": "Sorry for the tear"}
    amounts = [e["value"] for t in resolution["tags"] for e in t["list"]
               if e["descriptor"]["code"] == "REFUND_AMOUNT"]
    assert amounts == ["150.00"]
    page = await asha.get(address)
    assert "Resolutions proposed" in page.text and "₹150.00" in page.text
    assert "Waiting for the buyer&#39;s answer" in page.text

    # the buyer accepts; the seller pays and marks it resolved
    complaint.last = issue
    assert await complaint.act("RESOLUTION_ACCEPTED", "Refund accepted",
                               ref_id=resolution["id"], ref_type="RESOLUTIONS") == []
    page = await asha.get(address)
    assert "Accepted by the buyer" in page.text and "/resolve" in page.text
    before = len(await outbox_rows(pg_db))
    done = await asha.post(f"{address}/resolve",
                           data={"csrf_token": csrf, "text": "Refund of Rs 150 paid"})
    assert done.status_code == 303
    [sent] = on_issues_after(await outbox_rows(pg_db), before)
    assert sent["message"]["issue"]["status"] == "RESOLVED"
    assert (await record_of(pg_db, complaint.issue_id)).status == "RESOLVED"
    listed = await asha.get("/console/issues")
    closed_part = listed.text.split("Resolved and closed", 1)[1]
    assert complaint.issue_id in closed_part and "No open complaints." in listed.text


async def test_a_refused_step_is_explained_not_a_500(
    asha: httpx.AsyncClient, console_app: Any, issues: dict[str, Complainant], pg_db: Database
) -> None:
    complaint = issues["P1"]
    shared_clock(console_app, complaint, 2)
    address = f"/console/issues/{complaint.issue_id}"
    csrf = token((await asha.get(address)).text)
    before = len(await outbox_rows(pg_db))

    refused = await asha.post(f"{address}/resolve", data={"csrf_token": csrf})
    assert refused.status_code == 409
    assert "Not possible now" in refused.text
    assert ("A complaint can be marked resolved only after the buyer accepts a resolution."
            in refused.text)
    hindi = await asha.post(f"{address}/resolve", data={"csrf_token": csrf},
                            headers={"Accept-Language": "hi"})
    assert hindi.status_code == 409
    assert "खरीदार कोई समाधान स्वीकार कर ले" in hindi.text

    # more than the order may refund (one item at 600.00)
    too_much = await asha.post(f"{address}/propose",
                               data={"csrf_token": csrf, "kind": "REFUND", "amount": "5000"})
    assert too_much.status_code == 409
    assert "more than this order can still refund" in too_much.text and "₹5,000.00" in too_much.text
    assert 'value="5000"' in too_much.text  # the form keeps what was typed

    for fields, message in (
        ({"kind": "REFUND", "amount": "abc"}, "Write the amount in rupees"),
        ({"kind": "REFUND", "amount": ""}, "A refund needs its amount."),
        ({"kind": "DONATE"}, "Choose one of the resolutions offered."),
    ):
        bad = await asha.post(f"{address}/propose", data={"csrf_token": csrf, **fields})
        assert bad.status_code == 422 and message in bad.text, fields
    for question in ("", "   ", "x" * 501, "photo\x00please"):
        bad = await asha.post(f"{address}/ask-info",
                              data={"csrf_token": csrf, "question": question})
        assert bad.status_code == 422, repr(question)
    assert len(await outbox_rows(pg_db)) == before  # nothing sent
    assert (await record_of(pg_db, complaint.issue_id)).status == "PROCESSING"


async def test_another_store_cannot_see_or_act_on_the_complaint(
    anon: httpx.AsyncClient, console_app: Any, issues: dict[str, Complainant], pg_db: Database
) -> None:
    theirs = issues["P1"].issue_id  # asha's store; bina runs P2
    assert (await sign_in(anon, "bina")).status_code == 303
    listed = await anon.get("/console/issues")
    assert issues["P2"].issue_id in listed.text and theirs not in listed.text
    csrf = token(listed.text)
    before = len(await outbox_rows(pg_db))
    assert (await anon.get(f"/console/issues/{theirs}")).status_code == 404
    for step, fields in (("ask-info", {"question": "?"}), ("propose", {"kind": "NO_ACTION"}),
                         ("resolve", {})):
        response = await anon.post(f"/console/issues/{theirs}/{step}",
                                   data={"csrf_token": csrf, **fields})
        assert response.status_code == 404, step
    assert len(await outbox_rows(pg_db)) == before
    assert (await record_of(pg_db, theirs)).status == "PROCESSING"
    # and an id that does not exist, or could not be one, looks the same
    for missing in ("NO-SUCH-ISSUE", "x" * 200, "a%00b"):
        assert (await anon.get(f"/console/issues/{missing}")).status_code == 404, missing


async def test_the_operator_sees_every_stores_complaints(
    anon: httpx.AsyncClient, issues: dict[str, Complainant]
) -> None:
    assert (await sign_in(anon, "ops")).status_code == 303
    listed = await anon.get("/console/issues")
    for store, complaint in issues.items():
        assert complaint.issue_id in listed.text and store in listed.text
        assert (await anon.get(f"/console/issues/{complaint.issue_id}")).status_code == 200


async def test_forms_without_the_sessions_csrf_token_are_refused(
    asha: httpx.AsyncClient, issues: dict[str, Complainant], pg_db: Database
) -> None:
    address = f"/console/issues/{issues['P1'].issue_id}"
    before = len(await outbox_rows(pg_db))
    for csrf in (None, "", "forged-token"):
        for step, fields in (("ask-info", {"question": "Photo?"}),
                             ("propose", {"kind": "REFUND", "amount": "10"}), ("resolve", {})):
            data = dict(fields) if csrf is None else {"csrf_token": csrf, **fields}
            response = await asha.post(f"{address}/{step}", data=data)
            assert response.status_code == 403, (step, csrf)
    big = await asha.post(f"{address}/ask-info", data={
        "csrf_token": token((await asha.get(address)).text), "question": "x" * 100_000})
    assert big.status_code == 413
    assert len(await outbox_rows(pg_db)) == before


async def test_hostile_complaint_text_and_urls_are_escaped(
    asha: httpx.AsyncClient, console_app: Any, issues: dict[str, Complainant], pg_db: Database
) -> None:
    complaint = issues["P1"]
    record = await record_of(pg_db, complaint.issue_id)
    issue = dict(record.issue)
    issue["descriptor"] = {
        **issue["descriptor"], "short_desc": HOSTILE, "long_desc": HOSTILE,
        "images": [{"url": 'https://x.example/"><script>alert(1)</script>'},
                   {"url": "javascript:alert(1)"}],
    }
    async with pg_db.session() as session:
        await session.execute(update(IssueRecord).where(IssueRecord.id == record.id)
                              .values(issue=issue))
    shared_clock(console_app, complaint, 2)
    address = f"/console/issues/{complaint.issue_id}"
    csrf = token((await asha.get(address)).text)
    asked = await asha.post(f"{address}/ask-info", data={"csrf_token": csrf, "question": HOSTILE})
    assert asked.status_code == 303
    page = await asha.get(address)
    assert "<script>" not in page.text and "<img" not in page.text
    assert "&lt;script&gt;" in page.text and "{{7*7}}" in page.text
    assert 'href="javascript:' not in page.text and "javascript:alert(1)" in page.text
