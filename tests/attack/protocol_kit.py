"""Signed protocol requests into the attack node, run through the real seller logic, and the
signed callbacks they produce.

``Buyer`` plays a buyer app: it signs each request with the registered BAP key, posts it to
``/ondc/{action}``, runs the inbox processor (workers are off) and the dispatcher, and returns
the ``on_*`` callbacks the buyer app double received (each one's signature verified against
the seller's key). Requests and callbacks are checked against the published JSON Schemas.
``seed`` puts a provider and items into the catalogue through the admin API."""

from __future__ import annotations

import json
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

import httpx
import jsonschema
import orjson
from attack_node import ADMIN_KEY, ROOT, AttackNode

from ondc_adapter.inbox import FAILED, PROCESSED
from ondc_adapter.protocol.durations import format_timestamp

sys.path.insert(0, str(ROOT / "tests"))
from catalogue.helpers import provider, ret16_item

__all__ = ["provider", "ret16_item"]  # re-exported: the catalogue test records
SCHEMA_DIR = ROOT / "schemas"
DOMAIN = "ONDC:RET16"
CITY = "std:0542"  # the helpers' provider: Varanasi, serviceability 12 km
BUYER_GPS = "25.317000,82.973000"
BUYER_PIN = "221001"
ADMIN = {"X-API-Key": ADMIN_KEY}

# SQL, markup, JSON-breaking, odd unicode, very long: what hostile text is tried with.
HOSTILE = [
    "'; DROP TABLE orders;--",
    "Robert'); DELETE FROM catalogue_items WHERE ('1'='1",
    "1' OR '1'='1' /* $$; DROP TABLE inbox; $$ */",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    '"}]},"x":{"injected":true,"a":["',  # closes the JSON it is put into, if pasted
    '\\"\\\\u0022\\n}{\\',  # backslashes and escapes, literally
    '{"$ne": null, "$where": "1"}',
    "\u202eevil\u200b\u0007\u001b[31m",  # bidi override, zero width, BEL, ANSI escape
    "नमस्ते 🙏 \\u0000 %s %n {{7*7}} ${jndi:ldap://x}",
    "\ufeff\u2028\u2029\U0010ffff\ufffd\x7f\x01\x1f",  # BOM, JS line breaks, last plane
    "e\u0301\u0301 \uff21\uff53\uff48\uff41 \U0001f469\u200d\U0001f467",  # combining, wide, ZWJ
    "x" * 5000,
    "€" * 1500,  # 4 500 UTF-8 bytes (in ~30 fields: most of the 200 kB body limit)
]


# ---------------------------------------------------------------- schemas


@cache
def _validator(name: str) -> Any:
    schema = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def schema_errors(payload: dict[str, Any], request: dict[str, Any] | None = None) -> list[str]:
    """Why ``payload`` (a request, or a callback answering ``request``) does not satisfy the
    published schemas."""
    action = payload["context"]["action"]
    if action in ("search", "on_search"):
        stem = f"{action}_message"
        if action == "on_search" and (payload["context"].get("city") == "*" or (
                request is not None and catalog_inc(request["message"]) is not None)):
            stem = "on_search_incremental_message"  # a push, or a pull of what changed
        checks = [("context", payload["context"]), (stem, payload["message"])]
        if action == "on_search" and payload.get("error") and payload["message"] in (
                {}, {"catalog": {}}):
            checks.pop()  # an error reply carries an empty catalogue
    else:
        checks = [(f"order_{action}", payload)]
    return [
        f"{name}: {e.json_path}: {e.message[:200]}"
        for name, value in checks
        for e in _validator(name).iter_errors(value)
    ]


def catalog_inc(message: Any) -> dict[str, Any] | None:
    """The ``catalog_inc`` tag's values of a search message, if it has one."""
    intent = message.get("intent") if isinstance(message, dict) else None
    tags = intent.get("tags") if isinstance(intent, dict) else None
    for tag in tags if isinstance(tags, list) else ():
        if isinstance(tag, dict) and tag.get("code") == "catalog_inc":
            entries = tag.get("list") if isinstance(tag.get("list"), list) else []
            return {str(e.get("code")): e.get("value") for e in entries if isinstance(e, dict)}
    return None


