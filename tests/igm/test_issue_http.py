"""Issues end to end over HTTP: signed ``issue`` requests into the node built by ``create_app``
(real inbox, processor, outbox, dispatcher and deadline watcher on PostgreSQL), signed
``on_issue`` callbacks out to buyer apps on loopback, the seller acting through the admin API
and the command line.

What a buyer app may get wrong, or try: an unknown order, a duplicate complaint, an action out
of turn, another buyer app's order, hostile text. Each is answered the protocol's way (a NACK at
the edge, or an ``on_issue`` with the IGM error naming the field), never a 5xx, and nothing is
stored that must not be."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from igm_http_kit import ADMIN, Node, igm_node
from typer.testing import CliRunner

from ondc_adapter.cli import app as cli_app
from ondc_adapter.storage import Database


def codes(issue: dict[str, Any]) -> list[str]:
    return [a["descriptor"]["code"] for a in issue["actions"]]


async def stored(node: Node, issue_id: str | None = None) -> int:
    if issue_id is None:
        return await node.count("SELECT count(*) FROM igm_issues")
    return await node.count("SELECT count(*) FROM igm_issues WHERE issue_id = :i", i=issue_id)


async def snapshot(node: Node, issue_id: str) -> dict[str, Any]:
    """What must not change when a request is refused: the issue as exchanged, its actions,
    status and level, every event, and the order's money records."""
    detail = await node.issue(issue_id)
    settled = await node.count("SELECT count(*) FROM order_settlements")
    return {
        "wire": detail["wire"], "events": detail["events"], "settled": settled,
        **{k: detail["issue"][k] for k in ("status", "level", "updated_at")},
    }


def assert_igm_error(sent: Any, code: str, path: str | None = None) -> dict[str, Any]:
    error = sent.error
    assert error is not None, sent.reply
    assert error["code"] == code, error
    assert error["type"] == "DOMAIN-ERROR", error
    if path is not None:
        assert error["path"].startswith(path), error
    assert sent.reply["message"] == {}, sent.reply  # an error carries no issue
    return error  # type: ignore[no-any-return]


# ---------------------------------------------------------------- (a) unknown order


async def test_an_issue_about_an_unknown_order_is_igm002_and_stores_nothing(
    pg_db: Database, tmp_path
) -> None:
    async with igm_node(pg_db, tmp_path) as node:
        b = node.buyer
        await b.place_order()
        ctx = b.context("issue")
        ghost = {**b.order, "id": "O-NOT-HERE"}
        sent = await b.send("issue", b.opening(order=ghost, timestamp=ctx["timestamp"]),
                            context=ctx)
        error = assert_igm_error(sent, "IGM002", "message.issue.refs")
        assert "O-NOT-HERE" in error["message"]
        # the right order, named from another transaction: IGM009
        ctx = b.context("issue", transaction_id=str(uuid.uuid4()))
        elsewhere = await b.send("issue", b.opening(timestamp=ctx["timestamp"]), context=ctx)
        assert_igm_error(elsewhere, "IGM009", "context.transaction_id")
        assert await stored(node) == 0
        assert await node.count("SELECT count(*) FROM igm_events") == 0


# ---------------------------------------------------------------- (b) duplicates


async def test_duplicate_issues_are_refused_and_a_replay_is_processed_once(
    pg_db: Database, tmp_path
) -> None:
    async with igm_node(pg_db, tmp_path) as node:
        b = node.buyer
        await b.place_order()
        first = await b.open()
        assert first.error is None, first.reply
        assert codes(b.last) == ["OPEN", "PROCESSING"] and b.last["status"] == "PROCESSING"
        before = await snapshot(node, b.issue_id)

        # the opening issue again under a new message id: it drops our PROCESSING
        ctx = b.context("issue")
        again = await b.send("issue", b.opening(timestamp=ctx["timestamp"]), context=ctx)
        assert "missing action" in assert_igm_error(again, "IGM001")["message"]
        # the issue exactly as we last sent it: no new action
        echoed = await b.send("issue", {"issue": b.last})
        assert "no new action" in assert_igm_error(echoed, "IGM001")["message"]
        # another issue id about the same items and category while this one is open
        other_id = f"ISSUE-{uuid.uuid4().hex[:8]}"
        ctx = b.context("issue")
        second = await b.send(
            "issue", b.opening(issue_id=other_id, timestamp=ctx["timestamp"]), context=ctx
        )
        error = assert_igm_error(second, "IGM008", "message.issue.id")
        assert b.issue_id in error["message"]  # the buyer app's own issue: its to know
        assert await stored(node, other_id) == 0

        # the exact same requests (bytes, signature, message id) again: ACKed, not processed
        for sent in (first, echoed):
            replay = await b.repost(sent)
            assert replay.ack, replay.response.text
        await node.idle()
        await asyncio.sleep(0.2)  # a second callback, if any, would be on its way by now
        for sent in (first, echoed):
            assert len(b.double.by_message(sent.message_id)) == 1
            assert await node.count(
                "SELECT count(*) FROM inbox WHERE message_id = :m", m=sent.message_id
            ) == 1
        dupes = node.app.state.metrics.value("ondc_inbound_duplicates_total", {"action": "issue"})
        assert dupes >= 2
        assert await snapshot(node, b.issue_id) == before
        assert await stored(node) == 1


