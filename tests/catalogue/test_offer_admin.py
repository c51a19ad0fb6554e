"""The offers' admin API (``/admin/providers/{pid}/offers``): create, replace, read, list,
switch off and on, delete; every refusal is a 422 naming the field, a 404 or a 400, and
changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ondc_adapter.catalogue.offer_admin import router
from ondc_adapter.storage import Database

from .helpers import settings
from .offer_kit import OFFERS, load_catalogue, offer

KEY = {"X-API-Key": "secret-key"}
BASE = "/admin/providers/P1/offers"


def client(db: Database) -> httpx.AsyncClient:
    app = FastAPI()
    app.state.db = db
    app.state.settings = settings()
    app.include_router(router)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


def body(offer_id: str, **over: Any) -> dict[str, Any]:
    data = offer(offer_id, **over)
    del data["id"]  # the path names it
    return data


async def test_create_replace_read_list_switch_delete(pg_db: Database, tmp_path: Path) -> None:
    await load_catalogue(pg_db, tmp_path)
    async with client(pg_db) as http:
        for oid in OFFERS:
            made = await http.put(f"{BASE}/{oid}", json=body(oid), headers=KEY)
            assert made.status_code == 201, made.text
        shown = (await http.get(f"{BASE}/discp60", headers=KEY)).json()
        assert shown["offer"]["benefit"] == {"percent": "60.00", "cap_paise": 12000}
        assert shown["offer"]["valid_from"] == "2026-03-01T00:00:00Z"
        assert (shown["position"], shown["enabled"], shown["provider_id"]) == (1, True, "P1")

        again = await http.put(f"{BASE}/discp60", json=body("discp60", title="Holi"),
                               headers=KEY)
        assert again.status_code == 200 and again.json()["offer"]["title"] == "Holi"
        # what GET shows is what PUT takes
        echoed = await http.put(f"{BASE}/discp60", json=again.json()["offer"], headers=KEY)
        assert echoed.status_code == 200 and echoed.json()["offer"] == again.json()["offer"]

        off = await http.patch(f"{BASE}/gift/status", json={"enabled": False}, headers=KEY)
        assert off.status_code == 200 and off.json()["enabled"] is False
        listed = (await http.get(BASE, headers=KEY)).json()
        assert [o["id"] for o in listed["offers"]] == list(OFFERS)
        assert [o["enabled"] for o in listed["offers"]].count(False) == 1

        gone = await http.delete(f"{BASE}/gift", headers=KEY)
        assert gone.status_code == 200 and gone.json() == {"id": "gift", "deleted": True}
        assert (await http.get(f"{BASE}/gift", headers=KEY)).status_code == 404
        assert (await http.delete(f"{BASE}/gift", headers=KEY)).status_code == 404


@pytest.mark.parametrize(
    ("path_id", "data", "field"),
    [
        ("discp60", body("discp60", item_ids=["NOPE"]), "item_ids"),
        ("gift", body("gift", location_ids=["L2"]), "location_ids"),
        ("gift", body("gift", benefit={"item_id": "X", "item_count": 1,
                                       "item_value_paise": 0}), "benefit.item_id"),
        ("buy2get1", body("buy2get1", qualifier={}), "qualifier.item_count"),
        ("discp60", body("discp60", valid_to="2026-02-01T00:00:00Z"), "valid_to"),
        ("discp60", body("discp60", benefit={"percent": "60.00", "amount_paise": 100}),
         "benefit.percent"),
        ("discp60", body("discp60", benefit={"percent": "60.001"}), "benefit.percent"),
        ("discp60", body("discp60", type="exchange"), "type"),
        ("discp60", body("discp60", colour="red"), "colour"),
        ("discp60", {**body("discp60"), "id": "other"}, "id"),
        ("bad id", body("discp60"), "id"),
        ("discp60", body("discp60", title="x\x00"), "title"),
        ("discp60", [1, 2], "offer"),
    ],
)
async def test_refusals_name_the_field_and_store_nothing(
    pg_db: Database, tmp_path: Path, path_id: str, data: Any, field: str
) -> None:
    await load_catalogue(pg_db, tmp_path)
    async with client(pg_db) as http:
        refused = await http.put(f"{BASE}/{path_id}", json=data, headers=KEY)
        assert refused.status_code == 422, refused.text
        [problem] = refused.json()["detail"]
        assert problem["field"] == field, problem
        assert problem["reason"]
        assert (await http.get(BASE, headers=KEY)).json()["offers"] == []


async def test_unknown_provider_or_offer_is_404_and_nul_is_400(
    pg_db: Database, tmp_path: Path
) -> None:
    await load_catalogue(pg_db, tmp_path)
    async with client(pg_db) as http:
        for method, url, payload in (
            ("GET", "/admin/providers/P9/offers", None),
            ("PUT", "/admin/providers/P9/offers/discp60", body("discp60")),
            ("GET", f"{BASE}/nope", None),
            ("PATCH", f"{BASE}/nope/status", {"enabled": True}),
            ("DELETE", f"{BASE}/nope", None),
        ):
            answer = await http.request(method, url, json=payload, headers=KEY)
            assert answer.status_code == 404, (method, url, answer.text)
        nul = await http.get(f"{BASE}/disc%00p60", headers=KEY)
        assert nul.status_code == 400 and "path parameter 'offer_id'" in nul.json()["detail"]
        nul = await http.put("/admin/providers/P%001/offers/x", json=body("gift"), headers=KEY)
        assert nul.status_code == 400 and "'provider_id'" in nul.json()["detail"]
        assert (await http.get(BASE)).status_code == 401  # no key


async def test_mounted_on_the_node(pg_db: Database) -> None:
    from ondc_adapter.api.app import admin_routers

    assert router in admin_routers()
