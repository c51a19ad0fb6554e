"""Fuzz that gets past the ACK: signed requests that satisfy the published JSON Schemas but
carry odd values (hostile and odd-unicode text, numbers written oddly, extreme integers,
dropped optional keys, extra keys, duplicated list entries, odd but valid context values),
built from a valid request of every action against transactions at every stage (new,
selected, initialised, confirmed, delivered). Each is ACKed or refused with a 400 naming the
field and changing nothing; an ACKed one is then run by the inbox processor with the real
seller handlers, and must end ``processed`` with exactly the signed, schema-valid ``on_*``
callback(s) it owes: a result or an ONDC error, never the processor's 31001 "internal error"
(the three bugs it found, NUL in text, over-long return ids and a rating feedback_id without
a form, are fixed and pinned by their own tests)."""

from __future__ import annotations

import copy
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from attack_node import AttackNode, changed_tables, record
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from protocol_kit import (
    ADMIN,
    BUYER_GPS,
    BUYER_PIN,
    HOSTILE,
    Buyer,
    catalog_inc,
    collect,
    confirm_message,
    inbox_row,
    init_message,
    schema_errors,
    seed,
    select_message,
    settle,
)

from ondc_adapter.inbox import PROCESSED

# x 13 bases: 78 requests through the seller logic (ONDC_ATTACK_FUZZ_EXAMPLES for a longer run)
EXAMPLES_PER_BASE = int(os.environ.get("ONDC_ATTACK_FUZZ_EXAMPLES", "6"))


ODD_TEXT = [
    "", " ", "0", "-0", "-1", "00", "1e309", "NaN", "Infinity", "0x1F", "1_000", "\u0663",
    "\u00b2", " 3", "3 ", "999999999999.999999", "0.000001", "9" * 40, "P0D", "PT-1S",
    "P1Y2M3W4DT5H6M7.5S", "2026-02-30T25:61:61Z", "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999999+14:00", "javascript:alert(1)", "../../etc/passwd", "%00",
    "null", "true", "[]", "{}", "I1", "P1", "F1", "L1", "001", "Order", "Item", "Delivery",
    "a\x00b", *HOSTILE,
]
odd_text = st.one_of(
    st.sampled_from(ODD_TEXT),
    st.text(max_size=30),  # any code point JSON can carry, U+0000 included
    st.from_regex(r"\A-?\d{1,15}(\.\d{1,8})?\Z"),
)
odd_int = st.sampled_from([0, 1, -1, 2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1, -(2**63)]) | (
    st.integers(-5, 10**6)
)


