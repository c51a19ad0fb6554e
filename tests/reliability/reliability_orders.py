"""Reliability scenarios that run the REAL seller logic: catalogue search and the orders
handlers (``default_handlers``), a small catalogue imported with ``catalogue.importer``, and
the seller acting through the admin API.

Several concurrent buyers drive whole transactions against the node

    search -> select -> init -> confirm -> seller advances the order to Packed (admin API,
    unsolicited on_status) -> status

while one fault is injected:

* ``orders_kill``: the node is the real ``ondc-adapter serve`` command in its own process; it
  is SIGKILLed ``scale.order_kills`` times while requests, callbacks and seller actions are in
  flight, and restarted each time.
* ``orders_postgres``: an in-process node on a private PostgreSQL cluster that is stopped in
  the middle of the transactions and started again (no node restart).

Afterwards ``check_orders`` compares what the buyers saw, what the buyer app received and what
the node's database holds: every request the node recorded got its callback (none lost, none
recorded or sent twice after it was recorded delivered), one order row per confirm answered
with an order and none for a refused one, stock = initial - confirmed quantities (never
negative), the same quote from on_select through on_init to on_confirm, every committed seller
action pushed exactly once, no HTTP 500."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
from pydantic import SecretStr
from reliability_harness import (
    ROOT,
    CountingBuyer,
    LocalPostgres,
    Participant,
    SendStats,
    Tally,
    free_port,
    node_settings,
    outbox_statuses,
    served,
    tally,
    wait_for,
)
from reliability_scenarios import (
    SELLER_ID,
    Env,
    Scale,
    ScenarioResult,
    World,
    _node_env,
    _serving,
    fresh_db,
)
from sqlalchemy import select

from ondc_adapter.api.app import create_app
from ondc_adapter.catalogue.codes import with_check_digit
from ondc_adapter.catalogue.importer import import_records
from ondc_adapter.catalogue.tables import Item
from ondc_adapter.inbox import PROCESSED, InboxEntry
from ondc_adapter.orders.quote import commercial_terms
from ondc_adapter.orders.tables import OrderRecord, OrderTransition
from ondc_adapter.outbox import DELIVERED, OutboxAttempt, OutboxEntry
from ondc_adapter.protocol.durations import format_timestamp
from ondc_adapter.storage import Database

ADMIN_KEY = "reliability-admin-key"
DOMAIN, CITY = "ONDC:RET16", "std:080"
BPP_URI = "https://seller.test/ondc"
PLENTY, SCARCE = "I1", "I2"  # I1 never runs out; I2 sells out while buyers compete for it
OUT_OF_STOCK = "40002"  # the only business error these buyers may meet (I2 sold out)
WHERE = {"gps": "12.974002,77.613458", "address": {"area_code": "560001"}}
ADDRESS = {"name": "Asha Devi", "building": "12 MG Road", "locality": "Ashok Nagar",
           "city": "Bengaluru", "state": "Karnataka", "country": "IND", "area_code": "560001"}
CALLBACK_WAIT = 60.0  # a callback parked behind a dead process's lease arrives ~11 s later


# -- the catalogue --------------------------------------------------------------------------------


def catalogue_records(scarce_stock: int) -> list[dict[str, Any]]:
    """One pan-India provider (serves std:080) with two RET16 items."""
    care = "Care Desk,care@crafts.example.in,9876543210"

    def item(item_id: str, name: str, price: str, stock: int, ean: str) -> dict[str, Any]:
        return {
            "type": "item", "id": item_id, "provider_id": "P1", "location_id": "L1",
            "domain": DOMAIN, "category_id": "Home Decor", "name": name,
            "code": "1:" + with_check_digit(ean), "short_desc": name,
            "long_desc": f"{name}, handmade",
            "price": price, "mrp": price, "stock": stock, "max_per_order": 5,
            "attributes": {"brand": "Channapatna Crafts", "colour": "#FF0000",
                           "colour_name": "red", "material": "Wood"},
            "consumer_care": care,
            "statutory": {"manufacturer_or_packer_name": "Channapatna Crafts",
                          "month_year_of_manufacture_packing_import": "01/2026"},
        }

    return [
        {
            "type": "provider", "id": "P1", "name": "Channapatna Crafts", "kind": "cooperative",
            "short_desc": "Lacquered wooden toys", "long_desc": "A cooperative of toy makers",
            "phone": "9876543210", "email": "desk@crafts.example.in",
            "gstin": "29ABCDE1234F1Z5", "pan": "ABCDE1234F",
            "fulfillments": [{"id": "F1", "type": "Delivery"}],
            "locations": [{
                "id": "L1", "street": "Main Road", "locality": "Channapatna",
                "city": "Ramanagara", "state": "Karnataka", "area_code": "562160",
                "gps": "12.651000,77.208000", "serviceability": "12",
            }],
        },
        item(PLENTY, "Lacquered wooden elephant", "450.00", 100_000, "890123456789"),
        item(SCARCE, "Wooden rocking horse", "1200.00", scarce_stock, "890123456790"),
    ]


async def load_catalogue(db: Database, scarce_stock: int) -> dict[str, int]:
    """Import the catalogue (all-or-nothing, as ``ondc-adapter catalogue import``); returns the
    initial stock per item."""
    records = catalogue_records(scarce_stock)
    async with db.session() as session:
        report = await import_records(
            session, iter(enumerate(records, 1)), now=datetime.now(UTC)
        )
        if not report.ok:
            raise AssertionError(f"catalogue import failed: {report.problems}")
    return {r["id"]: r["stock"] for r in records if r["type"] == "item"}


# -- what the buyers and the seller saw -----------------------------------------------------------


@dataclass
class Flow:
    """One transaction as its buyer saw it."""

    transaction_id: str
    order_id: str
    wanted: dict[str, int] = field(default_factory=dict)
    callbacks: dict[str, dict[str, Any]] = field(default_factory=dict)  # action -> on_* payload
    step: str = "search"  # the step in progress (or the last one reached)
    outcome: str = "running"  # confirmed | refused:<step>:<code> | failed:<why>
    packed: bool = False  # the seller's advance to Packed was committed
    push: dict[str, Any] | None = None  # the unsolicited on_status (Packed) received
    problems: list[str] = field(default_factory=list)


@dataclass
class Traffic:
    """Shared state of the buyers, the seller and the fault injector."""

    stats: SendStats = field(default_factory=SendStats)
    actions: dict[str, str] = field(default_factory=dict)  # message_id -> action
    flows: list[Flow] = field(default_factory=list)
    awaiting: Counter[str] = field(default_factory=Counter)  # ACKed, callback not yet here
    sending: int = 0  # requests to the node (protocol or admin) without an answer yet
    seller_busy: int = 0  # seller actions not finished (retries included)
    admin_unanswered: int = 0  # admin POSTs (the action itself) without an answer yet
    superseded: list[str] = field(default_factory=list)  # re-stamped away (see FlowSender)
    admin_server_errors: int = 0
    admin_lost: int = 0  # admin POSTs without an answer (node killed, or down: refused)
    admin_committed_unanswered: int = 0  # ... of which the action had been committed
    admin_post_started: asyncio.Event = field(default_factory=asyncio.Event)
    confirm_post_started: asyncio.Event = field(default_factory=asyncio.Event)
    unanswered: set[str] = field(default_factory=set)  # message_ids POSTed, no answer yet
    confirm_posted: str = ""  # the last confirm POSTed by a re-stamping buyer
    freeze_tries: int = 0
    admin_retries: int = 0
    stop_new: bool = False

    def started(self) -> int:
        return len(self.flows)

    def in_flight(self) -> dict[str, int]:
        out = {a: n for a, n in self.awaiting.items() if n}
        if self.seller_busy:
            out["seller-advance"] = self.seller_busy
        if self.admin_unanswered:
            out["admin-post-unanswered"] = self.admin_unanswered
        if self.sending:
            out["http-unanswered"] = self.sending
        return out


class FlowError(Exception):
    pass


class FlowSender:
    """Signs and posts protocol requests until ACKed. A connection error or 503/31001 re-sends
    the same bytes (re-signed), as a conforming buyer app does; a body that has grown too old
    for the node's timestamp check (or a 30022 answer) is re-stamped: a new message_id and
    timestamp for the same transaction, the way a buyer app retries a message it never got an
    ACK for. ``restamp``: re-stamp at once when a request may have reached the node but got no
    answer (the connection broke after it was sent), as some buyer apps do. The abandoned
    message_id may still have been recorded (its ACK died with the process): ``check_orders``
    then expects its callback too, and a repeated confirm must not create a second order."""

    def __init__(
        self, client: httpx.AsyncClient, url: str, traffic: Traffic, signer: Participant,
        bap_uri: str, *, restamp: bool = False,
    ) -> None:
        self.client, self.url, self.traffic = client, url, traffic
        self.signer, self.bap_uri = signer, bap_uri
        self.restamp = restamp

    def context(self, action: str, transaction_id: str) -> dict[str, Any]:
        ctx: dict[str, Any] = {
            "domain": DOMAIN, "country": "IND", "city": CITY, "action": action,
            "core_version": "1.2.0", "bap_id": self.signer.subscriber_id,
            "bap_uri": self.bap_uri, "transaction_id": transaction_id,
            "message_id": str(uuid.uuid4()),
            "timestamp": format_timestamp(datetime.now(UTC)), "ttl": "PT30S",
        }
        if action != "search":
            ctx["bpp_id"], ctx["bpp_uri"] = SELLER_ID, BPP_URI
        return ctx

    def _stamp(self, payload: dict[str, Any]) -> bytes:
        ctx = payload["context"]
        ctx["message_id"] = str(uuid.uuid4())
        ctx["timestamp"] = format_timestamp(datetime.now(UTC))
        if ctx["action"] == "confirm":  # the buyer app stamps the order with the confirm's time
            order = payload["message"]["order"]
            order["created_at"] = order["updated_at"] = ctx["timestamp"]
        self.traffic.stats.requests += 1
        self.traffic.actions[ctx["message_id"]] = ctx["action"]
        return orjson.dumps(payload)

    async def send(
        self, action: str, transaction_id: str, message: dict[str, Any], *, wait: float = 90
    ) -> str:
        """The ACKed message_id."""
        traffic, stats = self.traffic, self.traffic.stats
        payload = {"context": self.context(action, transaction_id), "message": message}
        body = self._stamp(payload)
        stamped = time.monotonic()
        deadline = time.monotonic() + wait
        while True:
            message_id = payload["context"]["message_id"]
            if time.monotonic() - stamped > 20:  # the node would soon refuse it as stale
                traffic.superseded.append(message_id)
                body, stamped = self._stamp(payload), time.monotonic()
                continue
            if time.monotonic() > deadline:
                raise FlowError(f"{action}: no ACK within {wait:.0f} s")
            traffic.sending += 1
            traffic.unanswered.add(message_id)
            if action == "confirm" and self.restamp:
                traffic.confirm_posted = message_id
                traffic.confirm_post_started.set()
            try:
                response = await self.client.post(
                    f"{self.url}/{action}", content=body,
                    headers={"Content-Type": "application/json",
                             "Authorization": self.signer.sign(body)},
                )
            except httpx.TransportError as exc:
                stats.transport_errors += 1
                await asyncio.sleep(0.2)
                if self.restamp and not isinstance(exc, httpx.ConnectError):
                    traffic.superseded.append(message_id)
                    body, stamped = self._stamp(payload), time.monotonic()
                continue
            finally:
                traffic.sending -= 1
                traffic.unanswered.discard(message_id)
            status = response.status_code
            code = _error_code(response)
            if status == 200:
                stats.acked.append(message_id)
                return message_id
            if status == 503 and code == "31001":
                stats.retryable_nacks += 1
                await asyncio.sleep(min(float(response.headers.get("Retry-After", "1")), 0.5))
                continue
            if status >= 500:
                stats.server_errors += 1
                await asyncio.sleep(0.2)
                continue
            if status == 400 and code == "30022":
                traffic.superseded.append(message_id)
                body, stamped = self._stamp(payload), time.monotonic()
                continue
            stats.other_refusals.append((status, code or ""))
            raise FlowError(f"{action}: refused {status} {code}: {response.text[:200]}")


def _error_code(response: httpx.Response) -> str | None:
    with contextlib.suppress(ValueError, KeyError, TypeError):
        return str(response.json()["error"]["code"])
    return None


class SellerDesk:
    """The merchant acting through the admin API, retrying across node restarts. After a lost
    answer the order itself says whether the action was committed (a repeat would be refused
    with 409: the state machine never applies it twice)."""

    def __init__(self, client: httpx.AsyncClient, base: str, traffic: Traffic) -> None:
        self.client, self.base, self.traffic = client, base, traffic
        self.headers = {"X-API-Key": ADMIN_KEY}

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        traffic = self.traffic
        posting = method == "POST"
        traffic.sending += 1
        traffic.admin_unanswered += posting
        if posting:
            traffic.admin_post_started.set()
        try:
            response = await self.client.request(
                method, f"{self.base}/admin/orders" + (f"/{path}" if path else ""),
                headers=self.headers, **kwargs,
            )
        except httpx.TransportError:
            traffic.admin_lost += posting
            return None
        finally:
            traffic.sending -= 1
            traffic.admin_unanswered -= posting
        if response.status_code >= 500 and response.status_code != 503:
            self.traffic.admin_server_errors += 1
        return response

    async def fulfillment_state(self, order_id: str) -> str | None:
        response = await self._call("GET", order_id)
        if response is None or response.status_code != 200:
            return None
        return _fulfillment_code(response.json()["order"])

    async def advance(self, order_id: str, state: str, *, wait: float = 90) -> None:
        traffic = self.traffic
        traffic.seller_busy += 1
        deadline = time.monotonic() + wait
        try:
            while time.monotonic() < deadline:
                response = await self._call("POST", f"{order_id}/advance", json={"state": state})
                if response is not None and response.status_code == 200:
                    return
                if response is not None and response.status_code == 409:
                    current = await self.fulfillment_state(order_id)
                    if current == state:  # committed by a try whose answer was lost
                        traffic.admin_committed_unanswered += 1
                        return
                    if current is not None:
                        raise FlowError(f"advance {state}: 409 with the order at {current}")
                elif response is not None and response.status_code not in (503, 500):
                    raise FlowError(f"advance {state}: {response.status_code} {response.text}")
                traffic.admin_retries += 1
                await asyncio.sleep(0.2)
            raise FlowError(f"advance {state}: not done within {wait:.0f} s")
        finally:
            traffic.seller_busy -= 1


def _fulfillment_code(order: dict[str, Any]) -> str | None:
    with contextlib.suppress(KeyError, IndexError, TypeError):
        return str(order["fulfillments"][0]["state"]["descriptor"]["code"])
    return None


def _error_of(payload: dict[str, Any]) -> str | None:
    error = payload.get("error")
    return str(error.get("code")) if isinstance(error, dict) else None


class Shopper:
    """One buyer running transactions one after another until told to stop."""

    def __init__(
        self, number: int, world: World, sender: FlowSender, seller: SellerDesk,
        traffic: Traffic, quota: Callable[[], bool],
    ) -> None:
        self.number = number
        self.buyer = world.buyer
        self.sender, self.seller, self.traffic = sender, seller, traffic
        self.quota = quota
        self.rng = random.Random(number)

    async def run(self) -> None:
        while self.quota():
            await self.one()

    async def one(self) -> Flow:
        flow = Flow(str(uuid.uuid4()), f"O{uuid.uuid4().hex[:12]}")
        self.traffic.flows.append(flow)
        try:
            await self.transaction(flow)
        except FlowError as exc:
            flow.outcome = f"failed:{flow.step}: {exc}"
        except (KeyError, IndexError, TypeError, ValueError) as exc:  # a malformed answer
            flow.outcome = f"failed:{flow.step}: {exc!r}"
        return flow

    async def request(self, flow: Flow, action: str, message: dict[str, Any]) -> dict[str, Any]:
        flow.step = action
        message_id = await self.sender.send(action, flow.transaction_id, message)
        key = (message_id, f"on_{action}")
        self.traffic.awaiting[action] += 1
        try:
            deadline = time.monotonic() + CALLBACK_WAIT
            while not self.buyer.by_key.get(key):
                if time.monotonic() > deadline:
                    raise FlowError(f"no on_{action} for ACKed {message_id}")
                await asyncio.sleep(0.02)
        finally:
            self.traffic.awaiting[action] -= 1
        payload: dict[str, Any] = orjson.loads(self.buyer.by_key[key][0].body)
        flow.callbacks[action] = payload
        return payload

    def refused(self, flow: Flow, payload: dict[str, Any]) -> bool:
        code = _error_of(payload)
        if code is None:
            return False
        flow.outcome = f"refused:{flow.step}:{code}"
        if code != OUT_OF_STOCK:
            flow.problems.append(f"on_{flow.step} error {payload.get('error')}")
        return True

    async def transaction(self, flow: Flow) -> None:
        on_search = await self.request(flow, "search", {"intent": {
            "category": {"id": "Home Decor"},
            "fulfillment": {"type": "Delivery", "end": {"location": WHERE}},
            "payment": {"@ondc/org/buyer_app_finder_fee_type": "percent",
                        "@ondc/org/buyer_app_finder_fee_amount": "3"},
        }})
        if self.refused(flow, on_search):
            return
        offered = _offered(on_search)
        if PLENTY not in offered:
            flow.outcome = "failed:search: item I1 not offered"
            return
        flow.wanted = {PLENTY: self.rng.randint(1, 3)}
        scarce = self.rng.randint(1, 2)
        if self.rng.random() < 0.7 and offered.get(SCARCE, (0, 0))[1] >= scarce:
            flow.wanted[SCARCE] = scarce
        provider = {"id": "P1", "locations": [{"id": "L1"}]}

        on_select = await self.request(flow, "select", {"order": {
            "provider": provider,
            "items": [{"id": i, "location_id": "L1", "quantity": {"count": n}}
                      for i, n in flow.wanted.items()],
            "fulfillments": [{"end": {"location": WHERE}}],
        }})
        if self.refused(flow, on_select):
            return
        for entry in on_select["message"]["order"]["quote"]["breakup"]:
            item_id = entry.get("@ondc/org/item_id")
            if entry.get("@ondc/org/title_type") == "item" and item_id in offered:
                unit = Decimal(entry["item"]["price"]["value"])
                if unit != offered[item_id][0]:
                    flow.problems.append(f"{item_id}: on_search {offered[item_id][0]}, "
                                         f"on_select {unit}")

        billing = {"name": "Asha Devi", "address": ADDRESS, "phone": "9886098860",
                   "email": "asha@example.com", "created_at": "2026-01-01T00:00:00.000Z",
                   "updated_at": "2026-01-01T00:00:00.000Z"}
        end = {"location": {"gps": WHERE["gps"], "address": ADDRESS},
               "contact": {"phone": "9886098860", "email": "asha@example.com"}}
        on_init = await self.request(flow, "init", {"order": {
            "provider": provider,
            "items": [{"id": i, "location_id": "L1", "fulfillment_id": "F1",
                       "quantity": {"count": n}} for i, n in flow.wanted.items()],
            "billing": billing,
            "fulfillments": [{"id": "F1", "type": "Delivery", "end": end}],
            "payment": {"type": "ON-ORDER", "collected_by": "BAP",
                        "@ondc/org/buyer_app_finder_fee_type": "percent",
                        "@ondc/org/buyer_app_finder_fee_amount": "3"},
        }})
        if self.refused(flow, on_init):
            return
        o = on_init["message"]["order"]
        on_confirm = await self.request(flow, "confirm", {"order": {
            "id": flow.order_id, "state": "Created", "provider": o["provider"],
            "items": o["items"], "billing": o["billing"],
            "fulfillments": [{"id": "F1", "type": "Delivery",
                              "end": {**end, "person": {"name": "Asha Devi"}}}],
            "quote": o["quote"],
            "payment": {**o["payment"], "status": "PAID", "params": {
                "amount": o["quote"]["price"]["value"], "currency": "INR",
                "transaction_id": f"pay-{flow.order_id}"}},
            "tags": o["tags"],
            # stamped with the confirm's context.timestamp by FlowSender
            "created_at": "", "updated_at": "",
        }})
        if self.refused(flow, on_confirm):
            return
        flow.outcome = "confirmed"
        if on_confirm["message"]["order"].get("id") != flow.order_id:
            flow.problems.append("on_confirm carries another order id")

        # The seller packs the order at once: the buyer must hear it by an on_status push.
        flow.step = "seller-advance"
        await self.seller.advance(flow.order_id, "Packed")
        flow.packed = True
        flow.step = "push"
        flow.push = await self.wait_push(flow, "Packed")
        on_status = await self.request(flow, "status", {"order_id": flow.order_id})
        if _error_of(on_status) is not None or _fulfillment_code(
            on_status["message"].get("order", {})
        ) != "Packed":
            flow.problems.append(f"on_status after the push: {on_status['message']}")
        flow.step = "done"

    async def wait_push(self, flow: Flow, state: str) -> dict[str, Any]:
        self.traffic.awaiting["on_status-push"] += 1
        try:
            deadline = time.monotonic() + CALLBACK_WAIT
            while time.monotonic() < deadline:
                for receipt in self.buyer.by_transaction.get(flow.transaction_id, []):
                    if receipt.action != "on_status" or receipt.message_id in self.traffic.actions:
                        continue
                    payload: dict[str, Any] = orjson.loads(receipt.body)
                    if _fulfillment_code(payload["message"]["order"]) == state:
                        return payload
                await asyncio.sleep(0.02)
        finally:
            self.traffic.awaiting["on_status-push"] -= 1
        raise FlowError(f"no on_status push for {state}")


def _offered(on_search: dict[str, Any]) -> dict[str, tuple[Decimal, int]]:
    """item id -> (price, available count) from an on_search."""
    out: dict[str, tuple[Decimal, int]] = {}
    for provider in on_search["message"]["catalog"].get("bpp/providers", []):
        for item in provider.get("items", []):
            available = int(item["quantity"]["available"]["count"])
            out[item["id"]] = (Decimal(item["price"]["value"]), available)
    return out


async def drive(
    world: World, client: httpx.AsyncClient, url: str, admin_base: str, traffic: Traffic,
    scale: Scale, fault: Callable[[Shopper], Awaitable[None]],
) -> None:
    """Run ``scale.buyers`` shoppers until ``scale.orders`` transactions were started and the
    fault injector is done, then let every started transaction finish. The injector gets one
    more shopper of its own (a buyer arriving in the middle of the fault)."""
    senders = [FlowSender(client, url, traffic, world.bap, world.bap_uri, restamp=odd)
               for odd in (False, True)]
    seller = SellerDesk(client, admin_base, traffic)
    fault_done = asyncio.Event()

    def more() -> bool:
        return not traffic.stop_new and (
            traffic.started() < scale.orders or not fault_done.is_set()
        )

    # every other buyer re-stamps a request left unanswered (see FlowSender)
    shoppers = [Shopper(i, world, senders[i % 2], seller, traffic, more)
                for i in range(scale.buyers)]
    latecomer = Shopper(scale.buyers, world, senders[0], seller, traffic, lambda: False)

    async def inject() -> None:
        try:
            await fault(latecomer)
        finally:
            fault_done.set()

    injector = asyncio.create_task(inject())
    try:
        await asyncio.gather(*(s.run() for s in shoppers))
    finally:
        traffic.stop_new = True
        await injector  # re-raises a failure of the injector


# What each fault round waits for before it strikes, in turn: a confirm the node has recorded
# but not yet ACKed (see ``freeze_on_recorded_confirm``), a seller action's admin POST being
# handled (before, during or after its commit), a confirm between its ACK and its on_confirm,
# then init and select likewise.
FOCUS = ("confirm-recorded-unacked", "seller", "confirm", "init", "select")


async def freeze_on_recorded_confirm(
    proc: subprocess.Popen[bytes], db: Database, traffic: Traffic, *, wait: float = 15
) -> str | None:
    """Stop the node (SIGSTOP) a few milliseconds after a re-stamping buyer POSTs a confirm;
    if the node has committed the confirm to its inbox and the buyer has no answer yet, leave
    it stopped and return the confirm's message_id: the caller's SIGKILL then lands exactly
    between "record" and "ACK", the window where the buyer app must retry and the node must
    not take the order twice. Otherwise SIGCONT and try the next confirm, stopping a little
    later when the confirm was not recorded yet, a little earlier when it had been answered
    already; None after ``wait`` seconds. ``traffic.freeze_tries`` counts the stops."""
    deadline = time.monotonic() + wait
    delay = 0.004
    while time.monotonic() < deadline:
        traffic.confirm_post_started.clear()
        try:
            await asyncio.wait_for(
                traffic.confirm_post_started.wait(), timeout=max(0.1, deadline - time.monotonic())
            )
        except TimeoutError:
            return None
        message_id = traffic.confirm_posted
        await asyncio.sleep(delay * random.uniform(0.8, 1.2))
        os.kill(proc.pid, signal.SIGSTOP)
        traffic.freeze_tries += 1
        # an answer the node wrote before it stopped is still read by the buyer: give it time
        await asyncio.sleep(0.03)
        answered = message_id not in traffic.unanswered
        async with db.session() as s:
            recorded = (await s.execute(
                select(InboxEntry.id).where(InboxEntry.message_id == message_id)
            )).first() is not None
        if recorded and not answered:
            return message_id
        os.kill(proc.pid, signal.SIGCONT)
        delay = min(0.05, delay * 1.4) if not recorded else max(0.0005, delay * 0.7)
    return None


async def mid_flight(
    traffic: Traffic, buyer: CountingBuyer, focus: str, *, wait: float = 10
) -> str | None:
    """Wait until ``focus`` is in flight (see ``FOCUS``) while a callback POST is in progress
    ("seller": until an admin POST starts, plus 0-10 ms, so the fault lands before, during
    or after its commit); after ``wait`` any order request or seller action in flight will
    do. Returns what was caught (None: nothing)."""
    started = {"seller": traffic.admin_post_started}.get(focus)
    if started is not None:
        started.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(started.wait(), timeout=wait)
            await asyncio.sleep(random.uniform(0, 0.010))
            return focus

    def focused() -> bool:
        return traffic.awaiting[focus] > 0 and buyer.in_flight > 0

    def busy() -> bool:
        orders = sum(traffic.awaiting[a] for a in ("select", "init", "confirm", "status"))
        return (orders > 0 or traffic.seller_busy > 0) and buyer.in_flight > 0

    tries = [(busy, "any", 10.0)]
    if started is None:
        tries.insert(0, (focused, focus, wait))
    for check, label, seconds in tries:
        try:
            await wait_for(check, wait=seconds, what=f"{label} in flight", step=0.002)
        except AssertionError:
            continue
        return label
    return None


# -- checks ---------------------------------------------------------------------------------------


async def check_orders(
    name: str, db: Database, world: World, traffic: Traffic, initial: dict[str, int],
) -> ScenarioResult:
    """The tally (requests and their callbacks) plus the business checks."""
    stats = traffic.stats
    async with db.session() as s:
        inbox = (await s.execute(
            select(InboxEntry.message_id, InboxEntry.action, InboxEntry.status)
        )).all()
        outbox = (await s.execute(select(OutboxEntry))).scalars().all()
        attempts = (await s.execute(select(OutboxAttempt))).scalars().all()
        orders = (await s.execute(select(OrderRecord))).scalars().all()
        transitions = (await s.execute(select(OrderTransition))).scalars().all()
        stock = dict((await s.execute(select(Item.id, Item.stock))).all())

    # Requests the node recorded whose ACK the buyer never saw (the process died between its
    # commit and its answer): the node did take them, so their callbacks are owed too.
    acked = set(stats.acked)
    ack_lost = [m for m, _, _ in inbox if m not in acked]
    stats.acked.extend(ack_lost)
    expected = [(m, f"on_{traffic.actions.get(m, '?')}") for m in dict.fromkeys(stats.acked)]
    result = ScenarioResult(name, await tally(db, world.buyer, stats, expected=expected))

    pushes = [r for r in outbox if not r.solicited]
    push_tally = await tally(
        db, world.buyer, SendStats(), expected=[(r.message_id, r.action) for r in pushes]
    )
    _merge(result.tally, push_tally)

    flows = traffic.flows
    confirmed = [f for f in flows if f.outcome == "confirmed"]
    refused_confirm = [f for f in flows if f.outcome.startswith("refused:confirm")]
    outcomes = Counter(f.outcome.split(":", 2)[0] if f.outcome.startswith("failed")
                       else f.outcome for f in flows)
    by_txn: dict[str, list[OrderRecord]] = {}
    for order in orders:
        by_txn.setdefault(order.transaction_id, []).append(order)
    sold: Counter[str] = Counter()
    for order in orders:
        for line in order.lines:
            sold[line["id"]] += int(line["count"])
    bought: Counter[str] = Counter()
    for f in confirmed:
        bought.update(f.wanted)

    problems = [f"{f.transaction_id}: {p}" for f in flows for p in f.problems]
    failed = [f"{f.transaction_id}: {f.outcome}" for f in flows if f.outcome.startswith("failed")]
    result.tally.notes[:0] = failed[:5] + problems[:5]
    pushes_by_txn = Counter(r.transaction_id for r in pushes)
    packed_moves = Counter(
        t.order_pk for t in transitions if t.entity == "fulfillment" and t.to_state == "Packed"
    )
    order_pk = {o.transaction_id: o.id for o in orders}
    recorded_acks = Counter(a.outbox_id for a in attempts if a.ack == "ACK")
    result.figures.update({
        "transactions": len(flows),
        "outcomes": dict(outcomes),
        "orders": len(orders),
        "initial_stock": initial,
        "final_stock": stock,
        "sold": dict(sold),
        "pushes": len(pushes),
        "ack_lost_with_process": len(ack_lost),
        "re_stamped": len(traffic.superseded),
        "transport_errors": stats.transport_errors,
        "admin_retries": traffic.admin_retries,
        "admin_posts_unanswered": traffic.admin_lost,
        "admin_committed_unanswered": traffic.admin_committed_unanswered,
        "outbox": dict(Counter(r.status for r in outbox)),
    })

    result.check("every transaction ran to its end (confirmed or refused for stock, none stuck)",
                 all(f.outcome == "confirmed" or f.outcome.startswith("refused:")
                     for f in flows))
    result.check("no business error but 40002 (sold out), every answer consistent",
                 not problems)
    result.check("every request the node recorded was processed (none failed)",
                 all(status == PROCESSED for _, _, status in inbox))
    result.check("every callback the node committed was delivered, each ACK recorded once",
                 all(r.status == DELIVERED for r in outbox)
                 and all(n == 1 for n in recorded_acks.values()))
    result.check(
        "one order row per confirm answered with an order, none for a refused confirm",
        all(len(by_txn.get(f.transaction_id, [])) == 1
            and by_txn[f.transaction_id][0].order_id == f.order_id for f in confirmed)
        and not any(by_txn.get(f.transaction_id) for f in refused_confirm)
        and len(orders) == len(confirmed),
    )
    def confirm_answers(flow: Flow) -> set[tuple[str | None, str | None]]:
        out = set()
        for receipt in world.buyer.by_transaction.get(flow.transaction_id, []):
            if receipt.action == "on_confirm":
                payload = orjson.loads(receipt.body)
                out.add((_error_of(payload), payload["message"].get("order", {}).get("id")))
        return out

    repeated = [f for f in flows if len({r.message_id for r in world.buyer.by_transaction.get(
        f.transaction_id, []) if r.action == "on_confirm"}) > 1]
    result.figures["repeated_confirms"] = len(repeated)
    result.check(
        "a repeated confirm (fresh message_id) is answered like the first, no second order",
        all(len(confirm_answers(f)) == 1 for f in repeated),
    )
    result.check(
        "order rows hold the confirmed quantities; stock = initial - sold, never negative",
        sold == bought
        and all(stock[i] == initial[i] - sold[i] and stock[i] >= 0 for i in initial),
    )
    result.check(
        "same quote in on_select, on_init and on_confirm of every confirmed order",
        all(
            commercial_terms(f.callbacks["select"]["message"]["order"]["quote"])
            == commercial_terms(f.callbacks["init"]["message"]["order"]["quote"])
            == commercial_terms(f.callbacks["confirm"]["message"]["order"]["quote"])
            for f in confirmed
        ),
    )
    result.check(
        "each committed seller action moved the order once and pushed one on_status, received",
        all(
            f.packed and f.push is not None
            and packed_moves[order_pk[f.transaction_id]] == 1
            and pushes_by_txn[f.transaction_id] == 1
            for f in confirmed
        ) and len(pushes) == len(confirmed),
    )
    result.check("no HTTP 500 from the admin API", traffic.admin_server_errors == 0)
    return result


def _merge(total: Tally, pushes: Tally) -> None:
    """Unsolicited pushes are owed as much as replies: their losses, duplicates and re-sends
    count in the scenario's row (``delivered`` stays the requests' figure)."""
    total.lost += pushes.lost
    total.duplicates += pushes.duplicates
    total.resent += pushes.resent
    total.notes.extend(f"push: {n}" for n in pushes.notes)


# -- 6. kill -9 of ``ondc-adapter serve`` during transactions ------------------------------------


def _spawn_serve(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """The real command: ``ondc-adapter serve`` (default handlers, one uvicorn process)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ondc_adapter.cli", "serve", "--host", "127.0.0.1",
             "--port", str(port)],
            env=env, cwd=ROOT, stdout=out, stderr=out,
        )