# ---------------------------------------------------------------- (c) out of turn


async def test_actions_out_of_turn_are_igm001_and_change_nothing(
    pg_db: Database, tmp_path
) -> None:
    async with igm_node(pg_db, tmp_path) as node:
        b = node.buyer
        await b.place_order()
        await b.open()
        before = await snapshot(node, b.issue_id)
        out_of_turn = [
            # accepting a resolution nobody proposed
            ("RESOLUTION_ACCEPTED", {"ref_id": "R1-guess", "ref_type": "RESOLUTIONS"},
             "none is pending"),
            ("RESOLUTION_REJECTED", {"ref_id": "R1-guess"}, "none is pending"),
            # answering a question nobody asked
            ("INFO_PROVIDED", {"images": ["https://buyer.example.com/img/2.jpg"]},
             "none is pending"),
            ("INFO_NOT_AVAILABLE", {}, "none is pending"),
            # the seller's own codes
            ("RESOLVED", {}, "not one a complainant sends"),
            ("PROCESSING", {}, "not one a complainant sends"),
        ]
        for code, extra, why in out_of_turn:
            sent = await b.act(code, "out of turn", **extra)
            assert why in assert_igm_error(sent, "IGM001")["message"], code
        reopened = await b.act("OPEN", "again")
        assert_igm_error(reopened, "IGM008")
        assert await snapshot(node, b.issue_id) == before
        # the issue still works: the seller asks, the buyer answers
        r = await node.admin("POST", f"/{b.issue_id}/ask-info", json={"question": "A photo?"})
        assert r.status_code == 200, r.text
        await b.pushed(r.json()["sent"][0]["message_id"])
        answered = await b.act("INFO_PROVIDED", "Photo", ref_id=b.last["last_action_id"])
        assert answered.error is None and codes(b.last)[-2:] == ["INFO_PROVIDED", "PROCESSING"]


# ---------------------------------------------------------------- (d) another buyer app


async def test_another_buyer_apps_issue_about_our_order_learns_nothing(
    pg_db: Database, tmp_path
) -> None:
    async with igm_node(pg_db, tmp_path) as node:
        b, o = node.buyer, node.other
        await b.place_order()
        await b.open()
        before = await snapshot(node, b.issue_id)
        seen_by_b = len(b.double.received)

        # the other buyer app knows b's order id and even its transaction id
        o.transaction_id, o.order = b.transaction_id, b.order
        theirs = await o.open()
        mine_unknown = await o.open(issue_id=f"ISSUE-{uuid.uuid4().hex[:8]}",
                                    order={**b.order, "id": "O-GHOST"})
        e1 = assert_igm_error(theirs, "IGM002", "message.issue.refs")
        e2 = assert_igm_error(mine_unknown, "IGM002", "message.issue.refs")
        # an existing order of another buyer app reads exactly like no order at all
        assert e1["message"].replace(b.order["id"], "X") == e2["message"].replace("O-GHOST", "X")
        # b's issue id, with a next action, from the other buyer app: "not known here"
        o.last = b.last
        hijack = await o.act("RESOLUTION_ACCEPTED", "mine now", ref_id="R1", ref_type="RESOLUTIONS")
        assert_igm_error(hijack, "IGM005", "message.issue.id")

        for sent in (theirs, mine_unknown, hijack):
            raw = sent.callbacks[0].body.decode()
            assert f'"{b.who.subscriber_id}"' not in raw  # not b's name, nor its issue's data
            assert "Meera Support" not in raw and "9876500001" not in raw
        assert len(b.double.received) == seen_by_b  # b heard nothing of it
        assert await node.count(
            "SELECT count(*) FROM igm_issues WHERE bap_id = :b", b=o.who.subscriber_id
        ) == 0
        assert await snapshot(node, b.issue_id) == before