def odd_value_like(value: Any) -> st.SearchStrategy[Any]:
    """Another value of the same JSON type (what a schema-valid body may carry there)."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return odd_int
    if isinstance(value, float):
        return st.floats(allow_nan=False, allow_infinity=False)
    if isinstance(value, str):
        return odd_text
    return st.just(value)


def nodes(obj: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    """Every (path, value) below ``obj``, containers and leaves."""
    out: list[tuple[tuple[Any, ...], Any]] = []
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(
        obj, list) else ()
    for key, value in items:
        out.append(((*path, key), value))
        out.extend(nodes(value, (*path, key)))
    return out


def parent(obj: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        obj = obj[key]
    return obj


def mutate(data: st.DataObject, message: dict[str, Any]) -> list[str]:
    """Apply a few odd changes (or, one time in five, an odd value in every leaf)."""
    done: list[str] = []
    if data.draw(st.integers(0, 4)) == 0:
        for path, value in nodes(message):
            if not isinstance(value, dict | list):
                parent(message, path)[path[-1]] = data.draw(odd_value_like(value))
        return ["every leaf"]
    for _ in range(data.draw(st.integers(1, 6))):
        everything = nodes(message)
        if not everything:
            break
        path, value = data.draw(st.sampled_from(everything))
        holder = parent(message, path)
        op = data.draw(st.sampled_from(["set", "set", "set", "drop", "add", "dup"]))
        if op == "set" and not isinstance(value, dict | list):
            holder[path[-1]] = data.draw(odd_value_like(value))
        elif op == "drop" and isinstance(holder, dict):
            del holder[path[-1]]
        elif op == "add" and isinstance(value, dict):
            value[data.draw(odd_text)] = data.draw(odd_text | odd_int | st.booleans())
        elif op == "dup" and isinstance(holder, list):
            holder.append(copy.deepcopy(value))
        else:
            continue
        done.append(f"{op} {'.'.join(map(str, path))}")
    return done


def odd_timestamp(data: st.DataObject) -> str:
    now = datetime.now(UTC)
    form = data.draw(st.sampled_from(["ms", "s", "us", "ns", "ist", "minus0"]))
    if form == "ist":
        return (now + timedelta(hours=5, minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.%f+05:30")
    base = now.strftime("%Y-%m-%dT%H:%M:%S")
    return {
        "ms": f"{base}.{now.microsecond // 1000:03d}Z", "s": f"{base}Z",
        "us": f"{base}.{now.microsecond:06d}Z", "ns": f"{base}.{now.microsecond:06d}123Z",
        "minus0": f"{base}.{now.microsecond // 1000:03d}-00:00",
    }[form]


def odd_context(data: st.DataObject, ctx: dict[str, Any]) -> dict[str, Any]:
    if data.draw(st.booleans()):
        ctx["timestamp"] = odd_timestamp(data)
    if data.draw(st.booleans()):
        ctx["ttl"] = data.draw(st.sampled_from(
            ["PT30S", "PT1M", "PT1H", "P1D", "P1Y", "PT30.000S", "PT3600S", "P0DT0H1M", "PT45S"]))
    if data.draw(st.booleans()):
        ctx["message_id"] = data.draw(st.from_regex(r"\A[\x21-\x7e]{1,128}\Z"))
        assume(ctx["message_id"] != ctx["transaction_id"])
    if data.draw(st.booleans()):
        ctx["city"] = data.draw(st.sampled_from(["std:0542", "*", "std:080"]))
    if data.draw(st.booleans()):
        ctx["key"] = data.draw(odd_text)
    if data.draw(st.booleans()):
        ctx[data.draw(odd_text)] = data.draw(odd_text | odd_int)
    return ctx


# ---------------------------------------------------------------- transactions and requests


class World:
    """Transactions at every stage, and a valid request of every action for each."""

    def __init__(self, node: AttackNode, http: httpx.Client) -> None:
        self.node, self.http = node, http
        self.selected = self.buyer()
        self.selected.send("select", select_message("P1", [("I1", 2), ("I2", 1)]))
        self.inited = self.buyer()
        self.inited.send("select", select_message("P1", [("I1", 2), ("I2", 1)]))
        self.on_init = self.inited.send("init", init_message("P1", [("I1", 2), ("I2", 1)])).reply
        self.confirmed, self.confirmed_id = self.confirm()
        self.delivered, self.delivered_id = self.confirm()
        for state in ("Packed", "Order-picked-up", "Order-delivered"):
            r = http.post(f"{node.url}/admin/orders/{self.delivered_id}/advance",
                          headers=ADMIN, json={"state": state})
            assert r.status_code == 200, r.text
        node.deliver()

    def buyer(self) -> Buyer:
        return Buyer(self.node, self.http)

    def confirm(self) -> tuple[Buyer, str]:
        b = self.buyer()
        b.send("select", select_message("P1", [("I1", 1)]))
        ini = b.send("init", init_message("P1", [("I1", 1)]))
        order_id = f"O-{b.transaction_id[:12]}"
        ctx = b.context("confirm")
        con = b.send("confirm", confirm_message(ini.reply, order_id, stamp=ctx["timestamp"]),
                     context=ctx)
        assert "error" not in con.reply, con.reply
        return b, order_id

    def stage(self, name: str) -> tuple[Buyer, str]:
        return {
            "new": (self.buyer(), f"O-{uuid.uuid4().hex[:12]}"),
            "selected": (self.selected, "O-none"),
            "initialised": (self.inited, "O-none"),
            "confirmed": (self.confirmed, self.confirmed_id),
            "delivered": (self.delivered, self.delivered_id),
        }[name]


def search(_: str) -> dict[str, Any]:
    return {"intent": {
        "item": {"descriptor": {"name": "elephant"}}, "category": {"id": "Home Decor"},
        "provider": {"id": "P1", "descriptor": {"name": "Varanasi Weavers"}},
        "fulfillment": {"type": "Delivery", "end": {"location": {
            "gps": BUYER_GPS, "address": {"area_code": BUYER_PIN}}}},
        "payment": {"@ondc/org/buyer_app_finder_fee_type": "percent",
                    "@ondc/org/buyer_app_finder_fee_amount": "3"},
        "tags": [{"code": "bap_terms", "list": [{"code": "static_terms", "value": ""}]}],
    }}


def search_window(_: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    start, end = now - timedelta(days=1), now - timedelta(seconds=5)
    return {"intent": {
        "payment": {"@ondc/org/buyer_app_finder_fee_type": "percent",
                    "@ondc/org/buyer_app_finder_fee_amount": "3"},
        "tags": [tag_list("catalog_inc", start_time=f"{start:%Y-%m-%dT%H:%M:%S.000Z}",
                          end_time=f"{end:%Y-%m-%dT%H:%M:%S.000Z}")],
    }}


def tag_list(code: str, **values: str) -> dict[str, Any]:
    return {"code": code, "list": [{"code": k, "value": v} for k, v in values.items()]}


BASES: dict[str, tuple[str, tuple[str, ...], Callable[[World, str], dict[str, Any]]]] = {
    "search": ("search", ("new",), lambda w, o: search(o)),
    "search-window": ("search", ("new",), lambda w, o: search_window(o)),
    "select": ("select", ("new", "selected", "initialised"),
               lambda w, o: select_message("P1", [("I1", 2), ("I2", 1)])),
    "init": ("init", ("selected", "initialised", "new"),
             lambda w, o: init_message("P1", [("I1", 2), ("I2", 1)])),
    "confirm": ("confirm", ("initialised", "confirmed", "new"),
                lambda w, o: confirm_message(w.on_init, o if o != "O-none" else "O-fuzz")),
    "status": ("status", ("confirmed", "delivered", "new"), lambda w, o: {"order_id": o}),
    "track": ("track", ("confirmed", "delivered"),
              lambda w, o: {"order_id": o, "callback_url": "https://buyer.example.com/t"}),
    "cancel": ("cancel", ("confirmed", "delivered", "new"), lambda w, o: {
        "order_id": o, "cancellation_reason_id": "001",
        "descriptor": {"name": "fulfillment", "short_desc": "F1",
                       "tags": [tag_list("cancel_request", reason_desc="changed my mind")]}}),
    "update-fulfillment": ("update", ("confirmed", "delivered"), lambda w, o: {
        "update_target": "fulfillment", "order": {"id": o, "fulfillments": [{"id": "F1", "end": {
            "instructions": {"code": "2", "name": "leave at gate", "short_desc": "gate"},
            "contact": {"phone": "9886098860", "email": "a@b.in"}}}]}}),
    "update-payment": ("update", ("confirmed", "delivered"), lambda w, o: {
        "update_target": "payment", "order": {"id": o, "payment": {
            "@ondc/org/settlement_details": [{
                "settlement_counterparty": "buyer", "settlement_phase": "refund",
                "settlement_type": "upi", "settlement_amount": "10.00",
                "settlement_timestamp": "2026-01-01T00:00:00.000Z"}]}}}),
    "update-return": ("update", ("delivered", "confirmed"), lambda w, o: {
        "update_target": "item", "order": {"id": o, "fulfillments": [{"type": "Return", "tags": [
            tag_list("return_request", id=f"R{uuid.uuid4().hex[:6]}", item_id="I1",
                     item_quantity="1", reason_id="003", reason_desc="broken",
                     images="https://img.example/1.jpg", ttl_approval="PT24H",
                     ttl_reverseqc="P3D")]}]}}),
    "rating": ("rating", ("confirmed", "delivered", "new"), lambda w, o: {"ratings": [
        {"rating_category": "Provider", "id": "P1", "value": "4",
         "feedback_form": [{"question": "Packaging?", "answer": "Good"}], "feedback_id": "fb1"},
        {"rating_category": "Order", "id": o, "value": 5}]}),
    "support": ("support", ("confirmed", "new"), lambda w, o: {"ref_id": o}),
}


@pytest.fixture(scope="module")
def world(node: AttackNode, http: httpx.Client) -> World:
    node.app.state.processor.retry_delay = 0.0  # a failing handler is retried at once
    made, items = seed(http, node, "P1", ("I1", "I2"))
    assert made.status_code == 201 and all(i.status_code == 201 for i in items), made.text
    return World(node, http)


@pytest.mark.parametrize("base", sorted(BASES))
@settings(max_examples=EXAMPLES_PER_BASE, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_odd_schema_valid_requests_are_processed_to_a_signed_answer(
    node: AttackNode, world: World, base: str, data: st.DataObject
) -> None:
    action, stages, build = BASES[base]
    buyer, order_id = world.stage(data.draw(st.sampled_from(stages)))
    message = copy.deepcopy(build(world, order_id))
    changes = mutate(data, message)
    context = odd_context(data, buyer.context(action))
    if action == "confirm" and isinstance(message.get("order"), dict):
        message["order"].setdefault("created_at", context["timestamp"])
    payload = {"context": context, "message": message}
    assume(not schema_errors(payload))  # schema-valid: the odd values are the point
    before = node.fingerprint()
    sent = buyer.post(action, message, context=context, check=False)
    if not sent.acked:
        record(f"{base}: nack {sent.response.status_code}")
        assert sent.response.status_code == 400, sent.response.text
        error = sent.response.json()["error"]
        assert error.get("path") or error.get("message"), error
        assert changed_tables(before, node.fingerprint()) == set()
        return
    settle(node)
    collect(node, sent)
    _, status, error_text = inbox_row(node, sent)
    assert status == PROCESSED, (base, changes, error_text)
    if action == "search" and (catalog_inc(message) or {}).get("mode") in ("start", "stop"):
        record(f"{base}: subscription")
        assert sent.replies == []
        return
    assert sent.replies, (base, changes, "no callback")
    outcome = "ok"
    for reply in sent.replies:
        assert reply["context"]["message_id"] == sent.message_id
        if "error" in reply:
            assert reply["error"]["code"] != "31001", (base, changes, reply)
            assert reply["error"].get("message"), reply
            outcome = f"error {reply['error']['code']}"
    record(f"{base}: {outcome}")


def test_rating_with_a_feedback_id_and_no_form(node: AttackNode, world: World) -> None:
    record()
    sent = world.confirmed.send("rating", {"ratings": [
        {"rating_category": "Provider", "id": "P1", "value": "4", "feedback_id": "fb1"}]})
    _, status, error_text = inbox_row(node, sent)
    assert status == PROCESSED, error_text
    assert sent.reply["message"]["rating_ack"] is True, sent.reply
