"""Test kit for order flows: a seeded catalogue, a controllable clock, a buyer app that calls
the order handlers the way the inbox processor does (one database transaction per request,
callbacks written to the outbox), a seller that uses ``orders.service``, and validation of every
payload against the published JSON Schemas."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from sqlalchemy import select

from ondc_adapter import outbox
from ondc_adapter.catalogue.tables import Item, Location, Provider
from ondc_adapter.exchange import InboundRequest, OutboundMessage, SellerDeps
from ondc_adapter.orders import service
from ondc_adapter.orders.handlers import HANDLERS
from ondc_adapter.orders.policy import OrderPolicy
from ondc_adapter.orders.tables import OrderRecord
from ondc_adapter.protocol.context import Context
from ondc_adapter.protocol.durations import format_timestamp
from ondc_adapter.settings import Settings
from ondc_adapter.storage import Database

BAP_ID = "buyer.example.com"
BAP_URI = "https://buyer.example.com/ondc"
SELLER_ID = "seller.example.com"
BPP_URI = "https://seller.example.com/ondc"
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
START = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
BUYER_GPS = "12.974002,77.613458"
BUYER_PIN = "560001"


def node_settings() -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        subscriber_id=SELLER_ID,
        bpp_uri=BPP_URI,
        domains=["ONDC:RET10", "ONDC:RET12", "ONDC:RET16"],
    )


class Clock:
    def __init__(self, start: datetime = START) -> None:
        self.t = start

    def __call__(self) -> datetime:
        return self.t

    def tick(self, seconds: float = 1.0) -> datetime:
        self.t += timedelta(seconds=seconds)
        return self.t


@cache
def _validator(action: str) -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMA_DIR / f"order_{action}.schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def validate(payload: dict[str, Any]) -> None:
    """Raise when the payload does not satisfy the project's schema for its action."""
    _validator(payload["context"]["action"]).validate(payload)


CATEGORY = {"ONDC:RET12": "Sarees", "ONDC:RET16": "Home Decor", "ONDC:RET10": "Snacks"}