# ---------------------------------------------------------------- (e) hostile text


def _mutations() -> list[tuple[str, Any, str]]:
    """(name, change to the opening message, the path the refusal names)."""

    def images(*urls: Any) -> Any:
        return lambda m: m["issue"]["descriptor"].__setitem__("images", list(urls))

    def set_(path: list[Any], value: Any) -> Any:
        def change(m: dict[str, Any]) -> None:
            target: Any = m
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
        return change

    d = "message.issue.descriptor"
    return [
        ("javascript image", images({"url": "javascript:alert(document.cookie)"}),
         f"{d}.images.0.url"),
        ("data image, old shape", images("data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+"),
         f"{d}.images.0.url"),
        ("file image", images({"url": "file:///etc/passwd", "size_type": "xs"}),
         f"{d}.images.0.url"),
        ("image with spaces", images({"url": "https://x.example/a b.jpg"}), f"{d}.images.0.url"),
        ("image size_type", images({"url": "https://x.example/a.jpg", "size_type": "<b>"}),
         f"{d}.images.0.size_type"),
        ("too many images", images(*[{"url": f"https://x.example/{i}.jpg"} for i in range(21)]),
         f"{d}.images"),
        ("oversize short_desc", set_(["issue", "descriptor", "short_desc"], "A" * 501),
         f"{d}.short_desc"),
        ("oversize long_desc", set_(["issue", "descriptor", "long_desc"], "B" * 5001),
         f"{d}.long_desc"),
        ("empty short_desc", set_(["issue", "descriptor", "short_desc"], ""), f"{d}.short_desc"),
        ("oversize category", set_(["issue", "descriptor", "code"], "C" * 65), f"{d}.code"),
        ("unknown ref type", lambda m: m["issue"]["refs"].append(
            {"ref_id": "x", "ref_type": "<script>alert(1)</script>"}), "message.issue.refs.4"),
        ("markup in a phone", set_(["issue", "actors", 0, "info", "contact", "phone"],
                                   "<b>9886098860</b>"), "message.issue.actors.0"),
        ("issue id with markup", set_(["issue", "id"], '<img src=x onerror="alert(1)">'),
         "message.issue.id"),
        ("oversize issue id", set_(["issue", "id"], "I" * 129), "message.issue.id"),
        ("issue not an object", set_(["issue"], "<script>alert(1)</script>"), "message.issue"),
        ("actions not a list", set_(["issue", "actions"], {"0": "OPEN"}),
         "message.issue.actions"),
    ]


async def test_hostile_text_gets_the_protocols_answer_never_a_5xx(
    pg_db: Database, tmp_path
) -> None:
    async with igm_node(pg_db, tmp_path) as node:
        b = node.buyer
        await b.place_order()
        orders_before = await node.count("SELECT count(*) FROM orders")
        for name, change, path in _mutations():
            ctx = b.context("issue")
            issue_id = f"ISSUE-{uuid.uuid4().hex[:8]}"
            message = b.opening(issue_id=issue_id, timestamp=ctx["timestamp"])
            change(message)
            sent = await b.send("issue", message, context=ctx)
            error = assert_igm_error(sent, "IGM001")
            assert error["path"].startswith(path), (name, error)
            assert await stored(node) == 0, name

        # at the edge: a NUL (PostgreSQL cannot store it) and a body over the limit
        ctx = b.context("issue")
        message = b.opening(timestamp=ctx["timestamp"])
        message["issue"]["descriptor"]["short_desc"] = "torn\x00border"
        nul = await b.post("issue", message, context=ctx)
        assert nul.response.status_code == 400, nul.response.text
        assert nul.response.json()["message"]["ack"]["status"] == "NACK"
        assert "short_desc" in nul.response.json()["error"]["path"]
        message["issue"]["descriptor"]["short_desc"] = "x"
        message["issue"]["descriptor"]["long_desc"] = "y" * (node.settings.max_body_bytes + 1)
        big = await b.post("issue", message, context=b.context("issue"))
        assert big.response.status_code == 413, big.response.text
        assert await stored(node) == 0
        assert await node.count("SELECT count(*) FROM igm_events") == 0
        assert await node.count("SELECT count(*) FROM orders") == orders_before

        # markup is text: kept exactly, echoed exactly, and served only as JSON
        script = '<script>alert("x")</script><img src=x onerror=alert(1)>'
        ctx = b.context("issue")
        message = b.opening(timestamp=ctx["timestamp"])
        message["issue"]["descriptor"].update(short_desc=script, long_desc=script * 10)
        message["issue"]["actions"][0]["descriptor"]["short_desc"] = script
        sent = await b.send("issue", message, context=ctx)
        assert sent.error is None, sent.reply
        assert b.last["descriptor"]["short_desc"] == script
        detail = await node.issue(b.issue_id)
        assert detail["wire"]["descriptor"]["long_desc"] == script * 10
        assert detail["actions"][0]["short_desc"] == script
        assert detail["events"][0]["summary"] == script