# ---------------------------------------------------------------- catalogue


def seed(
    http: httpx.Client, node: AttackNode, pid: str = "P1", items: tuple[str, ...] = ("I1",),
    *, provider_over: dict[str, Any] | None = None, item_over: dict[str, Any] | None = None,
) -> tuple[httpx.Response, list[httpx.Response]]:
    body = provider(pid, min_order_value=None, **(provider_over or {}))
    body.pop("type")
    made = http.post(f"{node.url}/admin/providers", json=body, headers=ADMIN)
    answers = []
    for iid in items if made.status_code == 201 else ():
        item = ret16_item(iid, provider_id=pid, stock=100_000, max_per_order=1000,
                          **(item_over or {}))
        item.pop("type")
        answers.append(http.post(f"{node.url}/admin/items", json=item, headers=ADMIN))
    return made, answers


# ---------------------------------------------------------------- requests and callbacks


@dataclass
class Sent:
    action: str
    payload: dict[str, Any]
    body: bytes
    response: httpx.Response
    callbacks: list[Any] = field(default_factory=list)  # transport_doubles.Callback
    replies: list[dict[str, Any]] = field(default_factory=list)  # their payloads, parsed

    @property
    def message_id(self) -> str:
        return str(self.payload["context"]["message_id"])

    @property
    def acked(self) -> bool:
        return self.response.status_code == 200

    @property
    def reply(self) -> dict[str, Any]:
        assert len(self.replies) == 1, (self.action, self.replies)
        return self.replies[0]

    @property
    def order(self) -> dict[str, Any]:
        return self.reply["message"]["order"]  # type: ignore[no-any-return]


