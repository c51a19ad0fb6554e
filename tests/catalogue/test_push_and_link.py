"""Incremental pushes from every seller change (catalogue import, stock taken by a confirmed
order) and the "catalog as link" search form with the file the node serves."""

from __future__ import annotations

import asyncio
import io
import json
import sys
import zipfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from typer.testing import CliRunner

from ondc_adapter.api.app import create_app
from ondc_adapter.catalogue import link, on_search, write
from ondc_adapter.catalogue.handler import handle_search, push_incremental_count
from ondc_adapter.catalogue.importer import import_file
from ondc_adapter.catalogue.validator import validate_on_search
from ondc_adapter.cli import app as cli_app
from ondc_adapter.outbox import OutboxEntry
from ondc_adapter.protocol.catalog import OnSearchIncrementalMessage, OnSearchMessage
from ondc_adapter.protocol.durations import format_timestamp
from ondc_adapter.protocol.schemas import DEFAULT_DIR
from ondc_adapter.storage import Database

from .helpers import (
    NOW,
    deps,
    provider,
    records,
    ret12_item,
    search_request,
    settings,
    write_jsonl,
)

SCHEMA = json.loads((DEFAULT_DIR / "on_search_message.schema.json").read_text())
START = {"tags": [{"code": "catalog_inc", "list": [{"code": "mode", "value": "start"}]}]}
LINK = {"tags": [{"code": "catalog_full", "list": [{"code": "payload_type", "value": "link"}]}]}


def _catalogue(*extra: dict[str, Any], price: str = "8500.00") -> list[dict[str, Any]]:
    """P1 with I12 (price given) and a second RET12 item, plus I16 (RET16), I10 (RET10)."""
    recs = records(ret12_item("I12B", name="Banarasi georgette saree"), *extra)
    recs[1] = {**recs[1], "price": price}
    return recs


async def _subscribe(db: Database, domain: str = "ONDC:RET12", tid: str = "sub-1") -> None:
    request = search_request(START, domain=domain, city="*", transaction_id=tid)
    async with db.session() as s:
        assert await handle_search(request, s, deps()) == []


async def _outbox(db: Database) -> list[dict[str, Any]]:
    async with db.session() as s:
        entries = (await s.scalars(select(OutboxEntry).order_by(OutboxEntry.id))).all()
    for entry in entries:
        assert not entry.solicited and entry.action == "on_search"
    return [json.loads(e.body) for e in entries]


def _items(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        i["id"]: i for p in payload["message"]["catalog"]["bpp/providers"] for i in p["items"]
    }


# ---------------------------------------------------------------- import