# ---------------------------------------------------------------- (f) the seller's side


async def _cli(*args: str, node: Node) -> Any:
    """Run ``ondc-adapter`` against the node's database (in a thread: it runs its own loop)."""
    env = {"ONDC_DATABASE_URL": node.db.url, "ONDC_SUBSCRIBER_ID": node.settings.subscriber_id,
           "ONDC_BPP_URI": node.settings.bpp_uri}
    return await asyncio.to_thread(CliRunner().invoke, cli_app, list(args), env=env)


async def test_the_seller_walks_an_issue_through_the_admin_api_to_a_refund(
    pg_db: Database, tmp_path
) -> None:
    async with igm_node(pg_db, tmp_path, igm_watch_seconds=0.1) as node:
        b = node.buyer
        await b.place_order()
        await b.open()
        iid = b.issue_id

        async def post(action: str, body: Any = None) -> Any:
            kw = {"json": body} if body is not None else {}
            return await node.admin("POST", f"/{iid}/{action}", **kw)

        # refusals: 404, 409 with the IGM code, 422 for a bad body; none sends anything
        sent_before = await node.count("SELECT count(*) FROM outbox")
        assert (await node.admin("POST", "/ISSUE-NOPE/process")).status_code == 404
        assert (await node.admin("GET", "/ISSUE-NOPE")).status_code == 404
        early = await post("resolve")
        assert early.status_code == 409
        assert early.json()["detail"]["code"] == "IGM001"
        assert "RESOLUTION_ACCEPTED" in early.json()["detail"]["message"]
        taken = await post("process")
        assert taken.status_code == 409 and "already" in taken.json()["detail"]["message"]
        for bad in ({"kind": "BRIBE"}, {"kind": "REFUND"}, {"kind": "NO_ACTION", "amount": "1"},
                    {"kind": "REFUND", "amount": "-5"}, {"kind": "REFUND", "amount": 5},
                    {"kind": "REFUND", "amount": "1", "extra": 1},
                    {"kind": "REFUND", "amount": "1", "text": "a\x00b"}):
            r = await post("propose", bad)
            assert r.status_code == 422, (bad, r.text)
        assert (await post("ask-info", {"question": ""})).status_code == 422
        assert (await post("ask-info", {})).status_code == 422
        too_much = await post("propose", {"kind": "REFUND", "amount": "99999"})
        assert too_much.status_code == 409 and "exceeds" in too_much.json()["detail"]["message"]
        not_ours = await post("propose", {"kind": "REFUND", "amount": "1", "item_id": "I9"})
        assert not_ours.status_code == 409 and not_ours.json()["detail"]["code"] == "IGM004"
        assert await node.count("SELECT count(*) FROM outbox") == sent_before

        # ask -> the buyer answers -> propose a refund -> accepted -> resolved
        asked = await post("ask-info", {"question": "Please share a photo of the border"})
        assert asked.status_code == 200, asked.text
        [sent] = asked.json()["sent"]
        assert (sent["action"], sent["code"]) == ("on_issue", "INFO_REQUESTED")
        push = await b.pushed(sent["message_id"])
        assert push["context"]["transaction_id"] == b.transaction_id
        busy = await post("propose", {"kind": "REFUND", "amount": "150"})
        assert busy.status_code == 409 and "wait for the information" in busy.text
        await b.act("INFO_PROVIDED", "Photo attached", ref_id=b.last["last_action_id"],
                    images=["https://buyer.example.com/img/2.jpg"])
        proposed = await post("propose", {"kind": "REFUND", "amount": "150",
                                          "text": "Refund for the torn border"})
        assert proposed.status_code == 200, proposed.text
        await b.pushed(proposed.json()["sent"][0]["message_id"])
        [resolution] = b.last["resolutions"]
        assert resolution["descriptor"]["code"] == "REFUND"
        accepted = b.last
        await b.act("RESOLUTION_ACCEPTED", "Refund accepted", reply=False,
                    ref_id=resolution["id"], ref_type="RESOLUTIONS")
        # the buyer app retries its acceptance (new message id): refused, recorded once
        b.last = accepted
        retry = await b.act("RESOLUTION_ACCEPTED", "Refund accepted",
                            ref_id=resolution["id"], ref_type="RESOLUTIONS")
        assert_igm_error(retry, "IGM001")
        resolved = await post("resolve", {"text": "Refund of Rs 150 paid"})
        assert resolved.status_code == 200, resolved.text
        assert resolved.json()["issue"]["status"] == "RESOLVED"
        await b.pushed(resolved.json()["sent"][0]["message_id"])
        assert b.last["status"] == "RESOLVED"

        detail = await node.issue(iid)
        assert [a["code"] for a in detail["actions"]] == [
            "OPEN", "PROCESSING", "INFO_REQUESTED", "INFO_PROVIDED", "PROCESSING",
            "RESOLUTION_PROPOSED", "RESOLUTION_ACCEPTED", "RESOLVED"]
        assert detail["issue"]["accepted_resolution"] == resolution["id"]
        assert detail["resolutions"][0]["amount"] == "150.00"
        assert [e["direction"] for e in detail["events"]] == [
            "in", "out", "out", "in", "out", "out", "in", "out"]
        listed = await node.admin("GET", "", params={"status": "RESOLVED"})
        assert [i["issue_id"] for i in listed.json()["issues"]] == [iid]
        assert (await node.admin("GET", "", params={"status": "BOGUS"})).status_code == 422

        # the refund, once, in the order's detail (admin API and `orders show`)
        r = await node.client.get(f"/admin/orders/{b.order['id']}", headers=ADMIN)
        [refund] = r.json()["settlements"]
        assert (refund["type"], refund["value"], refund["source"]) == ("refund", "-150.00", "igm")
        assert refund["reference"] == f"{iid}/{resolution['id']}" and refund["id"] == "I1"
        shown = await _cli("orders", "show", b.order["id"], node=node)
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.output)["settlements"] == [refund]

        # the buyer closes it; nothing more may be done
        await b.act("CLOSED", "Thank you", reply=False)
        closed = await post("process")
        assert closed.status_code == 409 and "CLOSED" in closed.json()["detail"]["message"]

        # the watcher saw it open and then closed (gauges on /metrics)
        async def open_issues() -> float:
            return node.app.state.metrics.value("ondc_igm_open_issues")  # type: ignore[no-any-return]

        for _ in range(200):
            if await open_issues() == 0:
                break
            await asyncio.sleep(0.05)
        metrics = (await node.client.get("/metrics")).text
        assert "ondc_igm_open_issues 0.0" in metrics
        assert 'ondc_igm_issues{deadline="resolution",state="overdue"} 0.0' in metrics