async def seed(
    db: Database,
    *,
    domain: str = "ONDC:RET16",
    items: dict[str, dict[str, Any]] | None = None,
    provider_id: str = "P1",
    location_id: str = "L1",
    serviceability: str = "12",
    radius_km: str | None = None,
    pincodes: list[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """One provider with one location and ``items`` ({id: {price, stock, max, ...}})."""
    items = items or {
        "I1": {"price": "600.00", "stock": 20},
        "I2": {"price": "349.50", "stock": 20},
    }
    async with db.session() as s:
        s.add(
            Provider(
                id=provider_id, name="Pattachitra Artisans Cooperative", kind="cooperative",
                phone="9876543210", email="care@artisans.example", gstin="21ABICS0065K1ZG",
                pan="EKGPP4957P", fulfillments=[{"id": "F1", "type": "Delivery"}],
                created_at=START, updated_at=START,
            )
        )
        await s.flush()
        s.add(
            Location(
                provider_id=provider_id, id=location_id, street="G 506 Utkal Vatika",
                locality="Near Shiva Mandir", city="Bhubaneswar", state="Odisha",
                area_code="751006", std_code="0674", lat=Decimal("20.277319"),
                lng=Decimal("85.862211"), serviceability=serviceability,
                radius_km=None if radius_km is None else Decimal(radius_km),
                pincodes=pincodes or [], updated_at=START,
            )
        )
        await s.flush()
        for item_id, spec in items.items():
            price = Decimal(spec.get("price", "100.00"))
            s.add(
                Item(
                    id=item_id, provider_id=provider_id, location_id=location_id,
                    fulfillment_id="F1", domain=domain, category_id=CATEGORY[domain],
                    name=spec.get("name", f"Handmade item {item_id}"), code="4:44219990",
                    short_desc="handmade", long_desc="handmade", price=price,
                    mrp=Decimal(spec.get("mrp", price)), stock=spec.get("stock", 10),
                    max_per_order=spec.get("max", 10),
                    consumer_care="Care,care@a.example,9876543210",
                    time_to_ship=spec.get("time_to_ship", "P2D"),
                    cancellable=spec.get("cancellable", True),
                    returnable=spec.get("returnable", True), cod=spec.get("cod", False),
                    created_at=START, updated_at=START,
                )
            )
    return items


async def stock_of(db: Database, item_id: str) -> int:
    async with db.session() as s:
        return int((await s.scalars(select(Item.stock).where(Item.id == item_id))).one())


class Exchange:
    """One request and the callbacks it produced (payloads as serialised by the outbox)."""

    def __init__(self, request: dict[str, Any], callbacks: list[dict[str, Any]]) -> None:
        self.request = request
        self.callbacks = callbacks

    @property
    def reply(self) -> dict[str, Any]:
        assert len(self.callbacks) == 1, self.callbacks
        return self.callbacks[0]

    @property
    def order(self) -> dict[str, Any]:
        return self.reply["message"]["order"]

    @property
    def error(self) -> dict[str, Any] | None:
        return self.reply.get("error")


def payloads(messages: list[OutboundMessage]) -> list[dict[str, Any]]:
    """The bytes the outbox would send, parsed back: what the buyer app really receives."""
    out = [json.loads(m.body) for m in messages]
    for p in out:
        validate(p)
    return out


class Buyer:
    """A buyer app driving one transaction against the handlers."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        domain: str = "ONDC:RET16",
        policy: OrderPolicy | None = None,
        settings: Settings | None = None,
        provider_id: str = "P1",
        location_id: str = "L1",
    ) -> None:
        self.db = db
        self.clock = clock
        self.domain = domain
        self.settings = settings or node_settings()
        self.deps = SellerDeps(
            settings=self.settings,
            # the seller answers a few hundred milliseconds after the request
            now=lambda: self.clock() + timedelta(milliseconds=300),
            extras={"order_policy": policy or OrderPolicy()},
        )
        self.transaction_id = str(uuid.uuid4())
        self.provider_id = provider_id
        self.location_id = location_id
        self.log: list[Exchange] = []
        self.on_select: dict[str, Any] | None = None
        self.on_init: dict[str, Any] | None = None
        self.order_id = f"O{uuid.uuid4().hex[:12]}"
        # the retail version of the requests this buyer app sends next (a test may switch it
        # mid-transaction to see the node hold the transaction to its first one)
        self.core_version = "1.2.0"

    def context(self, action: str) -> dict[str, Any]:
        return {
            "domain": self.domain, "country": "IND", "city": "std:080", "action": action,
            "core_version": self.core_version, "bap_id": BAP_ID, "bap_uri": BAP_URI,
            "bpp_id": self.settings.subscriber_id, "bpp_uri": self.settings.bpp_uri,
            "transaction_id": self.transaction_id, "message_id": str(uuid.uuid4()),
            "timestamp": format_timestamp(self.clock.tick()), "ttl": "PT30S",
        }

    async def send(self, action: str, message: dict[str, Any]) -> Exchange:
        payload = {"context": self.context(action), "message": message}
        validate(payload)
        request = InboundRequest(
            action=action,
            context=Context.model_validate(payload["context"]),
            message=payload["message"],
            received_at=self.clock(),
            signer=BAP_ID,
        )
        async with self.db.session() as session:
            messages = await HANDLERS[action](request, session, self.deps)
            for m in messages:
                await outbox.enqueue(session, m, now=self.deps.now())
        exchange = Exchange(payload, payloads(messages))
        self.log.append(exchange)
        return exchange

    # ------------------------------------------------------------ the transaction's steps

    def end(self, full: bool = False) -> dict[str, Any]:
        address: dict[str, Any] = {"area_code": BUYER_PIN}
        if full:
            address = {
                "name": "Asha Devi", "building": "12 MG Road", "locality": "Ashok Nagar",
                "city": "Bengaluru", "state": "Karnataka", "country": "IND",
                "area_code": BUYER_PIN,
            }
        end: dict[str, Any] = {"location": {"gps": BUYER_GPS, "address": address}}
        if full:
            end["contact"] = {"phone": "9886098860", "email": "asha@example.com"}
        return end

    async def select(self, items: list[tuple[str, int]], **end: Any) -> Exchange:
        end_obj = self.end()
        end_obj["location"].update(end)
        ex = await self.send(
            "select",
            {
                "order": {
                    "provider": {"id": self.provider_id, "locations": [{"id": self.location_id}]},
                    "items": [
                        {"id": i, "location_id": self.location_id, "quantity": {"count": n}}
                        for i, n in items
                    ],
                    "fulfillments": [{"end": end_obj}],
                }
            },
        )
        self.on_select = ex.reply
        return ex

    def billing(self) -> dict[str, Any]:
        return {
            "name": "Asha Devi",
            "address": self.end(full=True)["location"]["address"],
            "phone": "9886098860",
            "email": "asha@example.com",
            "created_at": "2026-11-22T09:59:00.000Z",
            "updated_at": "2026-11-22T09:59:00.000Z",
        }

    def selected_items(self) -> list[tuple[str, int]]:
        assert self.on_select is not None
        return [
            (b["@ondc/org/item_id"], b["@ondc/org/item_quantity"]["count"])
            for b in self.on_select["message"]["order"]["quote"]["breakup"]
            if b["@ondc/org/title_type"] == "item"
        ]

    async def init(self, items: list[tuple[str, int]] | None = None) -> Exchange:
        items = items or self.selected_items()
        ex = await self.send(
            "init",
            {
                "order": {
                    "provider": {"id": self.provider_id, "locations": [{"id": self.location_id}]},
                    "items": [
                        {
                            "id": i, "location_id": self.location_id, "fulfillment_id": "F1",
                            "quantity": {"count": n},
                        }
                        for i, n in items
                    ],
                    "billing": self.billing(),
                    "fulfillments": [{"id": "F1", "type": "Delivery", "end": self.end(True)}],
                    "payment": {
                        "type": "ON-ORDER", "collected_by": "BAP",
                        "@ondc/org/buyer_app_finder_fee_type": "percent",
                        "@ondc/org/buyer_app_finder_fee_amount": "3",
                    },
                }
            },
        )
        self.on_init = ex.reply
        return ex

    def confirm_order(self) -> dict[str, Any]:
        assert self.on_init is not None
        on_init = self.on_init["message"]["order"]
        stamp = format_timestamp(self.clock() + timedelta(seconds=1))
        end = self.end(True)
        end["person"] = {"name": "Asha Devi"}
        payment = dict(on_init["payment"])
        payment.update(
            {
                "uri": "https://pay.example.com/", "tl_method": "http/get",
                "params": {
                    "amount": on_init["quote"]["price"]["value"], "currency": "INR",
                    "transaction_id": f"pay-{uuid.uuid4().hex[:8]}",
                },
                "status": "PAID", "type": "ON-ORDER", "collected_by": "BAP",
            }
        )
        return {
            "id": self.order_id,
            "state": "Created",
            "provider": on_init["provider"],
            "items": on_init["items"],
            "billing": on_init["billing"],
            "fulfillments": [
                {
                    "id": "F1", "type": "Delivery", "tracking": False, "end": end,
                    "@ondc/org/TAT": self.on_select["message"]["order"]["fulfillments"][0][
                        "@ondc/org/TAT"
                    ] if self.on_select else "P4D",
                }
            ],
            "quote": on_init["quote"],
            "payment": payment,
            "tags": [
                *on_init["tags"],
                {"code": "bap_terms", "list": [
                    {"code": "accept_bpp_terms", "value": "Y"},
                    {"code": "tax_number", "value": "29AAACB1234C1Z5"},
                ]},
            ],
            "created_at": stamp,
            "updated_at": stamp,
        }

    async def confirm(self, order: dict[str, Any] | None = None) -> Exchange:
        order = order or self.confirm_order()
        # the buyer app stamps created_at with the confirm's own context.timestamp
        payload_ctx = self.context("confirm")
        order = {**order, "created_at": payload_ctx["timestamp"],
                 "updated_at": payload_ctx["timestamp"]}
        return await self._send_with_context(payload_ctx, {"order": order})

    async def _send_with_context(
        self, ctx: dict[str, Any], message: dict[str, Any], *, check_request: bool = True
    ) -> Exchange:
        payload = {"context": ctx, "message": message}
        if check_request:
            validate(payload)
        request = InboundRequest(
            action=ctx["action"], context=Context.model_validate(ctx), message=message,
            received_at=self.clock(), signer=BAP_ID,
        )
        async with self.db.session() as session:
            messages = await HANDLERS[ctx["action"]](request, session, self.deps)
            for m in messages:
                await outbox.enqueue(session, m, now=self.deps.now())
        exchange = Exchange(payload, payloads(messages))
        self.log.append(exchange)
        return exchange

    async def status(self) -> Exchange:
        return await self.send("status", {"order_id": self.order_id})

    async def track(self) -> Exchange:
        return await self.send("track", {"order_id": self.order_id})

    async def cancel(self, reason: str) -> Exchange:
        return await self.send(
            "cancel",
            {
                "order_id": self.order_id,
                "cancellation_reason_id": reason,
                "descriptor": {"name": "fulfillment", "short_desc": "F1"},
            },
        )

    async def request_return(
        self, item_id: str, quantity: int, reason: str = "003", return_id: str = "R1",
        ttl_reverseqc: str | None = "P3D",
    ) -> Exchange:
        ttl = [{"code": "ttl_reverseqc", "value": ttl_reverseqc}] if ttl_reverseqc else []
        return await self.send(
            "update",
            {
                "update_target": "item",
                "order": {
                    "id": self.order_id,
                    "fulfillments": [
                        {
                            "type": "Return",
                            "tags": [
                                {
                                    "code": "return_request",
                                    "list": [
                                        {"code": "id", "value": return_id},
                                        {"code": "item_id", "value": item_id},
                                        {"code": "item_quantity", "value": str(quantity)},
                                        {"code": "reason_id", "value": reason},
                                        {"code": "reason_desc", "value": "broken on arrival"},
                                        {"code": "images", "value": "https://img.example/1.jpg"},
                                        {"code": "ttl_approval", "value": "PT24H"},
                                        *ttl,
                                    ],
                                }
                            ],
                        }
                    ],
                },
            },
        )

    async def settle_refund(self, amount: str) -> Exchange:
        return await self.send(
            "update",
            {
                "update_target": "payment",
                "order": {
                    "id": self.order_id,
                    "payment": {
                        "@ondc/org/settlement_details": [
                            {
                                "settlement_counterparty": "buyer",
                                "settlement_phase": "refund",
                                "settlement_type": "upi",
                                "settlement_amount": amount,
                                "settlement_timestamp": format_timestamp(self.clock()),
                            }
                        ]
                    },
                },
            },
        )

    async def rate(self, category: str, rated_id: str, value: str | int) -> Exchange:
        return await self.send(
            "rating",
            {"ratings": [{"rating_category": category, "id": rated_id, "value": str(value)}]},
        )

    async def support(self) -> Exchange:
        return await self.send("support", {"ref_id": self.order_id})


class Seller:
    """The merchant acting through ``orders.service`` (as the admin API and CLI do)."""

    def __init__(self, db: Database, clock: Clock, settings: Settings | None = None) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings or node_settings()

    async def _run(self, fn: Any, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        async with self.db.session() as session:
            outcome = await fn(session, self.settings, *args, now=self.clock.tick(), **kwargs)
        return payloads(outcome.messages)

    async def advance(self, order_id: str, state: str, **kw: Any) -> dict[str, Any]:
        (out,) = await self._run(service.advance, order_id, state, **kw)
        return out

    async def accept(self, order_id: str) -> dict[str, Any]:
        (out,) = await self._run(service.accept, order_id)
        return out

    async def cancel(self, order_id: str, reason: str) -> dict[str, Any]:
        (out,) = await self._run(service.cancel, order_id, reason)
        return out

    async def part_cancel(self, order_id: str, quantities: dict[str, int]) -> dict[str, Any]:
        (out,) = await self._run(service.part_cancel, order_id, quantities)
        return out

    async def approve_return(self, order_id: str, return_id: str, **kw: Any) -> dict[str, Any]:
        (out,) = await self._run(service.approve_return, order_id, return_id, **kw)
        return out

    async def reject_return(
        self, order_id: str, return_id: str, reason_code: str, **kw: Any
    ) -> dict[str, Any]:
        (out,) = await self._run(service.reject_return, order_id, return_id, reason_code, **kw)
        return out

    async def liquidate_return(self, order_id: str, return_id: str) -> dict[str, Any]:
        (out,) = await self._run(service.liquidate_return, order_id, return_id)
        return out

    async def return_picked(self, order_id: str, return_id: str, **kw: Any) -> dict[str, Any]:
        (out,) = await self._run(service.return_picked, order_id, return_id, **kw)
        return out

    async def return_qc(
        self, order_id: str, return_id: str, result: str, **kw: Any
    ) -> dict[str, Any]:
        (out,) = await self._run(service.return_qc, order_id, return_id, result, **kw)
        return out


async def order_row(db: Database, order_id: str) -> OrderRecord:
    async with db.session() as s:
        return (
            await s.scalars(select(OrderRecord).where(OrderRecord.order_id == order_id))
        ).one()


def breakup_sum(quote: dict[str, Any]) -> Decimal:
    return sum((Decimal(b["price"]["value"]) for b in quote["breakup"]), Decimal("0"))
