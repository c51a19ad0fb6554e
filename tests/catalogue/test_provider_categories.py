"""Every provider of a full catalogue carries ``categories`` (ONDC's log validator:
``prvdr<i>categories``): its variant groups when its items use some, otherwise one
``custom_menu`` per ONDC category it sells, which no item points at."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from ondc_adapter.catalogue.handler import handle_search
from ondc_adapter.catalogue.importer import import_file
from ondc_adapter.catalogue.page_builder import menu_categories
from ondc_adapter.catalogue.validator import validate_on_search
from ondc_adapter.lvu import validate_bundle
from ondc_adapter.storage import Database

from .helpers import NOW, deps, records, search_request, write_jsonl


async def _catalogue(db: Database, tmp_path: Path, domain: str) -> dict[str, Any]:
    report = await import_file(db, write_jsonl(tmp_path / "c.jsonl", records()),
                               now=NOW - timedelta(hours=1))
    assert report.ok, report.problems
    async with db.session() as s:
        [answer] = await handle_search(
            search_request({"fulfillment": {"type": "Delivery"}}, domain=domain), s, deps())
    return answer.payload


def _bundle(domain: str, payload: dict[str, Any]) -> dict[str, Any]:
    search = {**{k: v for k, v in payload["context"].items() if not k.startswith("bpp")},
              "action": "search"}
    return {"domain": domain, "version": "1.2.0", "flow": "8", "bap_id": "buyer.example.com",
            "bpp_id": "seller.example.com", "payload": {
                "search_full_catalog_refresh": {"context": search, "message": {}},
                "on_search_full_catalog_refresh": payload}}


async def test_a_store_without_variant_groups_gets_menus(
    pg_db: Database, tmp_path: Path
) -> None:
    payload = await _catalogue(pg_db, tmp_path, "ONDC:RET10")
    [provider] = payload["message"]["catalog"]["bpp/providers"]
    assert not any(i.get("parent_item_id") for i in provider["items"])
    [menu] = provider["categories"]
    assert menu["id"] == "M1" and menu["descriptor"]["name"] == provider["items"][0]["category_id"]
    assert {"code": "type", "list": [{"code": "type", "value": "custom_menu"}]} in menu["tags"]
    assert not any("category_ids" in i for i in provider["items"])  # nothing points at it
    assert validate_on_search(payload) == []
    assert [f for f in validate_bundle(_bundle("ONDC:RET10", payload))
            if f.rule == "on_search.categories"] == []


async def test_a_store_with_variant_groups_lists_only_those(
    pg_db: Database, tmp_path: Path
) -> None:
    payload = await _catalogue(pg_db, tmp_path, "ONDC:RET12")
    [provider] = payload["message"]["catalog"]["bpp/providers"]
    assert [c["id"] for c in provider["categories"]] == ["VG1"]


def test_menus_follow_the_serviceability_categories() -> None:
    def serves(category: str) -> dict[str, Any]:
        return {"code": "serviceability", "list": [{"code": "category", "value": category}]}

    header = {"id": "P1", "descriptor": {"name": "Store"}, "tags": [
        serves("Tea and Coffee"), serves("Rice and Rice Products"), serves("Tea and Coffee")]}
    menus = menu_categories(header)
    assert [(m["id"], m["descriptor"]["name"]) for m in menus] == [
        ("M1", "Tea and Coffee"), ("M2", "Rice and Rice Products")]
    assert [m["tags"][1]["list"][0]["value"] for m in menus] == ["1", "2"]
    assert [m["descriptor"]["name"] for m in menu_categories({"id": "P1", "descriptor": {
        "name": "Store"}, "tags": []})] == ["Store"]
