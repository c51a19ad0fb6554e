"""Offers in the catalogue import: a provider record's ``offers`` list (JSON Lines and JSON),
checked once the whole file is read (offers name items that come after their provider);
a bad offer names its row, provider, offer and field, and nothing of the file is written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from ondc_adapter.catalogue import offer_store
from ondc_adapter.catalogue.importer import import_file
from ondc_adapter.catalogue.offer_tables import OfferRow
from ondc_adapter.catalogue.tables import Item
from ondc_adapter.storage import Database

from .helpers import NOW, provider, records, ret12_item, write_jsonl
from .offer_kit import OFFERS, offer


def with_offers(*offers: Any) -> list[dict[str, Any]]:
    recs = records()
    recs[0] = {**recs[0], "offers": list(offers)}
    return recs


async def count(db: Database, table: Any) -> int:
    async with db.session() as s:
        return int(await s.scalar(select(func.count()).select_from(table)) or 0)


async def test_offers_of_every_type_import(each_db: Database, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", with_offers(*(offer(o) for o in OFFERS)))
    report = await import_file(each_db, path, now=NOW)
    assert report.ok, report.problems
    assert report.offers == len(OFFERS)
    async with each_db.session() as s:
        stored = await offer_store.list_offers(s, "P1")
    assert [x.offer.id for x in stored] == list(OFFERS)
    # a second import replaces by id and keeps what the file does not name
    again = write_jsonl(tmp_path / "d.jsonl",
                        [{**provider(), "offers": [offer("gift", title="Holi gift")]}])
    report = await import_file(each_db, again, now=NOW)
    assert report.ok and report.offers == 1, report.problems
    async with each_db.session() as s:
        stored = await offer_store.list_offers(s, "P1")
    assert len(stored) == len(OFFERS)
    assert [x.offer.title for x in stored if x.offer.id == "gift"] == ["Holi gift"]


async def test_json_document_with_offers(pg_db: Database, tmp_path: Path) -> None:
    recs = with_offers(offer("combo1"))
    path = tmp_path / "c.json"
    path.write_text(json.dumps({
        "providers": [{k: v for k, v in recs[0].items() if k != "type"}],
        "items": [{k: v for k, v in r.items() if k != "type"} for r in recs[1:]],
    }))
    report = await import_file(pg_db, path, now=NOW)
    assert report.ok and report.offers == 1, report.problems


async def test_a_bad_offer_names_provider_offer_and_field_and_nothing_is_written(
    pg_db: Database, tmp_path: Path
) -> None:
    recs = with_offers(offer("discp60"), offer("gift", benefit={"item_id": "NOPE",
                                                                "item_count": 1,
                                                                "item_value_paise": 0}),
                       offer("slab1", benefit={"percent": "10.00"}))
    report = await import_file(pg_db, write_jsonl(tmp_path / "c.jsonl", recs), now=NOW)
    assert not report.ok
    shown = [str(p) for p in report.problems]
    assert shown == [
        "row 1 (provider P1 offer gift): offers.1.benefit.item_id: the store has no item 'NOPE'",
        "row 1 (provider P1 offer slab1): offers.2.benefit.cap_paise: required for a slab offer",
    ]
    assert await count(pg_db, OfferRow) == 0
    assert await count(pg_db, Item) == 0


async def test_offers_see_items_of_the_file_and_of_the_database(
    pg_db: Database, tmp_path: Path
) -> None:
    first = await import_file(pg_db, write_jsonl(tmp_path / "a.jsonl", records()), now=NOW)
    assert first.ok
    # I12 is only in the database now, I99 only in this file (after its provider)
    recs = [{**provider(), "offers": [offer("combo1", item_ids=["I99"],
                                            qualifier={"item_ids": ["I12"]})]},
            ret12_item("I99")]
    report = await import_file(pg_db, write_jsonl(tmp_path / "b.jsonl", recs), now=NOW)
    assert report.ok and report.offers == 1, report.problems


async def test_offers_must_be_a_list_and_ids_unique(pg_db: Database, tmp_path: Path) -> None:
    recs = records()
    recs[0] = {**recs[0], "offers": {"id": "x"}}
    report = await import_file(pg_db, write_jsonl(tmp_path / "a.jsonl", recs), now=NOW)
    assert [str(p) for p in report.problems] == [
        "row 1 (provider P1): offers: must be a list of offers"]
    recs = with_offers(offer("gift"), offer("gift"))
    report = await import_file(pg_db, write_jsonl(tmp_path / "b.jsonl", recs), now=NOW)
    assert [p.field for p in report.problems] == ["offers.1.id"]
    assert await count(pg_db, OfferRow) == 0