async def test_import_pushes_exactly_what_changed(pg_db: Database, tmp_path: Path) -> None:
    node = settings()
    first = await import_file(pg_db, write_jsonl(tmp_path / "a.jsonl", _catalogue()),
                              now=NOW - timedelta(hours=2), settings=node)
    assert first.ok and first.pushed == 0  # nobody subscribed: nothing compared or pushed
    await _subscribe(pg_db)

    # the same file again: nothing changed, nothing pushed
    same = await import_file(pg_db, write_jsonl(tmp_path / "b.jsonl", _catalogue()),
                             now=NOW - timedelta(hours=1), settings=node)
    assert same.ok and (same.pushed, same.changed_items, same.changed_providers) == (0, 0, 0)
    assert await _outbox(pg_db) == []

    # one new price: exactly one incremental on_search, with that item only
    changed = await import_file(pg_db, write_jsonl(tmp_path / "c.jsonl",
                                                   _catalogue(price="7999.00")),
                                now=NOW, settings=node)
    assert changed.ok and (changed.pushed, changed.changed_items) == (1, 1)
    [push] = await _outbox(pg_db)
    ctx = push["context"]
    assert (ctx["action"], ctx["city"], ctx["transaction_id"]) == ("on_search", "*", "sub-1")
    assert ctx["bpp_id"] == node.subscriber_id and ctx["domain"] == "ONDC:RET12"
    [prov] = push["message"]["catalog"]["bpp/providers"]
    assert set(prov) == {"id", "items", "categories"}  # the provider itself did not change
    assert list(_items(push)) == ["I12"]
    assert _items(push)["I12"]["price"]["value"] == "7999.00"
    OnSearchIncrementalMessage.model_validate(push["message"])
    assert validate_on_search(push) == []

    # a change in a domain nobody subscribed to (RET16) pushes nothing
    recs = _catalogue(price="7999.00")
    recs[2] = {**recs[2], "price": "420.00"}
    other = await import_file(pg_db, write_jsonl(tmp_path / "d.jsonl", recs), now=NOW,
                              settings=node)
    assert other.ok and other.changed_items == 1 and other.pushed == 0

    # all or nothing: a bad row rolls back the import and its pushes
    bad = _catalogue(price="7000.00")
    bad.append({**ret12_item("BAD"), "price": "-1"})
    report = await import_file(pg_db, write_jsonl(tmp_path / "e.jsonl", bad), now=NOW,
                               settings=node)
    assert not report.ok
    assert len(await _outbox(pg_db)) == 1

    # a provider change (its store's hours) goes out with the provider's full header
    recs[0] = provider(locations=[{**provider()["locations"][0], "close_time": "2100"}])
    moved = await import_file(pg_db, write_jsonl(tmp_path / "f.jsonl", recs), now=NOW,
                              settings=node)
    assert moved.ok and (moved.changed_providers, moved.changed_items, moved.pushed) == (1, 0, 1)
    last = (await _outbox(pg_db))[-1]
    [prov] = last["message"]["catalog"]["bpp/providers"]
    assert prov["id"] == "P1" and prov["locations"][0]["time"]["range"]["end"] == "2100"
    assert "items" not in prov
    OnSearchIncrementalMessage.model_validate(last["message"])