class Buyer:
    """One buyer app transaction against the node, over signed HTTP."""

    def __init__(self, node: AttackNode, http: httpx.Client, *, domain: str = DOMAIN,
                 city: str = CITY) -> None:
        self.node, self.http, self.domain, self.city = node, http, domain, city
        self.bap_uri = node.start_buyer()
        self.transaction_id = str(uuid.uuid4())

    def context(self, action: str, **over: Any) -> dict[str, Any]:
        ctx: dict[str, Any] = {
            "domain": self.domain, "country": "IND", "city": self.city, "action": action,
            "core_version": "1.2.0", "bap_id": self.node.bap.subscriber_id,
            "bap_uri": self.bap_uri, "transaction_id": self.transaction_id,
            "message_id": str(uuid.uuid4()), "timestamp": format_timestamp(datetime.now(UTC)),
            "ttl": "PT30S",
        }
        if action != "search":
            ctx.update(bpp_id=self.node.settings.subscriber_id, bpp_uri=self.node.settings.bpp_uri)
        ctx.update(over)
        return ctx

    def post(self, action: str, message: dict[str, Any], *, context: dict[str, Any] | None = None,
             check: bool = True) -> Sent:
        payload = {"context": context or self.context(action), "message": message}
        if check:
            problems = schema_errors(payload)
            assert not problems, problems
        body = orjson.dumps(payload)
        response = self.http.post(
            f"{self.node.protocol}/{action}", content=body,
            headers={"Content-Type": "application/json", "Authorization": self.node.bap.sign(body)},
        )
        assert response.status_code < 500, (action, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/json"), response.headers
        return Sent(action, payload, body, response)

    def send(self, action: str, message: dict[str, Any], **kw: Any) -> Sent:
        """Post (must be ACKed), process, deliver: the request with its callbacks."""
        sent = self.post(action, message, **kw)
        assert sent.acked, (action, sent.response.text)
        settle(self.node)
        collect(self.node, sent)
        return sent


def settle(node: AttackNode, rounds: int = 10) -> None:
    """Process every inbox row to a final state and deliver every callback."""
    for _ in range(rounds):
        node.process()
        node.deliver()
        if not node.sql("SELECT 1 FROM inbox WHERE status = 'received' LIMIT 1"):
            return
    raise AssertionError("inbox rows still 'received' after processing")


def collect(node: AttackNode, sent: Sent) -> None:
    """The callbacks of ``sent``: every one signed by the seller (verified by the double),
    answering its message id, with the on_ action, schema-valid."""
    ctx = sent.payload["context"]
    sent.callbacks = node.callbacks(ctx["transaction_id"], sent.message_id, f"on_{sent.action}")
    sent.replies = [orjson.loads(c.body) for c in sent.callbacks]
    for c, reply in zip(sent.callbacks, sent.replies, strict=True):
        assert c.verified, (sent.action, c.problem)
        assert reply["context"]["action"] == c.action
        problems = schema_errors(reply, sent.payload)
        assert not problems, (sent.action, problems, reply)


def inbox_row(node: AttackNode, sent: Sent) -> tuple[bytes, str, str | None]:
    ctx = sent.payload["context"]
    ((body, status, error),) = node.sql(
        "SELECT body, status, error FROM inbox WHERE transaction_id = :t AND message_id = :m "
        "AND action = :a", t=ctx["transaction_id"], m=sent.message_id, a=sent.action,
    )
    assert status in (PROCESSED, FAILED), status
    return bytes(body), status, error


# ---------------------------------------------------------------- order messages


def address(text: str = "12 MG Road") -> dict[str, Any]:
    return {"name": text, "door": text, "building": text, "street": text, "locality": text,
            "ward": text, "city": text, "state": text, "country": "IND", "area_code": BUYER_PIN}


def select_message(pid: str, items: list[tuple[str, int]], text: str = "x") -> dict[str, Any]:
    return {"order": {
        "provider": {"id": pid, "locations": [{"id": "L1"}]},
        "items": [{"id": i, "location_id": "L1", "quantity": {"count": n}} for i, n in items],
        "fulfillments": [{"end": {"location": {"gps": BUYER_GPS, "address": address(text)}}}],
    }}


def billing(text: str = "Asha Devi") -> dict[str, Any]:
    return {"name": text, "address": address(text), "email": text, "phone": text,
            "tax_number": text, "created_at": "2026-01-01T00:00:00.000Z",
            "updated_at": "2026-01-01T00:00:00.000Z"}


def end(text: str = "Asha Devi") -> dict[str, Any]:
    return {
        "location": {"gps": BUYER_GPS, "address": address(text)},
        "contact": {"phone": text, "email": text},
        "person": {"name": text},
        "instructions": {"code": "2", "name": text, "short_desc": text, "long_desc": text},
    }


def init_message(pid: str, items: list[tuple[str, int]], text: str = "Asha") -> dict[str, Any]:
    return {"order": {
        "provider": {"id": pid, "locations": [{"id": "L1"}]},
        "items": [{"id": i, "fulfillment_id": "F1", "quantity": {"count": n}} for i, n in items],
        "billing": billing(text),
        "fulfillments": [{"id": "F1", "type": "Delivery", "end": end(text)}],
        "payment": {"type": "ON-ORDER", "collected_by": "BAP",
                    "@ondc/org/buyer_app_finder_fee_type": "percent",
                    "@ondc/org/buyer_app_finder_fee_amount": "3"},
    }}


def confirm_message(on_init: dict[str, Any], order_id: str, text: str = "Asha",
                    stamp: str | None = None) -> dict[str, Any]:
    o = on_init["message"]["order"]
    stamp = stamp or format_timestamp(datetime.now(UTC))
    return {"order": {
        "id": order_id, "state": "Created", "provider": o["provider"], "items": o["items"],
        "billing": billing(text),
        "fulfillments": [{"id": o["fulfillments"][0]["id"], "type": "Delivery", "tracking": False,
                          "end": end(text)}],
        "quote": o["quote"],
        "payment": {**o["payment"], "status": "PAID", "uri": "https://pay.example.com/",
                    "tl_method": "http/get",
                    "params": {"amount": o["quote"]["price"]["value"], "currency": "INR",
                               "transaction_id": f"pay-{uuid.uuid4().hex[:8]}"}},
        "tags": [*o["tags"], {"code": "bap_terms", "list": [
            {"code": "accept_bpp_terms", "value": "Y"}, {"code": "tax_number", "value": text}]}],
        "created_at": stamp, "updated_at": stamp,
    }}
