"""on_search payloads (RET10/12/16) against schemas and category rules; search forms through
the handler; paging; incremental pushes after admin changes."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy import select

from ondc_adapter.catalogue.handler import handle_search
from ondc_adapter.catalogue.importer import import_file
from ondc_adapter.catalogue.tables import Subscription
from ondc_adapter.catalogue.validator import validate_on_search
from ondc_adapter.exchange import SellerDeps, serialise
from ondc_adapter.outbox import OutboxEntry
from ondc_adapter.protocol.catalog import OnSearchIncrementalMessage, OnSearchMessage
from ondc_adapter.protocol.schemas import DEFAULT_DIR
from ondc_adapter.storage import Database

from .helpers import (
    NOW,
    admin_client,
    deps,
    provider,
    records,
    search_request,
    settings,
    write_jsonl,
)

FIXTURES = Path(__file__).parent / "fixtures"
SCHEMA = json.loads((DEFAULT_DIR / "on_search_message.schema.json").read_text())


async def _load(db: Database, tmp_path: Path, *extra: dict[str, Any]) -> None:
    report = await import_file(db, write_jsonl(tmp_path / "c.jsonl", records(*extra)),
                               now=NOW - timedelta(hours=1))
    assert report.ok, report.problems


async def _search(db: Database, intent: dict[str, Any], **kw: Any) -> list[dict[str, Any]]:
    request = search_request(intent, **kw)
    async with db.session() as s:
        out = await handle_search(request, s, deps())
    return [m.payload for m in out]


def _item_ids(payload: dict[str, Any]) -> list[str]:
    return [i["id"] for p in payload["message"]["catalog"]["bpp/providers"] for i in p["items"]]


@pytest.mark.parametrize(("domain", "item"), [("ONDC:RET10", "I10"), ("ONDC:RET12", "I12"),
                                               ("ONDC:RET16", "I16")])
async def test_full_catalogue_is_valid_per_domain(
    pg_db: Database, tmp_path: Path, domain: str, item: str
) -> None:
    await _load(pg_db, tmp_path)
    [payload] = await _search(pg_db, {"fulfillment": {"type": "Delivery"}}, domain=domain)
    assert _item_ids(payload) == [item]
    OnSearchMessage.model_validate(payload["message"])
    jsonschema.validate(payload["message"], SCHEMA)
    assert validate_on_search(payload) == []
    provider_json = payload["message"]["catalog"]["bpp/providers"][0]
    tags = {t["code"] for t in provider_json["tags"]}
    assert {"serviceability", "timing", "odop_seller"} <= tags
    item_json = provider_json["items"][0]
    attr = next(t for t in item_json["tags"] if t["code"] == "attribute")
    assert not any(e["code"] in ("lgd_code", "gi", "district") for e in attr["list"])
    if item != "I10":
        odop = next(t for t in item_json["tags"] if t["code"] == "odop")
        assert {"code": "district", "value": "Varanasi"} in odop["list"]


def test_sabhyasha_logs_ret12_passes_ret16_fails() -> None:
    good = json.loads((FIXTURES / "ret12_sabhyasha_on_search.json").read_text())
    bad = json.loads((FIXTURES / "ret16_sabhyasha_on_search.json").read_text())
    assert validate_on_search(good) == []
    problems = validate_on_search(bad)
    kinds = {p.path.rsplit(".", 1)[-1] for p in problems}
    assert kinds == {"code", "colour_name"} and len(problems) == 108
    for payload in (good, bad):
        OnSearchMessage.model_validate(payload["message"])


def test_validator_catches_broken_payload() -> None:
    payload = json.loads((FIXTURES / "ret12_sabhyasha_on_search.json").read_text())
    item = payload["message"]["catalog"]["bpp/providers"][0]["items"][0]
    item["price"]["value"] = "5000.0"
    item["@ondc/org/contact_details_consumer_care"] = "care desk"
    item["time"]["timestamp"] = "2030-01-01T00:00:00.000Z"
    payload["message"]["catalog"]["bpp/providers"][0]["items"][1]["id"] = item["id"]
    paths = {p.path.split("].", 2)[-1] for p in validate_on_search(payload)}
    assert {"price.value", "@ondc/org/contact_details_consumer_care", "time.timestamp",
            "id"} <= paths


async def test_search_forms(pg_db: Database, tmp_path: Path) -> None:
    hyperlocal = provider("P2", name="Lucknow Chikan Studio", locations=[{
        **provider()["locations"][0], "id": "L2", "city": "Lucknow", "std_code": "0522",
        "gps": "26.846700,80.946200", "area_code": "226001", "serviceability": "10",
        "radius_km": "5"}], variant_groups=[])
    chikan = {**records()[1], "id": "C1", "provider_id": "P2", "parent_item_id": None,
              "location_id": "L2",
              "name": "Chikankari kurta fabric", "category_id": "Dress Materials",
              "odop": {"lgd_code": "162", "product": "Lucknow Chikan Craft & Lucknow Zardozi"}}
    await _load(pg_db, tmp_path, hyperlocal, chikan)
    ids = lambda payloads: sorted(i for p in payloads for i in _item_ids(p))  # noqa: E731
    # by item name (transliteration), by category, by provider id and name
    assert ids(await _search(pg_db, {"item": {"descriptor": {"name": "banarasi saree"}}})) == [
        "I12"]
    assert ids(await _search(pg_db, {"category": {"id": "Dress Materials"}},
                             city="std:0522")) == ["C1"]
    assert ids(await _search(pg_db, {"provider": {"id": "P1"}})) == ["I12"]
    assert ids(await _search(pg_db, {"provider": {"descriptor": {"name": "chikan studio"}}},
                             city="std:0522")) == ["C1"]
    # city: std:0522 sees the hyperlocal Lucknow store and the pan-India one
    assert ids(await _search(pg_db, {}, city="std:0522")) == ["C1", "I12"]
    assert ids(await _search(pg_db, {}, city="std:080")) == ["I12"]
    # fulfillment end location: Lucknow gps is within 5 km of P2; Varanasi is not
    lucknow = {"fulfillment": {"end": {"location": {"gps": "26.850000,80.950000",
                                                    "address": {"area_code": "226001"}}}}}
    varanasi = {"fulfillment": {"end": {"location": {"gps": "25.317645,82.973914",
                                                     "address": {"area_code": "221001"}}}}}
    assert ids(await _search(pg_db, lucknow, city="*")) == ["C1", "I12"]
    assert ids(await _search(pg_db, varanasi, city="*")) == ["I12"]
    # ODOP tag group
    odop = {"tags": [{"code": "odop", "list": [{"code": "lgd_code", "value": "162"}]}]}
    assert ids(await _search(pg_db, odop, city="*")) == ["C1"]
    # nothing matches: one on_search with no providers
    [empty] = await _search(pg_db, {"item": {"descriptor": {"name": "xylophone"}}})
    assert empty["message"]["catalog"]["bpp/providers"] == []


def _store(pid: str, item_id: str, **location: Any) -> list[dict[str, Any]]:
    """A provider with one location (no STD code given) and one RET12 item."""
    base = {k: v for k, v in provider()["locations"][0].items() if k != "std_code"}
    # location ids are unique across the catalogue (ONDC): one per store
    seller = provider(pid, name=f"Store {pid}", locations=[{**base, "id": f"L-{pid}", **location}],
                      variant_groups=[])
    item = {**records()[1], "id": item_id, "provider_id": pid, "parent_item_id": None,
            "location_id": f"L-{pid}"}
    return [seller, item]


async def test_city_search_finds_stores_by_pin_as_well_as_std_code(
    pg_db: Database, tmp_path: Path
) -> None:
    # Gadag (Karnataka) delivering to every Karnataka PIN; a Bengaluru shop known only by its
    # PIN; a Jaipur hyperlocal shop. The pan-India Varanasi store (I12) serves every city.
    intercity = _store("P3", "G1", city="Gadag", area_code="582101", gps="15.431600,75.632000",
                       serviceability="11", pincodes=["560000-599999"])
    in_city = _store("P4", "B1", city="Bengaluru", area_code="560034",
                     gps="12.935200,77.624500", serviceability="10", radius_km="5")
    jaipur = _store("P5", "J1", city="Jaipur", area_code="302001", gps="26.912400,75.787300",
                    serviceability="10", radius_km="5")
    await _load(pg_db, tmp_path, *intercity, *in_city, *jaipur)
    ids = lambda payloads: sorted(i for p in payloads for i in _item_ids(p))  # noqa: E731
    assert ids(await _search(pg_db, {}, city="std:080")) == ["B1", "G1", "I12"]
    assert ids(await _search(pg_db, {}, city="std:0141")) == ["I12", "J1"]
    assert ids(await _search(pg_db, {}, city="std:011")) == ["I12"]
    # a city the table does not know is served by pan-India stores (and stated STD codes)
    assert ids(await _search(pg_db, {}, city="std:08372")) == ["I12"]
    # the buyer's address is the finer fact: a Bengaluru PIN reaches the Gadag store
    koramangala = {"fulfillment": {"end": {"location": {"gps": "12.935200,77.624500",
                                                        "address": {"area_code": "560034"}}}}}
    assert ids(await _search(pg_db, koramangala, city="std:080")) == ["B1", "G1", "I12"]


async def _load_stores_in_two_cities(db: Database, tmp_path: Path) -> None:
    """The sample's Varanasi store P1, a chain P6 with stores in Mysuru and Bengaluru, and a
    Bengaluru store P0, all shipping across India."""
    base = {k: v for k, v in provider()["locations"][0].items() if k != "std_code"}
    mysuru = {**base, "id": "L-P6-1", "city": "Mysuru", "area_code": "570001"}
    bengaluru = {**base, "id": "L-P6-2", "city": "Bengaluru", "area_code": "560001"}
    chain = provider("P6", name="Store P6", locations=[mysuru, bengaluru], variant_groups=[])
    chain_item = {**records()[1], "id": "C6", "provider_id": "P6", "parent_item_id": None,
                  "location_id": "L-P6-2"}
    await _load(db, tmp_path, chain, chain_item,
                *_store("P0", "B0", city="Bengaluru", area_code="560034"))


async def test_a_city_search_lists_the_stores_in_the_city_first(
    pg_db: Database, tmp_path: Path
) -> None:
    """Every store here ships across India, so every search sees all of them; those *in* the
    searched city come first, each with its store there first (ONDC's validator reads each
    provider's first store: it must be in context.city). The order is the same for every
    search form, and a kept answer of one city is never replayed for another."""
    from ondc_adapter.catalogue.handler import INDEX_KEY, REPLY_CACHE_KEY
    from ondc_adapter.catalogue.reply_cache import ReplyCache
    from ondc_adapter.catalogue.search import SearchIndex

    await _load_stores_in_two_cities(pg_db, tmp_path)
    extras = {INDEX_KEY: SearchIndex(), REPLY_CACHE_KEY: ReplyCache(seconds=60)}

    async def answer(intent: dict[str, Any], city: str) -> list[tuple[str, str]]:
        request = search_request(intent, city=city)
        async with pg_db.session() as s:
            out = await handle_search(request, s, deps(**extras))
        return [(p["id"], p["locations"][0]["address"]["area_code"])
                for m in out for p in m.payload["message"]["catalog"]["bpp/providers"]]

    sarees = {"category": {"id": "Sarees"}}  # a filtered search: the id-list path, kept
    for intent in ({}, sarees, sarees):
        assert await answer(intent, "std:080") == [
            ("P0", "560034"), ("P6", "560001"), ("P1", "221001")]
        assert await answer(intent, "std:0821") == [
            ("P6", "570001"), ("P0", "560034"), ("P1", "221001")]
        assert await answer(intent, "std:0542") == [
            ("P1", "221001"), ("P0", "560034"), ("P6", "570001")]
        # no city: the index's order, each provider's stores by id
        assert await answer(intent, "*") == [
            ("P0", "560034"), ("P1", "221001"), ("P6", "570001")]
    assert extras[REPLY_CACHE_KEY].hits > 0


async def test_a_located_node_answers_a_city_with_its_stores_there_only(
    pg_db: Database, tmp_path: Path
) -> None:
    """``ONDC_SEARCH_STORES=located``: only the stores in the searched city answer (ONDC's
    validator wants every provider's first store in context.city); a store with a branch in
    the city answers with that branch first. The default answers every serving store."""
    from ondc_adapter.catalogue.handler import INDEX_KEY
    from ondc_adapter.catalogue.search import SearchIndex

    await _load_stores_in_two_cities(pg_db, tmp_path)

    async def answer(intent: dict[str, Any], city: str, stores: str) -> list[tuple[str, str]]:
        request = search_request(intent, city=city)
        located = SellerDeps(settings=settings().model_copy(update={"search_stores": stores}),
                             now=lambda: NOW, extras={INDEX_KEY: SearchIndex()})
        async with pg_db.session() as s:
            out = await handle_search(request, s, located)
        return [(p["id"], p["locations"][0]["address"]["area_code"])
                for m in out for p in m.payload["message"]["catalog"]["bpp/providers"]]

    for intent in ({}, {"category": {"id": "Sarees"}}):
        assert await answer(intent, "std:080", "located") == [
            ("P0", "560034"), ("P6", "560001")]
        assert await answer(intent, "std:0542", "located") == [("P1", "221001")]
        assert await answer(intent, "std:0542", "serving") == [
            ("P1", "221001"), ("P0", "560034"), ("P6", "570001")]


async def test_name_search_reads_devanagari_and_never_widens(
    pg_db: Database, tmp_path: Path
) -> None:
    await _load(pg_db, tmp_path)
    ids = lambda payloads: sorted(i for p in payloads for i in _item_ids(p))  # noqa: E731

    def named(name: str) -> dict[str, Any]:
        return {"item": {"descriptor": {"name": name}}}

    assert ids(await _search(pg_db, named("बनारसी साड़ी"))) == ["I12"]
    assert ids(await _search(pg_db, named("वाराणसी"))) == ["I12"]
    # only stop words, or a script that is not romanised: nothing, not the whole catalogue
    assert ids(await _search(pg_db, named("best"))) == []
    assert ids(await _search(pg_db, named("காஞ்சிபுரம்"))) == []


async def test_incremental_window_and_subscription(pg_db: Database, tmp_path: Path) -> None:
    await _load(pg_db, tmp_path)
    window = {"tags": [{"code": "catalog_inc", "list": [
        {"code": "start_time", "value": "2026-03-01T08:30:00.000Z"},
        {"code": "end_time", "value": "2026-03-01T09:30:00.000Z"}]}]}
    [payload] = await _search(pg_db, window, city="*")
    assert _item_ids(payload) == ["I12"]
    OnSearchIncrementalMessage.model_validate(payload["message"])
    stale = {"tags": [{"code": "catalog_inc", "list": [
        {"code": "start_time", "value": "2026-03-01T06:00:00.000Z"},
        {"code": "end_time", "value": "2026-03-01T07:00:00.000Z"}]}]}
    assert _item_ids((await _search(pg_db, stale, city="*"))[0]) == []
    start = {"tags": [{"code": "catalog_inc", "list": [{"code": "mode", "value": "start"}]}]}
    assert await _search(pg_db, start, city="*", transaction_id="sub-1") == []
    async with pg_db.session() as s:
        subs = (await s.scalars(select(Subscription))).all()
    assert [(x.bap_id, x.active, x.transaction_id) for x in subs] == [
        ("buyer.example.com", True, "sub-1")]
    stop = {"tags": [{"code": "catalog_inc", "list": [{"code": "mode", "value": "stop"}]}]}
    await _search(pg_db, stop, city="*", message_id="m-2")
    async with pg_db.session() as s:
        assert [x.active for x in (await s.scalars(select(Subscription))).all()] == [False]


async def test_large_catalogue_is_paged_under_the_limit(pg_db: Database, tmp_path: Path) -> None:
    extra = [{**records()[2], "id": f"X{n:03d}", "name": f"Lacquer toy {n}"} for n in range(60)]
    await _load(pg_db, tmp_path, *extra)
    request = search_request({}, domain="ONDC:RET16")
    small = SellerDeps(settings=settings(on_search_max_bytes=20_000), now=lambda: NOW,
                       extras={"on_search_inline_pages": 100})
    async with pg_db.session() as s:
        out = await handle_search(request, s, small)
    assert len(out) > 1
    seen = []
    for message in out:
        body = serialise(message.payload)
        assert len(body) <= 20_000
        assert validate_on_search(message.payload) == []
        jsonschema.validate(message.payload["message"], SCHEMA)
        seen += _item_ids(message.payload)
    assert sorted(seen) == sorted(["I16", *(f"X{n:03d}" for n in range(60))])
    assert len({m.message_id for m in out}) == 1  # every page answers the same search

    # past the inline limit the pages go straight to the outbox, serialised once
    streaming = SellerDeps(settings=small.settings, now=lambda: NOW,
                           extras={"on_search_inline_pages": 1})
    async with pg_db.session() as s:
        assert await handle_search(request, s, streaming) == []
    async with pg_db.session() as s:
        entries = (await s.scalars(select(OutboxEntry).order_by(OutboxEntry.id))).all()
    assert len(entries) == len(out)
    for entry, message in zip(entries, out, strict=True):
        payload = json.loads(entry.body)
        assert entry.body == serialise(payload)  # byte-identical to the outbox's own format
        assert payload == message.payload and len(entry.body) <= 20_000
        assert entry.action == "on_search" and entry.solicited


async def test_admin_price_change_pushes_only_that_item(pg_db: Database, tmp_path: Path) -> None:
    await _load(pg_db, tmp_path)
    start = {"tags": [{"code": "catalog_inc", "list": [{"code": "mode", "value": "start"}]}]}
    await _search(pg_db, start, city="*", transaction_id="sub-1")
    headers = {"X-API-Key": "secret-key"}
    async with admin_client(pg_db) as client:
        no_key = await client.patch("/admin/items/I12/price", json={"price": "8000"})
        assert no_key.status_code == 401
        bad = await client.patch("/admin/items/I12/price", json={"price": "9999"}, headers=headers)
        assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "price"
        ok = await client.patch("/admin/items/I12/price", json={"price": "8000.00"},
                                headers=headers)
        assert ok.status_code == 200 and ok.json()["pushed"] == 1
        assert (await client.patch("/admin/items/nope/stock", json={"stock": 1},
                                   headers=headers)).status_code == 404
        assert (await client.patch("/admin/items/I12/stock", json={"stock": -1},
                                   headers=headers)).status_code == 422
        created = await client.post("/admin/items", headers=headers, json={
            **{k: v for k, v in records()[1].items() if k != "type"}, "id": "I13"})
        assert created.status_code == 201, created.text
        disabled = await client.patch("/admin/providers/P1/status", json={"enabled": False},
                                      headers=headers)
        assert disabled.status_code == 200 and disabled.json()["enabled"] is False
        assert "/admin/items/{item_id}/price" in (await client.get("/openapi.json")).json()["paths"]
    async with pg_db.session() as s:
        entries = (await s.scalars(select(OutboxEntry).order_by(OutboxEntry.id))).all()
    first = json.loads(entries[0].body)
    assert first["context"]["action"] == "on_search" and first["context"]["city"] == "*"
    assert first["context"]["transaction_id"] == "sub-1"
    assert first["context"]["message_id"] != "m-1" and not entries[0].solicited
    [prov] = first["message"]["catalog"]["bpp/providers"]
    assert [i["id"] for i in prov["items"]] == ["I12"]
    assert prov["items"][0]["price"]["value"] == "8000.00"
    # only the item and the variant group it points to
    assert set(prov) == {"id", "items", "categories"}
    assert [c["id"] for c in prov["categories"]] == ["VG1"]
    OnSearchIncrementalMessage.model_validate(first["message"])
    assert validate_on_search(first) == []
    second = json.loads(entries[1].body)
    assert _item_ids(second) == ["I13"]
    last = json.loads(entries[-1].body)
    assert last["message"]["catalog"]["bpp/providers"][0]["time"]["label"] == "disable"


async def test_fast_item_text_equals_item_json(pg_db: Database, tmp_path: Path) -> None:
    """The spliced text (cached static part, or rebuilt from the columns when the cache is
    empty) is exactly the JSON of the readable reference ``item_json``."""
    from sqlalchemy import update

    from ondc_adapter.catalogue import write
    from ondc_adapter.catalogue.item_text import ITEM_COLUMNS, item_json, item_text
    from ondc_adapter.catalogue.json_text import Timestamps as _Timestamps
    from ondc_adapter.catalogue.models import parse_item
    from ondc_adapter.catalogue.tables import Item

    await _load(pg_db, tmp_path)
    odd = next(r for r in records() if r["type"] == "item" and r["id"] == "I16")
    odd = {k: v for k, v in odd.items() if k != "type"}
    odd.update(id="I99", name='Tea "first flush" \\ चाय\n', attributes={
        **odd["attributes"], "brand": "Wéavers\t</script>"})
    parsed, odop, problems = parse_item(odd)
    assert parsed is not None, problems
    async with pg_db.session() as s:
        await write.save_items(s, [(parsed, odop)], NOW)
        await s.execute(update(Item).where(Item.id == "I10").values(enabled=False))
    ts = _Timestamps()

    async def texts() -> dict[str, str]:
        async with pg_db.session() as s:
            rows = (await s.execute(select(*ITEM_COLUMNS))).all()
            items = {i.id: i for i in (await s.scalars(select(Item))).all()}
        out = {}
        for row in rows:
            text = item_text(row, ts)
            reference = item_json(items[row.id], ts)
            assert json.loads(text) == reference
            assert text == json.dumps(reference, ensure_ascii=False, separators=(",", ":"))
            out[row.id] = text
        return out

    cached = await texts()
    assert len(cached) == 4 and "चाय" in cached["I99"]
    async with pg_db.session() as s:
        assert None not in (await s.scalars(select(Item.static_json))).all()
        await s.execute(update(Item).values(static_json=None))
    assert await texts() == cached  # rebuilt from the columns: the same bytes


async def test_static_json_cache_follows_writes(pg_db: Database, tmp_path: Path) -> None:
    """Narrow changes keep the cache; an ORM change of a static column clears it; either way
    on_search shows the current values."""
    from ondc_adapter.catalogue import on_search, write
    from ondc_adapter.catalogue.tables import Item

    await _load(pg_db, tmp_path)
    async with pg_db.session() as s:
        await write.change_item(s, "I12", NOW, stock=3, price=Decimal("7000"))
    async with pg_db.session() as s:
        cached = await s.scalar(select(Item.static_json).where(Item.id == "I12"))
        assert cached is not None
        item = await s.get(Item, "I12")
        assert item is not None
        item.name = "Renamed saree"
        item.updated_at = NOW
    async with pg_db.session() as s:
        assert await s.scalar(select(Item.static_json).where(Item.id == "I12")) is None
        pages = await on_search.build_pages(s, profile=on_search.BppProfile(),
                                            max_bytes=2_000_000, now=NOW, item_ids=["I12"])
    [prov] = pages[0].message()["catalog"]["bpp/providers"]
    [entry] = prov["items"]
    assert entry["descriptor"]["name"] == "Renamed saree"
    assert entry["price"]["value"] == "7000.00"
    assert entry["quantity"]["available"]["count"] == "99"  # in stock (3): the number is not shown


async def test_long_id_lists_are_filtered_while_streaming(
    pg_db: Database, tmp_path: Path
) -> None:
    from ondc_adapter.catalogue import on_search

    await _load(pg_db, tmp_path)
    ids = ["I12", "I16", *(f"missing-{n}" for n in range(on_search.MAX_SQL_IDS + 1))]
    async with pg_db.session() as s:
        pages = await on_search.build_pages(s, profile=on_search.BppProfile(),
                                            max_bytes=2_000_000, now=NOW, item_ids=ids)
    found = [i["id"] for p in pages for pr in p.message()["catalog"]["bpp/providers"]
             for i in pr["items"]]
    assert sorted(found) == ["I12", "I16"]
