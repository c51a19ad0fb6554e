"""Attacks on ``POST /ondc/issue`` (IGM 2.0.0) through real signed requests and the real seller
logic, against a confirmed order:

* hostile text (SQL, markup, JSON-breaking, odd unicode, very long) in every free-text field
  of a complaint: ACKed, stored exactly, echoed exactly in the signed ``on_issue`` and served
  by the admin API as JSON only;
* fuzz: a valid opening issue with odd values in its leaves (hostile text, javascript:/data:
  URLs, extreme numbers, dropped and added keys). Each is a 400 NACK naming the field and
  changing nothing, or ACKed and processed to exactly one signed ``on_issue``: the issue taken
  up, or an IGM error (never the processor's 31001) that leaves the issue tables, the order
  and its money records exactly as they were (``AttackNode.fingerprint``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import orjson
import pytest
from attack_node import AttackNode, changed_tables, record
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protocol_kit import (
    ADMIN,
    HOSTILE,
    SCHEMA_DIR,
    Buyer,
    Sent,
    confirm_message,
    inbox_row,
    init_message,
    seed,
    select_message,
    settle,
)

from ondc_adapter.inbox import PROCESSED
from ondc_adapter.sandbox import complaints

ISSUE_TABLES = {"igm_issues", "igm_events", "igm_officers", "orders", "order_settlements"}
_SCHEMA = json.loads((SCHEMA_DIR / "igm_issue_message.schema.json").read_text())
ISSUE_SCHEMA = jsonschema.validators.validator_for(_SCHEMA)(_SCHEMA)


@pytest.fixture(scope="module")
def complainant(node: AttackNode, http: httpx.Client) -> Iterator[tuple[Buyer, dict[str, Any]]]:
    """A buyer app with a confirmed order, and the seller's support desk and GRO named."""
    node.app.state.processor.retry_delay = 0.0  # a failing handler is retried at once
    made, items = seed(http, node, "PI", ("II1",))
    assert made.status_code == 201 and all(i.status_code == 201 for i in items), made.text
    for role, phone in (("support", "9876500001"), ("gro", "9876500002")):
        r = http.put(f"{node.url}/admin/issues/officers/{role}", headers=ADMIN,
                     json={"name": f"{role} officer", "email": f"{role}@seller.example.in",
                           "phone": phone})
        assert r.status_code == 200, r.text
    buyer = Buyer(node, http)
    buyer.send("select", select_message("PI", [("II1", 1)]))
    ini = buyer.send("init", init_message("PI", [("II1", 1)]))
    ctx = buyer.context("confirm")
    con = buyer.send("confirm", confirm_message(ini.reply, f"O-{buyer.transaction_id[:12]}",
                                                stamp=ctx["timestamp"]), context=ctx)
    assert "error" not in con.reply, con.reply
    yield buyer, con.order


def opening(buyer: Buyer, order: dict[str, Any], stamp: str) -> dict[str, Any]:
    return complaints.opening_issue(
        issue_id=f"ISSUE-{uuid.uuid4().hex[:10]}", bap_id=buyer.node.bap.subscriber_id,
        domain=buyer.domain, now=stamp, order=order,
        image_url="https://buyer.example.com/img/torn.jpg",
    )


def issue_sent(node: AttackNode, buyer: Buyer, message: Any, context: dict[str, Any]) -> Sent:
    """Post (not schema-checked: the odd values are the point), process, deliver, collect the
    on_issue callbacks (each verified against the seller's key by the buyer double)."""
    sent = buyer.post("issue", message, context=context, check=False)
    if sent.acked:
        settle(node)
        sent.callbacks = node.callbacks(buyer.transaction_id, sent.message_id, "on_issue")
        sent.replies = [orjson.loads(c.body) for c in sent.callbacks]
        for c in sent.callbacks:
            assert c.verified, c.problem
    return sent


def close(node: AttackNode, buyer: Buyer, issue: dict[str, Any]) -> None:
    """Close an accepted issue, so the next complaint about the same item is not IGM008."""
    ctx = buyer.context("issue")
    message = complaints.next_issue(issue, code="CLOSED", now=ctx["timestamp"], short_desc="ok")
    sent = issue_sent(node, buyer, message, ctx)
    assert sent.acked and sent.replies == [], sent.replies