def test_cli_import_queues_pushes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``ondc-adapter catalogue import`` on SQLite: the node's settings come from the
    environment; a price change reaches the subscriber."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"
    monkeypatch.setenv("ONDC_DATABASE_URL", url)
    monkeypatch.setenv("ONDC_SUBSCRIBER_ID", "seller.example.in")
    monkeypatch.setenv("ONDC_BPP_URI", "https://seller.example.in/ondc")
    runner = CliRunner()
    path = write_jsonl(tmp_path / "c.jsonl", _catalogue())
    result = runner.invoke(cli_app, ["catalogue", "import", str(path)])
    assert result.exit_code == 0, result.output

    async def subscribe() -> None:
        db = Database(url)
        try:
            await _subscribe(db)
        finally:
            await db.dispose()

    async def pushes() -> list[dict[str, Any]]:
        db = Database(url)
        try:
            return await _outbox(db)
        finally:
            await db.dispose()

    asyncio.run(subscribe())
    write_jsonl(path, _catalogue(price="8100.00"))
    result = runner.invoke(cli_app, ["catalogue", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "queued 1 incremental on_search" in result.output
    [push] = asyncio.run(pushes())
    assert push["context"]["bpp_uri"] == "https://seller.example.in/ondc"
    assert {k: v["price"]["value"] for k, v in _items(push).items()} == {"I12": "8100.00"}


async def test_big_change_sets_stream_past_the_sql_id_limit(
    pg_db: Database, tmp_path: Path
) -> None:
    await import_file(pg_db, write_jsonl(tmp_path / "a.jsonl", _catalogue()), now=NOW)
    await _subscribe(pg_db)
    ids = ["I12", "I16", *(f"missing-{n}" for n in range(on_search.MAX_SQL_IDS + 1))]
    async with pg_db.session() as s:
        pages = await on_search.build_pages(
            s, profile=on_search.BppProfile(), max_bytes=2_000_000, now=NOW,
            domain="ONDC:RET12", incremental=True, item_ids=ids,
        )
        assert [list(_items({"message": p.message()})) for p in pages] == [["I12"]]
        sent = await push_incremental_count(s, settings=settings(), now=NOW, item_ids=ids,
                                            provider_ids=["P1", "nope"])
    assert sent == 1
    [push] = await _outbox(pg_db)
    [prov] = push["message"]["catalog"]["bpp/providers"]
    assert prov["descriptor"]["name"] == "Varanasi Weavers P1" and list(_items(push)) == ["I12"]
    OnSearchIncrementalMessage.model_validate(push["message"])


# ---------------------------------------------------------------- orders


def _flowkit() -> Any:
    orders = str(Path(__file__).resolve().parents[1] / "orders")
    if orders not in sys.path:
        sys.path.insert(0, orders)
    import order_flowkit

    return order_flowkit


async def test_confirmed_order_pushes_the_new_stock(pg_db: Database) -> None:
    kit = _flowkit()
    await kit.seed(pg_db, items={"I1": {"price": "600.00", "stock": 20},
                                 "I2": {"price": "349.50", "stock": 20}})
    await _subscribe(pg_db, domain="ONDC:RET16")
    buyer = kit.Buyer(pg_db, kit.Clock())
    assert (await buyer.select([("I1", 2)])).error is None
    assert (await buyer.init()).error is None
    async with pg_db.session() as s:  # select and init take no stock: nothing pushed yet
        assert (await s.scalars(select(OutboxEntry).where(~OutboxEntry.solicited))).all() == []
    confirm = await buyer.confirm()
    assert confirm.error is None and confirm.order["state"] == "Accepted"
    assert await kit.stock_of(pg_db, "I1") == 18
    async with pg_db.session() as s:
        entries = (await s.scalars(select(OutboxEntry).where(~OutboxEntry.solicited))).all()
    [push] = [json.loads(e.body) for e in entries]
    assert push["context"]["action"] == "on_search" and push["context"]["city"] == "*"
    [item] = _items(push).values()
    assert item["id"] == "I1"
    assert item["quantity"]["available"]["count"] == "99"  # 18 left: in stock, not disclosed
    assert item["quantity"]["maximum"]["count"] == "10"
    OnSearchIncrementalMessage.model_validate(push["message"])
    # the seller cancels (merchant rejected): the units go back, subscribers see 20 again
    await kit.Seller(pg_db, buyer.clock).cancel(confirm.order["id"], "005")
    assert await kit.stock_of(pg_db, "I1") == 20
    async with pg_db.session() as s:
        entries = (await s.scalars(
            select(OutboxEntry).where(~OutboxEntry.solicited, OutboxEntry.action == "on_search")
            .order_by(OutboxEntry.id)
        )).all()
    assert len(entries) == 2
    [item] = _items(json.loads(entries[-1].body)).values()
    assert item["quantity"]["available"]["count"] == "99"


# ---------------------------------------------------------------- catalog as link


def _link_app(db: Database, tmp_path: Path) -> FastAPI:
    app = FastAPI()
    app.state.db = db
    app.state.settings = settings()
    app.state.catalogue_link_dir = tmp_path / "links"
    app.state.clock = lambda: NOW
    app.include_router(link.router, prefix="/ondc")
    return app


def _tag(prov: dict[str, Any], code: str) -> dict[str, str]:
    [tag] = [t for t in prov["tags"] if t["code"] == code]
    return {e["code"]: e["value"] for e in tag["list"]}


async def test_catalog_link_search_and_file(pg_db: Database, tmp_path: Path) -> None:
    lucknow = provider("P2", name="Lucknow Chikan Studio", locations=[{
        **provider()["locations"][0], "id": "L2", "city": "Lucknow", "std_code": "0522",
        "gps": "26.846700,80.946200", "area_code": "226001", "serviceability": "10",
        "radius_km": "5"}], variant_groups=[])
    chikan = {**ret12_item("C1"), "provider_id": "P2", "parent_item_id": None, "location_id": "L2",
              "name": "Chikankari kurta fabric", "category_id": "Dress Materials"}
    extra = [ret12_item(f"S{n:02d}", name=f"Silk saree {n}") for n in range(25)]
    report = await import_file(
        pg_db, write_jsonl(tmp_path / "c.jsonl", _catalogue(lucknow, chikan, *extra)),
        now=NOW - timedelta(hours=1),
    )
    assert report.ok, report.problems

    async def link_search(**kw: Any) -> dict[str, Any]:
        async with pg_db.session() as s:
            [reply] = await handle_search(search_request(LINK, **kw), s, deps())
        return reply.payload

    payload = await link_search()  # std:0542 (Varanasi): the hyperlocal Lucknow store is out
    message = payload["message"]
    OnSearchMessage.model_validate(message)
    jsonschema.validate(message, SCHEMA)
    assert validate_on_search(payload) == []
    [prov] = message["catalog"]["bpp/providers"]
    assert prov["id"] == "P1" and "items" not in prov and "categories" not in prov
    assert {"serviceability", "timing", "odop_seller"} <= {t["code"] for t in prov["tags"]}
    served = {e["value"] for t in prov["tags"] if t["code"] == "serviceability"
              for e in t["list"] if e["code"] == "category"}
    assert served == {"Sarees"}
    tag = _tag(prov, "catalog_link")
    assert tag["type"] == "link" and tag["type_validity"] == "PT24H"
    assert tag["last_update"] == format_timestamp(NOW - timedelta(hours=1))
    url = tag["type_value"]
    prefix = "https://seller.example.in/ondc/catalogue/RET12/"
    assert url.startswith(prefix) and url.endswith(".zip")
    # stable while the catalogue is: another search (other city) names the same file
    lucknow_reply = await link_search(city="std:0522", message_id="m-2")
    providers = lucknow_reply["message"]["catalog"]["bpp/providers"]
    assert [p["id"] for p in providers] == ["P1", "P2"]
    assert {_tag(p, "catalog_link")["type_value"] for p in providers} == {url}

    # the file: every live item of the domain, as the inline full catalogue gives them
    app = _link_app(pg_db, tmp_path)
    path = url.removeprefix("https://seller.example.in")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as client:
        got = await client.get(path)
        assert got.status_code == 200, got.text
        assert got.headers["content-type"] == "application/zip"
        assert "immutable" in got.headers["cache-control"]
        with zipfile.ZipFile(io.BytesIO(got.content)) as archive:
            assert archive.namelist() == ["catalog.json"]
            linked = json.loads(archive.read("catalog.json"))
        again = await client.get(path)
        assert again.content == got.content
        plain = await client.get(path.replace(".zip", ".json"))
        assert plain.status_code == 200 and plain.json() == linked

        OnSearchMessage.model_validate(linked)
        jsonschema.validate(linked, SCHEMA)
        wrapped = {"context": {"domain": "ONDC:RET12", "timestamp": format_timestamp(NOW)},
                   "message": linked}
        assert validate_on_search(wrapped) == []
        async with pg_db.session() as s:
            pages = await on_search.build_pages(
                s, profile=on_search.BppProfile(), max_bytes=20_000, now=NOW,
                domain="ONDC:RET12",
            )
        assert len(pages) > 1  # the inline form needs several pages; the file is one document
        inline: dict[str, dict[str, Any]] = {}
        inline_items: dict[str, dict[str, Any]] = {}
        for page in pages:
            for p in page.message()["catalog"]["bpp/providers"]:
                inline.setdefault(p["id"], p)
                inline_items.update({i["id"]: i for i in p["items"]})
        file_items = {i["id"]: i for p in linked["catalog"]["bpp/providers"] for i in p["items"]}
        assert sorted(file_items) == sorted(["I12", "I12B", "C1", *(e["id"] for e in extra)])
        assert file_items == inline_items
        for p in linked["catalog"]["bpp/providers"]:
            want = {k: v for k, v in inline[p["id"]].items() if k != "items"}
            assert {k: v for k, v in p.items() if k != "items"} == want

        # a change: a new link; the old file stays as it was (immutable), other old or
        # unknown tokens are sent to the current file
        async with pg_db.session() as s:
            await write.change_item(s, "I12", NOW, price=Decimal("7000"))
        [newer] = (await link_search(message_id="m-3"))["message"]["catalog"]["bpp/providers"]
        new_url = _tag(newer, "catalog_link")["type_value"]
        assert new_url != url and _tag(newer, "catalog_link")["last_update"] == (
            format_timestamp(NOW))
        assert (await client.get(path)).content == got.content
        stale = await client.get(f"/ondc/catalogue/RET12/{'0' * 32}.zip")
        assert stale.status_code == 302 and stale.headers["location"] == new_url
        fresh = await client.get(new_url.removeprefix("https://seller.example.in"))
        with zipfile.ZipFile(io.BytesIO(fresh.content)) as archive:
            fresh_items = {i["id"]: i for p in json.loads(archive.read("catalog.json"))
                           ["catalog"]["bpp/providers"] for i in p["items"]}
        assert fresh_items["I12"]["price"]["value"] == "7000.00"
        for bad in ("/ondc/catalogue/RET12/abc.zip", f"/ondc/catalogue/RET99/{'0' * 32}.zip",
                    f"/ondc/catalogue/RET12/{'0' * 32}.exe"):
            assert (await client.get(bad)).status_code == 404


async def test_app_mounts_the_link_route() -> None:
    app = create_app(settings(path_prefix="/ondc"), run_workers=False)
    assert "/ondc/catalogue/{domain}/{name}" in app.openapi()["paths"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as client:
        answer = await client.get("/ondc/catalogue/RET12/not-a-token.zip")
    assert answer.status_code == 404 and answer.json() == {"detail": "no such catalogue"}


async def test_csv_rows_may_refer_to_a_provider_already_imported(
    pg_db: Database, tmp_path: Path
) -> None:
    """A CSV of items only (no provider_* / location_* values) adds to a provider imported
    before; a store the provider does not have is reported on the item, not as a provider
    with missing fields."""
    assert (await import_file(pg_db, write_jsonl(tmp_path / "a.jsonl", _catalogue()),
                              now=NOW)).ok
    care = "Care Desk,care@weavers.example.in,9876543210"
    header = ("id,provider_id,location_id,parent_item_id,domain,category_id,name,code,"
              "short_desc,long_desc,price,mrp,stock,consumer_care,attr_gender,attr_colour,"
              "attr_colour_name,attr_size,attr_brand,attr_fabric,attr_size_chart\n")
    row = ("{id},P1,{loc},VG1,ONDC:RET12,Sarees,Tanchoi silk saree,4:5007,Tanchoi saree,"
           "Handwoven tanchoi silk saree,6400.00,7000.00,3,\"" + care + "\",female,#1A5276,"
           "blue,Free Size,Varanasi Weavers,silk,https://img.example.in/size-chart\n")
    good = tmp_path / "more.csv"
    good.write_text(header + row.format(id="I20", loc="L1") + row.format(id="I21", loc="L1"))
    report = await import_file(pg_db, good, now=NOW)
    assert report.ok and (report.providers, report.items) == (0, 2), report.problems
    bad = tmp_path / "bad.csv"
    bad.write_text(header + row.format(id="I22", loc="L9"))
    report = await import_file(pg_db, bad, now=NOW)
    assert [str(p) for p in report.problems] == [
        "row 2 (item I22): location_id: provider has no location 'L9'"]