async def orders_kill(env: Env, scale: Scale) -> ScenarioResult:
    """``ondc-adapter serve`` (real catalogue and order logic) is SIGKILLed ``scale.order_kills``
    times while buyers are in the middle of select/init/confirm/status and the seller in the
    middle of an admin action, and restarted each time."""
    world = World(env.workdir)
    world.buyer.ack_delay = 0.1  # keeps callback POSTs in flight when the kill comes
    traffic = Traffic()
    figures: dict[str, Any] = {"kills": 0, "in_flight_at_kill": [], "delivered_at_kill": [],
                               "restart_seconds": []}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    url = f"{base}/ondc"
    log = env.workdir / "serve.log"
    async with (
        fresh_db(env) as db,
        served(world.registry.app) as registry_url,
        served(world.buyer.app, world.buyer_sock),
        httpx.AsyncClient(timeout=15) as client,
    ):
        initial = await load_catalogue(db, max(4, scale.orders // 2))
        proc_env = {
            **_node_env(world, registry_url, db.url),
            "ONDC_ADMIN_API_KEY": ADMIN_KEY,
            "ONDC_LOG_LEVEL": "WARNING",
            # the shop is in Ramanagara and ships across India: it answers Bengaluru's searches
            "ONDC_SEARCH_STORES": "serving",
        }
        proc = _spawn_serve(proc_env, port, log)
        await _serving(client, url, proc)

        async def kills(_: Shopper) -> None:
            nonlocal proc
            for round_ in range(scale.order_kills):
                target = (round_ + 1) * scale.orders // (scale.order_kills + 1)
                await wait_for(lambda t=target: traffic.started() > t, wait=120,
                               what=f"{target} transactions before kill {round_ + 1}")
                focus = FOCUS[round_ % len(FOCUS)]
                if focus == "confirm-recorded-unacked":
                    caught: str | None = focus
                    frozen = await freeze_on_recorded_confirm(proc, db, traffic)
                    if frozen is not None:
                        figures["confirm_recorded_unacked_at_kill"] = frozen
                        figures["sigstops_to_catch_it"] = traffic.freeze_tries
                    else:
                        caught = await mid_flight(traffic, world.buyer, "confirm")
                else:
                    caught = await mid_flight(traffic, world.buyer, focus)
                snapshot = {**traffic.in_flight(), "callback-posts": world.buyer.in_flight}
                proc.send_signal(signal.SIGKILL)
                await asyncio.to_thread(proc.wait)
                figures["kills"] += 1
                figures["in_flight_at_kill"].append(
                    {"aimed_at": caught, **snapshot} if caught else {"none": 0}
                )
                statuses = await outbox_statuses(db)
                figures["delivered_at_kill"].append(statuses.get(DELIVERED, 0))
                started = time.monotonic()
                proc = _spawn_serve(proc_env, port, log)
                await _serving(client, url, proc)
                figures["restart_seconds"].append(round(time.monotonic() - started, 1))

        try:
            await drive(world, client, url, base, traffic, scale, kills)

            async def all_delivered() -> bool:
                statuses = await outbox_statuses(db)
                return set(statuses) <= {DELIVERED} and sum(statuses.values()) > 0

            with contextlib.suppress(AssertionError):  # check_orders says what is missing
                await wait_for(all_delivered, wait=60, what="all callbacks")
            await asyncio.sleep(0.5)  # time for a double delivery to show itself
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(proc.wait, 15)
            except subprocess.TimeoutExpired:
                proc.kill()
        result = await check_orders(
            "kill -9 serve mid-transaction (orders)", db, world, traffic, initial
        )
    result.figures.update(figures)
    if scale.order_kills:
        unacked = figures.get("confirm_recorded_unacked_at_kill")
        flow = next((f for f in traffic.flows
                     if any(r.message_id == unacked for r in world.buyer.by_transaction.get(
                         f.transaction_id, []))), None)
        result.check(
            "kill 1 landed between a confirm's record and its ACK: that confirm was called "
            "back, re-sent with a fresh message_id, both answered alike",
            unacked is not None and unacked in traffic.superseded and flow is not None
            and len({r.message_id for r in world.buyer.by_transaction[flow.transaction_id]
                     if r.action == "on_confirm"}) == 2,
        )
    result.check(
        "each kill caught orders or a seller action between ACK and callback",
        figures["kills"] == scale.order_kills
        and all("none" not in snap for snap in figures["in_flight_at_kill"]),
    )
    if not result.ok and log.exists():
        result.tally.notes.extend(
            "serve: " + line for line in log.read_text(errors="replace").splitlines()[-5:]
        )
    return result


# -- 7. PostgreSQL stopped and restarted during transactions --------------------------------------


async def orders_postgres(env: Env, scale: Scale) -> ScenarioResult:
    """A node with the real seller logic on a private PostgreSQL cluster; the cluster is
    stopped while buyers are mid-transaction (requests answered 503 + 31001, admin actions
    503), kept down ~1 s, started again; the node recovers without a restart."""
    world = World(env.workdir)
    world.buyer.ack_delay = 0.05
    traffic = Traffic()
    figures: dict[str, Any] = {}
    pg = LocalPostgres()
    try:
        await asyncio.to_thread(pg.init)
        await asyncio.to_thread(pg.start)
        db = Database(await pg.create_database("node"))
        await db.migrate()
        initial = await load_catalogue(db, max(4, scale.orders // 2))
        async with (
            served(world.registry.app) as registry_url,
            served(world.buyer.app, world.buyer_sock),
            httpx.AsyncClient(timeout=15) as client,
        ):
            settings = node_settings(
                world.keys_dir, registry_url, db.url, callback_timeout=1.0,
                admin_api_key=SecretStr(ADMIN_KEY),
                search_stores="serving",  # the Ramanagara shop answers Bengaluru's searches
            )
            app = create_app(settings, db=db)  # default handlers: catalogue + orders
            async with served(app) as base:
                url = base + settings.path_prefix

                async def outage(latecomer: Shopper) -> None:
                    target = scale.orders // 3
                    await wait_for(lambda: traffic.started() > target, wait=120,
                                   what=f"{target} transactions before the outage")
                    caught = await mid_flight(traffic, world.buyer, "confirm")
                    figures["in_flight_at_stop"] = (
                        {"aimed_at": caught, **traffic.in_flight(),
                         "callback-posts": world.buyer.in_flight}
                        if caught else {"none": 0}
                    )
                    nacks, errors = traffic.stats.retryable_nacks, traffic.stats.server_errors
                    await asyncio.to_thread(pg.stop)
                    stopped = time.monotonic()
                    # a buyer arrives while the database is down (its search is refused with
                    # 503 until it is back, then it runs its whole transaction), and the
                    # seller opens the admin API
                    arriving = asyncio.create_task(latecomer.one())
                    admin = await latecomer.seller._call("GET", "")
                    figures["admin_answer_while_down"] = admin and admin.status_code
                    with contextlib.suppress(AssertionError):
                        await wait_for(lambda: traffic.stats.retryable_nacks > nacks, wait=8,
                                       what="a request while PostgreSQL is down")
                    await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - stopped)))
                    figures["down_seconds"] = round(time.monotonic() - stopped, 1)
                    await asyncio.to_thread(pg.start)
                    flow = await arriving
                    figures["arrived_while_down"] = flow.outcome
                    figures["503_while_down"] = traffic.stats.retryable_nacks - nacks
                    figures["500_while_down"] = traffic.stats.server_errors - errors

                await drive(world, client, url, base, traffic, scale, outage)

                async def all_delivered() -> bool:
                    statuses = await outbox_statuses(db)
                    return set(statuses) <= {DELIVERED}

                with contextlib.suppress(AssertionError):
                    await wait_for(all_delivered, wait=60, what="all callbacks")
                await asyncio.sleep(0.3)
            result = await check_orders(
                "PostgreSQL restarted mid-transaction (orders)", db, world, traffic, initial
            )
        await db.dispose()
    finally:
        await asyncio.to_thread(pg.destroy)
    result.figures.update(figures)
    result.check("the outage caught orders or a seller action between ACK and callback",
                 "none" not in figures.get("in_flight_at_stop", {"none": 0}))
    result.check("requests while PostgreSQL was down: 503 + 31001 (retried), never 500; "
                 "admin API 503",
                 figures.get("503_while_down", 0) > 0 and figures.get("500_while_down") == 0
                 and figures.get("admin_answer_while_down") == 503)
    return result