async def test_officers_through_the_admin_api(pg_db: Database, tmp_path) -> None:
    async with igm_node(pg_db, tmp_path) as node:
        r = await node.admin("GET", "/officers/gro")
        assert r.json()["source"] == "settings" and r.json()["phone"] == "9876500002"
        for bad in ({"name": "Ravi", "email": "gro@seller.example.in", "phone": "+919876500002"},
                    {"name": "Ravi", "email": "not-an-email", "phone": "9876500002"},
                    {"name": "\x1b[31mRavi", "email": "gro@seller.example.in",
                     "phone": "9876500002"},
                    {"name": "", "email": "gro@seller.example.in", "phone": "9876500002"},
                    {"name": "Ravi", "email": "gro@seller.example.in"}):
            assert (await node.admin("PUT", "/officers/gro", json=bad)).status_code == 422, bad
        assert (await node.admin("PUT", "/officers/ceo", json={})).status_code == 422
        good = {"name": "Lakshmi Rao", "email": "gro@seller.example.in", "phone": "9000000001"}
        r = await node.admin("PUT", "/officers/gro", json=good)
        assert r.status_code == 200 and r.json()["source"] == "admin"
        r = await node.admin("GET", "/officers/gro")
        assert {k: r.json()[k] for k in good} == good

        # the GRO named here answers the buyer's escalation
        b = node.buyer
        await b.place_order()
        await b.open()
        r = await node.admin("POST", f"/{b.issue_id}/propose", json={"kind": "NO_ACTION"})
        await b.pushed(r.json()["sent"][0]["message_id"])
        await b.act("RESOLUTION_REJECTED", "No", reply=False,
                    ref_id=b.last["resolutions"][0]["id"])
        escalated = await b.act("ESCALATED", "To the GRO")
        assert escalated.error is None
        gro = next(a for a in b.last["actors"] if a["type"] == "COUNTERPARTY_NP_GRO")
        assert gro["info"]["person"]["name"] == "Lakshmi Rao"
        assert b.last["level"] == "GRIEVANCE"