@pytest.mark.parametrize("text", HOSTILE, ids=[f"h{i}" for i in range(len(HOSTILE))])
def test_hostile_complaint_text_is_stored_and_echoed_exactly(
    node: AttackNode, http: httpx.Client, complainant: tuple[Buyer, dict[str, Any]], text: str
) -> None:
    record()
    buyer, order = complainant
    tables = node.tables()
    ctx = buyer.context("issue")
    message = opening(buyer, order, ctx["timestamp"])
    issue = message["issue"]
    short = text[:500]  # the longest short_desc and name IGM allows
    issue["descriptor"].update(short_desc=short, long_desc=text)
    issue["actions"][0]["descriptor"]["short_desc"] = short
    issue["actions"][0]["actor_details"]["name"] = short
    issue["actors"][0]["info"]["person"]["name"] = short
    issue["actors"][0]["info"]["org"]["name"] = short
    sent = issue_sent(node, buyer, message, ctx)
    assert sent.acked, sent.response.text
    _, status, error = inbox_row(node, sent)
    assert status == PROCESSED, error
    reply = sent.reply
    assert "error" not in reply, reply
    ISSUE_SCHEMA.validate(reply["message"])
    echoed = reply["message"]["issue"]
    assert echoed["descriptor"] == issue["descriptor"]
    assert echoed["actors"][0] == issue["actors"][0]
    # (the action also carries its pre-April-2025 "description" twin: ONDC_IGM_LEGACY_NAMES)
    assert {k: v for k, v in echoed["actions"][0].items() if k != "description"} == (
        issue["actions"][0])
    ((wire,),) = node.sql("SELECT issue::text FROM igm_issues WHERE issue_id = :i",
                          i=issue["id"])
    assert json.loads(wire)["descriptor"] == issue["descriptor"]
    shown = http.get(f"{node.url}/admin/issues/{issue['id']}", headers=ADMIN)
    assert shown.headers["content-type"] == "application/json"
    assert shown.json()["wire"]["descriptor"] == issue["descriptor"]
    assert shown.json()["events"][0]["summary"] == short
    close(node, buyer, echoed)
    assert node.tables() == tables


ODD = [
    "javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "file:///etc/passwd",
    "https://x.example/a b.jpg", "", " ", "0", "-1", "1e309", "NaN", "null", "[]", "{}",
    "a\x00b", "ORDER", "ITEM", "OPEN", "CLOSED", "RESOLUTION_ACCEPTED", "GRIEVANCE",
    "2026-02-30T25:61:61Z", "PT-1S", "P99999Y", "9" * 40, "I" * 129, "x" * 5001, *HOSTILE,
]
odd_value = st.sampled_from(ODD) | st.text(max_size=20) | st.integers(-(2**63), 2**63 - 1) | (
    st.booleans() | st.none()
)


def leaves(obj: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(
        obj, list) else ()
    out: list[tuple[Any, ...]] = []
    for key, value in items:
        out.append((*path, key))
        out.extend(leaves(value, (*path, key)))
    return out


def mutate(data: st.DataObject, message: dict[str, Any]) -> list[str]:
    done = []
    for _ in range(data.draw(st.integers(1, 5))):
        everything = leaves(message)
        if not everything:  # the issue itself was dropped
            break
        path = data.draw(st.sampled_from(everything))
        holder: Any = message
        for key in path[:-1]:
            holder = holder[key]
        op = data.draw(st.sampled_from(["set", "set", "set", "drop", "add"]))
        if op == "drop" and isinstance(holder, dict):
            del holder[path[-1]]
        elif op == "add" and isinstance(holder[path[-1]], dict):
            holder[path[-1]][data.draw(st.sampled_from(ODD))] = data.draw(odd_value)
        else:
            holder[path[-1]] = data.draw(odd_value)
        done.append(f"{op} {'.'.join(map(str, path))}")
    return done


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_odd_complaints_get_a_signed_answer_and_refusals_change_nothing(
    node: AttackNode, complainant: tuple[Buyer, dict[str, Any]], data: st.DataObject
) -> None:
    buyer, order = complainant
    ctx = buyer.context("issue")
    message = opening(buyer, order, ctx["timestamp"])
    changes = mutate(data, message)
    before = node.fingerprint()
    sent = issue_sent(node, buyer, message, ctx)
    if not sent.acked:
        record(f"nack {sent.response.status_code}")
        assert sent.response.status_code == 400, sent.response.text
        error = sent.response.json()["error"]
        assert error.get("path") or error.get("message"), error
        assert changed_tables(before, node.fingerprint()) == set()
        return
    _, status, error_text = inbox_row(node, sent)
    assert status == PROCESSED, (changes, error_text)
    reply = sent.reply
    assert reply["context"]["message_id"] == sent.message_id
    if "error" in reply:
        record(f"error {reply['error']['code']}")
        assert reply["error"]["code"].startswith("IGM"), (changes, reply)
        assert reply["error"]["message"] and reply["error"]["path"], reply
        assert reply["message"] == {}, reply
        assert changed_tables(before, node.fingerprint()) & ISSUE_TABLES == set(), changes
        return
    record("taken up")
    ISSUE_SCHEMA.validate(reply["message"])
    issue = reply["message"]["issue"]
    assert issue["status"] == "PROCESSING" and issue["actions"][-1]["descriptor"]["code"] == (
        "PROCESSING")
    close(node, buyer, issue)
