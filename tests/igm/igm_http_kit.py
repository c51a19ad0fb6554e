"""The node over HTTP for issue tests: ``create_app`` with the real inbox, processor, outbox,
dispatcher and deadline watcher on PostgreSQL; two registered buyer apps, each served on
loopback (a ``BuyerDouble`` that verifies every callback's signature against the seller's key)
and signing its own requests; the seller acting through the admin API.

``HttpBuyer.place_order`` runs select / init / confirm; ``HttpBuyer.issue`` and ``.act`` send
signed ``issue`` requests built by the sandbox's complainant (``sandbox.complaints``)."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import orjson
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parents[2]
for extra in (ROOT / "tests" / "transport", ROOT / "tests" / "orders"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from igm_kit import OFFICERS  # noqa: E402
from order_flowkit import seed  # noqa: E402
from transport_doubles import BuyerDouble, Callback, Participant, served  # noqa: E402

from ondc_adapter import keys  # noqa: E402
from ondc_adapter.api.app import create_app  # noqa: E402
from ondc_adapter.protocol.durations import format_timestamp  # noqa: E402
from ondc_adapter.registry import StaticKeyResolver, SubscriberRecord  # noqa: E402
from ondc_adapter.sandbox import complaints  # noqa: E402
from ondc_adapter.settings import Settings  # noqa: E402
from ondc_adapter.storage import Database  # noqa: E402

SELLER = "seller.example.com"
BPP_URI = f"https://{SELLER}/ondc"
ADMIN_KEY = "igm-admin-secret"
ADMIN = {"X-API-Key": ADMIN_KEY}
DOMAIN = "ONDC:RET16"
ADDRESS = {"name": "Asha", "building": "12", "locality": "MG Road", "city": "Bengaluru",
           "state": "Karnataka", "country": "IND", "area_code": "560001"}
WHERE = {"gps": "12.974002,77.613458", "address": {"area_code": "560001"}}


@cache
def _issue_schema() -> Any:
    schema = json.loads((ROOT / "schemas" / "igm_issue_message.schema.json").read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def check_on_issue(payload: dict[str, Any]) -> None:
    """An on_issue that carries an issue satisfies the published IGM message schema."""
    if "issue" in payload["message"]:
        _issue_schema().validate(payload["message"])


@dataclass
class Sent:
    payload: dict[str, Any]
    body: bytes
    authorization: str
    response: httpx.Response
    callbacks: list[Callback] = field(default_factory=list)

    @property
    def message_id(self) -> str:
        return str(self.payload["context"]["message_id"])

    @property
    def ack(self) -> bool:
        return self.response.status_code == 200 and (
            self.response.json()["message"]["ack"]["status"] == "ACK"
        )

    @property
    def reply(self) -> dict[str, Any]:
        assert len(self.callbacks) == 1, [c.payload for c in self.callbacks]
        return self.callbacks[0].payload

    @property
    def error(self) -> dict[str, Any] | None:
        return self.reply.get("error")


class HttpBuyer:
    """One buyer app (its key, its registered URL, its callback double) and one transaction."""

    def __init__(self, node: Node, who: Participant, double: BuyerDouble) -> None:
        self.node, self.who, self.double = node, who, double
        self.uri = str(who.subscriber_url)
        self.transaction_id = str(uuid.uuid4())
        self.order: dict[str, Any] = {}
        self.issue_id = f"ISSUE-{uuid.uuid4().hex[:8]}"
        self.last: dict[str, Any] | None = None  # the issue as last exchanged

    def context(self, action: str, **over: Any) -> dict[str, Any]:
        ctx: dict[str, Any] = {
            "domain": DOMAIN, "country": "IND", "city": "std:080", "action": action,
            "core_version": "2.0.0" if action == "issue" else "1.2.0",
            "bap_id": self.who.subscriber_id, "bap_uri": self.uri, "bpp_id": SELLER,
            "bpp_uri": BPP_URI, "transaction_id": self.transaction_id,
            "message_id": str(uuid.uuid4()), "timestamp": format_timestamp(datetime.now(UTC)),
            "ttl": "PT30S",
        }
        if action == "issue":
            ctx["location"] = {"country": {"code": "IND"}, "city": {"code": "std:080"}}
        ctx.update(over)
        return ctx

    async def post(self, action: str, message: Any, *, context: dict[str, Any] | None = None,
                   raw: bytes | None = None) -> Sent:
        payload = {"context": context or self.context(action), "message": message}
        body = raw if raw is not None else orjson.dumps(payload)
        auth = self.who.sign(body)
        return await self.repost(Sent(payload, body, auth, httpx.Response(0)))

    async def repost(self, sent: Sent) -> Sent:
        """The same bytes and header again (a retry by the buyer app's transport)."""
        action = sent.payload["context"]["action"]
        response = await self.node.client.post(
            f"/ondc/{action}", content=sent.body,
            headers={"Authorization": sent.authorization, "Content-Type": "application/json"},
        )
        assert response.status_code < 500, response.text
        assert response.headers["content-type"].startswith("application/json")
        return Sent(sent.payload, sent.body, sent.authorization, response)

    async def send(self, action: str, message: Any, **kw: Any) -> Sent:
        """Post (must be ACKed) and wait for the one callback answering it."""
        sent = await self.post(action, message, **kw)
        assert sent.ack, sent.response.text
        sent.callbacks = await self.callbacks_for(sent.message_id)
        for c in sent.callbacks:
            assert c.verified, c.problem
            if action == "issue":
                check_on_issue(c.payload)
        if action == "issue" and sent.error is None:
            self.last = sent.reply["message"]["issue"]
        return sent

    async def callbacks_for(self, message_id: str, n: int = 1) -> list[Callback]:
        for _ in range(750):
            got = self.double.by_message(message_id)
            if len(got) >= n:
                return got
            await asyncio.sleep(0.02)
        raise AssertionError(f"no callback for {message_id}")

    async def pushed(self, message_id: str) -> dict[str, Any]:
        """A seller push (unsolicited on_issue) with that message id; taken in as the issue."""
        [callback] = await self.callbacks_for(message_id)
        assert callback.verified, callback.problem
        check_on_issue(callback.payload)
        self.last = callback.payload["message"]["issue"]
        return callback.payload

    # -- an order -----------------------------------------------------------------------------

    async def place_order(self) -> dict[str, Any]:
        order_id = f"O{uuid.uuid4().hex[:10]}"
        sel = await self.send("select", {"order": {
            "provider": {"id": "P1", "locations": [{"id": "L1"}]},
            "items": [{"id": "I1", "location_id": "L1", "quantity": {"count": 2}}],
            "fulfillments": [{"end": {"location": WHERE}}],
        }})
        assert "error" not in sel.reply, sel.reply
        billing = {"name": "Asha", "address": ADDRESS, "phone": "9886098860",
                   "created_at": "2026-01-01T00:00:00.000Z",
                   "updated_at": "2026-01-01T00:00:00.000Z"}
        end = {"location": {"gps": WHERE["gps"], "address": ADDRESS},
               "contact": {"phone": "9886098860"}}
        ini = await self.send("init", {"order": {
            "provider": {"id": "P1", "locations": [{"id": "L1"}]},
            "items": [{"id": "I1", "fulfillment_id": "F1", "quantity": {"count": 2}}],
            "billing": billing,
            "fulfillments": [{"id": "F1", "type": "Delivery", "end": end}],
        }})
        o = ini.reply["message"]["order"]
        ctx = self.context("confirm")
        con = await self.send("confirm", {"order": {
            "id": order_id, "state": "Created", "provider": o["provider"], "items": o["items"],
            "billing": o["billing"],
            "fulfillments": [{"id": "F1", "type": "Delivery",
                              "end": {**end, "person": {"name": "Asha"}}}],
            "quote": o["quote"],
            "payment": {**o["payment"], "status": "PAID", "params": {
                "amount": o["quote"]["price"]["value"], "currency": "INR",
                "transaction_id": "pay-1"}},
            "tags": o["tags"], "created_at": ctx["timestamp"], "updated_at": ctx["timestamp"],
        }}, context=ctx)
        assert "error" not in con.reply, con.reply
        self.order = con.reply["message"]["order"]
        return self.order

    # -- issues -------------------------------------------------------------------------------

    def opening(self, *, issue_id: str | None = None, order: dict[str, Any] | None = None,
                timestamp: str) -> dict[str, Any]:
        return complaints.opening_issue(
            issue_id=issue_id or self.issue_id, bap_id=self.who.subscriber_id, domain=DOMAIN,
            now=timestamp, order=order or self.order,
            image_url="https://buyer.example.com/img/torn.jpg",
        )

    async def open(self, **kw: Any) -> Sent:
        ctx = self.context("issue")
        return await self.send("issue", self.opening(timestamp=ctx["timestamp"], **kw),
                               context=ctx)

    def next(self, code: str, short_desc: str = "buyer action", **kw: Any
             ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(context, message) of the buyer's next action on the issue as last exchanged."""
        assert self.last is not None
        ctx = self.context("issue")
        message = complaints.next_issue(self.last, code=code, now=ctx["timestamp"],
                                        short_desc=short_desc, **kw)
        return ctx, message

    async def act(self, code: str, short_desc: str = "buyer action", *, reply: bool = True,
                  **kw: Any) -> Sent:
        """The buyer's next action, ACKed and processed. ``reply``: an on_issue answers it (our
        PROCESSING, or an error); else none must come, and the issue as sent is the last."""
        ctx, message = self.next(code, short_desc, **kw)
        sent = await self.post("issue", message, context=ctx)
        assert sent.ack, sent.response.text
        if reply:
            sent.callbacks = await self.callbacks_for(sent.message_id)
            assert sent.callbacks[0].verified, sent.callbacks[0].problem
            check_on_issue(sent.reply)
            if sent.error is None:
                self.last = sent.reply["message"]["issue"]
        else:
            await self.node.idle()
            assert self.double.by_message(sent.message_id) == []
            self.last = message["issue"]
        return sent


@dataclass
class Node:
    db: Database
    settings: Settings
    app: Any
    client: httpx.AsyncClient
    buyer: HttpBuyer
    other: HttpBuyer  # a second registered buyer app, with its own URL and key

    async def admin(self, method: str, path: str, **kw: Any) -> httpx.Response:
        response = await self.client.request(method, f"/admin/issues{path}", headers=ADMIN, **kw)
        assert response.status_code < 500, response.text
        assert response.headers["content-type"] == "application/json", response.headers
        return response

    async def issue(self, issue_id: str) -> dict[str, Any]:
        r = await self.admin("GET", f"/{issue_id}")
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    async def count(self, sql: str, **params: Any) -> int:
        from sqlalchemy import text

        async with self.db.session() as s:
            return int((await s.execute(text(sql), params)).scalar_one())

    async def idle(self) -> None:
        """Every recorded request processed and every callback settled."""
        for _ in range(750):
            busy = await self.count(
                "SELECT (SELECT count(*) FROM inbox WHERE status = 'received') + "
                "(SELECT count(*) FROM outbox WHERE status = 'pending')"
            )
            if not busy:
                return
            await asyncio.sleep(0.02)
        raise AssertionError("the node did not settle")


@asynccontextmanager
async def igm_node(db: Database, tmp_path: Path, **over: Any) -> AsyncIterator[Node]:
    await seed(db, domain=DOMAIN)
    keys.write_keys(keys.new_keys(SELLER, "seller-k1"), tmp_path / "keys")
    values: dict[str, Any] = {
        "subscriber_id": SELLER, "unique_key_id": "seller-k1", "keys_dir": tmp_path / "keys",
        "bpp_uri": BPP_URI, "path_prefix": "/ondc", "database_url": db.url,
        "admin_api_key": SecretStr(ADMIN_KEY), "dispatcher_poll_seconds": 0.05,
        "log_json": False, "allow_private_network": True,  # the buyer doubles are on loopback
        **OFFICERS, **over,
    }
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    seller = Participant(SELLER, "seller-k1", "BPP",
                         key=keys.load_keys(tmp_path / "keys").signing_key)
    bap = Participant("buyer.example.com", "bap-k1", "BAP")
    other = Participant("other-buyer.example.com", "bap-k9", "BAP")
    doubles = BuyerDouble(seller), BuyerDouble(seller)
    async with served(doubles[0].app) as url1, served(doubles[1].app) as url2:
        bap.subscriber_url, other.subscriber_url = url1 + "/protocol", url2 + "/protocol"
        resolver = StaticKeyResolver(
            SubscriberRecord.from_lookup(p.lookup_record()) for p in (bap, other)
        )
        app = create_app(settings, db=db, redis=None, key_resolver=resolver)
        async with served(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
            node = Node(db, settings, app, client, None, None)  # type: ignore[arg-type]
            node.buyer = HttpBuyer(node, bap, doubles[0])
            node.other = HttpBuyer(node, other, doubles[1])
            yield node
