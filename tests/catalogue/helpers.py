"""Good catalogue records for tests (one provider per domain kind) and small utilities."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from ondc_adapter.catalogue.admin import router
from ondc_adapter.catalogue.codes import with_check_digit
from ondc_adapter.exchange import InboundRequest, SellerDeps
from ondc_adapter.protocol.context import Context
from ondc_adapter.protocol.durations import format_timestamp
from ondc_adapter.settings import Settings
from ondc_adapter.storage import Database

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
CARE = "Care Desk,care@weavers.example.in,9876543210"


def provider(pid: str = "P1", **over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": "provider",
        "id": pid,
        "name": f"Varanasi Weavers {pid}",
        "kind": "cooperative",
        "short_desc": "Handloom silk weavers",
        "long_desc": "A cooperative of Banarasi silk weavers",
        "images": ["https://img.example.in/p.png"],
        "phone": "9876543210",
        "email": "desk@weavers.example.in",
        "gstin": "09ABCDE1234F1Z5",
        "pan": "ABCDE1234F",
        "fulfillments": [{"id": "F1", "type": "Delivery"}],
        "min_order_value": "100.00",
        "women_led": True,
        "artisan": True,
        "locations": [
            {
                "id": "L1",
                "street": "Lallapura",
                "locality": "Chowk",
                "city": "Varanasi",
                "state": "Uttar Pradesh",
                "area_code": "221001",
                "std_code": "0542",
                "gps": "25.317645,82.973914",
                "serviceability": "12",
                "days": "1,2,3,4,5,6",
                "open_time": "0900",
                "close_time": "2000",
            }
        ],
        "variant_groups": [{"id": "VG1", "name": "Saree colours", "attributes": ["colour"]}],
    }
    data.update(over)
    return data


def ret12_item(iid: str = "I12", **over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": "item",
        "id": iid,
        "provider_id": "P1",
        "location_id": "L1",
        "parent_item_id": "VG1",
        "odop": {"lgd_code": "187", "product": "Silk Products"},
        "domain": "ONDC:RET12",
        "category_id": "Sarees",
        "name": "Banarasi Katan Silk Saree",
        "code": "4:5007",
        "images": ["https://img.example.in/saree.jpg"],
        "short_desc": "Handwoven katan silk saree",
        "long_desc": "Pure katan silk saree with zari buta, woven in Varanasi",
        "price": "8500.00",
        "mrp": "9500.00",
        "stock": 4,
        "max_per_order": 2,
        "attributes": {
            "gender": "female", "colour": "#800000", "colour_name": "maroon",
            "size": "Free Size", "brand": "Varanasi Weavers", "fabric": "silk",
            "size_chart": "https://img.example.in/size-chart",
        },
        "consumer_care": CARE,
        "statutory": {"manufacturer_or_packer_name": "Varanasi Weavers",
                      "month_year_of_manufacture_packing_import": "01/2026"},
    }
    data.update(over)
    return data


def ret16_item(iid: str = "I16", **over: Any) -> dict[str, Any]:
    data = ret12_item(iid)
    data.update(
        odop={"lgd_code": "187", "product": "Wooden Lacquer Ware"},
        domain="ONDC:RET16", category_id="Home Decor", name="Lacquer wood elephant",
        code="1:" + with_check_digit("890123456789"), price="450.00", mrp="500.00", stock=10,
        attributes={"brand": "Varanasi Weavers", "colour": "#FF0000", "colour_name": "red",
                    "material": "Wood"},
        parent_item_id=None,
    )
    data.update(over)
    return data


def ret10_item(iid: str = "I10", **over: Any) -> dict[str, Any]:
    data = ret12_item(iid)
    data.update(
        domain="ONDC:RET10",
        category_id="Tea and Coffee", name="Darjeeling first flush tea 250 g",
        code="1:" + with_check_digit("8901234"), price="320.00", mrp="350.00", stock=50,
        attributes={"brand": "Hill Estates"}, parent_item_id=None, odop=None,
        cod=True, returnable=False,
        # tea is a packaged commodity in ONDC's RET10: its statutory block is required
        statutory={"manufacturer_or_packer_name": "Hill Estates",
                   "manufacturer_or_packer_address": "Darjeeling, West Bengal",
                   "common_or_generic_name_of_commodity": "Tea",
                   "month_year_of_manufacture_packing_import": "01/2026"},
    )
    data.update(over)
    return data


def records(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [provider(), ret12_item(), ret16_item(), ret10_item(), *extra]


def write_jsonl(path: Path, recs: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


def clone(data: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(data)


def settings(**over: Any) -> Settings:
    # these tests are about serviceability: every store serving a city answers its search
    base = dict(subscriber_id="seller.example.in", bpp_uri="https://seller.example.in/ondc",
                admin_api_key="secret-key", database_url="sqlite+aiosqlite://",
                search_stores="serving")
    base.update(over)
    return Settings(**base)


def search_request(
    intent: dict[str, Any], *, domain: str = "ONDC:RET12", city: str = "std:0542",
    now: datetime = NOW, message_id: str = "m-1", transaction_id: str = "t-1",
) -> InboundRequest:
    ctx = Context(
        domain=domain, country="IND", city=city, action="search", core_version="1.2.0",
        bap_id="buyer.example.com", bap_uri="https://buyer.example.com/ondc",
        transaction_id=transaction_id, message_id=message_id,
        timestamp=format_timestamp(now), ttl="PT30S",
    )
    return InboundRequest(action="search", context=ctx, message={"intent": intent},
                          received_at=now, signer="buyer.example.com")


def deps(now: datetime = NOW, **extras: Any) -> SellerDeps:
    return SellerDeps(settings=settings(), now=lambda: now, extras=dict(extras))


def admin_client(db: Database) -> httpx.AsyncClient:
    """A client of the catalogue's admin API over ``db`` (its key: ``secret-key``), in process."""
    app = FastAPI()
    app.state.db = db
    app.state.settings = settings()
    app.include_router(router)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")

