"""Catalogue import: good files load; every kind of bad row is reported and nothing is written."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from ondc_adapter.catalogue.importer import import_file
from ondc_adapter.catalogue.sample import generate
from ondc_adapter.catalogue.tables import Item, Location, Provider
from ondc_adapter.storage import Database

from .helpers import NOW, clone, provider, records, ret10_item, ret12_item, ret16_item, write_jsonl


async def counts(db: Database) -> tuple[int, int, int]:
    async with db.session() as s:
        return (
            await s.scalar(select(func.count()).select_from(Provider)) or 0,
            await s.scalar(select(func.count()).select_from(Location)) or 0,
            await s.scalar(select(func.count()).select_from(Item)) or 0,
        )


async def test_good_jsonl_imports(pg_db: Database, tmp_path: Path) -> None:
    report = await import_file(pg_db, write_jsonl(tmp_path / "c.jsonl", records()), now=NOW)
    assert report.ok, report.problems
    assert (report.providers, report.items) == (1, 3)
    assert await counts(pg_db) == (1, 1, 3)
    async with pg_db.session() as s:
        saree = await s.get(Item, "I12")
    assert saree is not None and saree.odop_district == "Varanasi" and saree.odop_gi
    assert str(saree.price) == "8500.00"


async def test_good_json_document_imports(pg_db: Database, tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    recs = records()
    path.write_text(json.dumps({"providers": [{k: v for k, v in recs[0].items() if k != "type"}],
                                "items": [{k: v for k, v in r.items() if k != "type"}
                                          for r in recs[1:]]}))
    report = await import_file(pg_db, path, now=NOW)
    assert report.ok, report.problems
    assert await counts(pg_db) == (1, 1, 3)


async def test_sample_csv_round_trip(pg_db: Database, tmp_path: Path) -> None:
    path = tmp_path / "sample.csv"
    stats = generate(path, items=300, seed=3)
    report = await import_file(pg_db, path, now=NOW)
    assert report.ok, report.problems[:5]
    assert report.items == stats.items == 300
    async with pg_db.session() as s:
        names = (await s.scalars(select(Provider.name))).all()
        flags = set((await s.scalars(select(Item.sample))).all())
    assert names and all(n.startswith("Sample ") for n in names)
    assert flags == {True}


Mutation = Callable[[list[dict[str, Any]]], None]


def _item(recs: list[dict[str, Any]], iid: str) -> dict[str, Any]:
    return next(r for r in recs if r.get("id") == iid)


def _set(iid: str, **values: Any) -> Mutation:
    def apply(recs: list[dict[str, Any]]) -> None:
        _item(recs, iid).update(values)
    return apply


def _attr(iid: str, code: str, value: str | None) -> Mutation:
    def apply(recs: list[dict[str, Any]]) -> None:
        attrs = _item(recs, iid)["attributes"]
        if value is None:
            del attrs[code]
        else:
            attrs[code] = value
    return apply


def _append(record: dict[str, Any]) -> Mutation:
    return lambda recs: recs.append(record)


BAD_ROWS: list[tuple[str, Mutation, str, str]] = [
    ("ean check digit", _set("I16", code="1:4006381333932"), "code", "check digit"),
    ("hsn length", _set("I12", code="4:50071"), "code", "4, 6, 8 or 10"),
    ("ean for ret12", _set("I12", code="1:4006381333931"), "code", "needs 4:<HSN>"),
    ("price above mrp", _set("I16", price="600.00"), "price", "exceeds MRP"),
    ("zero price", _set("I10", price="0"), "price", "greater than 0"),
    ("negative stock", _set("I10", stock=-1), "stock", "greater than or equal to 0"),
    ("max per order", _set("I10", max_per_order=0), "max_per_order", "greater than 0"),
    ("missing colour_name", _attr("I16", "colour_name", None), "attributes.colour_name",
     "mandatory"),
    ("colour not hex", _attr("I12", "colour", "maroon"), "attributes.colour", "does not match"),
    ("fabric not allowed", _attr("I12", "fabric", "plastic"), "attributes.fabric",
     "not an allowed"),
    ("unknown attribute", _attr("I10", "odop", "x"), "attributes.odop", "not an attribute"),
    ("category of other domain", _set("I16", category_id="Sarees"), "category_id",
     "not a ONDC:RET16 category"),
    # in the schema's list, but not in the log validator's Home & Kitchen rules
    ("category of another domain", _set("I16", category_id="Sarees"),
     "category_id", "not a ONDC:RET16 category"),
    ("hsn for ret16", _set("I16", code="4:5007"), "code", "needs 1:<EAN"),
    ("unsupported domain", _set("I10", domain="ONDC:RET11"), "domain", "Input should be"),
    ("consumer care", _set("I10", consumer_care="call us"), "consumer_care", "name,email,phone"),
    ("unknown provider", _set("I10", provider_id="P9"), "provider_id", "unknown provider"),
    ("unknown location", _set("I10", location_id="L7"), "location_id", "no location"),
    ("unknown variant group", _set("I12", parent_item_id="VG9"), "parent_item_id",
     "no variant group"),
    ("not an odop product", _set("I12", odop={"lgd_code": "187", "product": "Cement"}), "odop",
     "not an ODOP product"),
    ("return window", _set("I12", return_window="7 days"), "return_window", "ISO-8601"),
    ("duplicate item", _append(ret10_item()), "id", "appears twice"),
    ("bad provider phone", lambda r: r[0].update(phone="12345"), "phone", "match pattern"),
    ("bad pin", lambda r: r[0]["locations"][0].update(area_code="22100"),
     "locations.0.area_code", "match pattern"),
    ("bad gps", lambda r: r[0]["locations"][0].update(gps="north"), "locations.0.gps",
     "match pattern"),
    ("unknown record type", _append({"type": "offer", "id": "O1"}), "type", "must be provider"),
    ("statutory month", lambda r: _item(r, "I10")["statutory"].update(
        month_year_of_manufacture_packing_import="2026-01"),
     "statutory.month_year_of_manufacture_packing_import", "MM/YYYY"),
]


@pytest.mark.parametrize(("name", "mutate", "field", "reason"), BAD_ROWS,
                         ids=[b[0] for b in BAD_ROWS])
async def test_bad_row_rejects_whole_file(
    pg_db: Database, tmp_path: Path, name: str, mutate: Mutation, field: str, reason: str
) -> None:
    recs = [clone(r) for r in records()]
    mutate(recs)
    report = await import_file(pg_db, write_jsonl(tmp_path / "bad.jsonl", recs), now=NOW)
    assert not report.ok
    assert any(p.field == field and reason in p.reason for p in report.problems), [
        str(p) for p in report.problems
    ]
    assert all(p.row >= 1 for p in report.problems)
    assert await counts(pg_db) == (0, 0, 0)


async def test_report_names_rows_and_keeps_going(pg_db: Database, tmp_path: Path) -> None:
    recs = [provider(), ret12_item(price="0"), ret16_item(stock=-3), ret10_item(code="1:123")]
    report = await import_file(pg_db, write_jsonl(tmp_path / "bad.jsonl", recs), now=NOW)
    rows = sorted({(p.row, p.field) for p in report.problems})
    assert rows == [(2, "price"), (3, "stock"), (4, "code")]
    assert await counts(pg_db) == (0, 0, 0)


async def test_bad_csv_row_rejects_file_and_leaves_existing_data(
    pg_db: Database, tmp_path: Path
) -> None:
    assert (await import_file(pg_db, write_jsonl(tmp_path / "ok.jsonl", records()), now=NOW)).ok
    path = tmp_path / "sample.csv"
    generate(path, items=50, seed=1)
    rows = list(csv.reader(path.open(encoding="utf-8")))
    header = rows[0]
    rows[7][header.index("mrp")] = "1.00"  # below the selling price
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    report = await import_file(pg_db, path, now=NOW)
    assert not report.ok
    assert [(p.row, p.field) for p in report.problems] == [(8, "price")]
    assert await counts(pg_db) == (1, 1, 3)  # the earlier import is untouched


async def test_not_json_line_is_reported(pg_db: Database, tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(provider()) + "\n{not json\n")
    report = await import_file(pg_db, path, now=NOW)
    assert [(p.row, p.field) for p in report.problems] == [(2, "type")]
    assert "not JSON" in report.problems[0].reason
    assert await counts(pg_db) == (0, 0, 0)


async def test_a_store_imported_on_its_own_reaches_the_search_index(
    pg_db: Database, tmp_path: Path
) -> None:
    """A location row for a provider already in the database stamps that provider, so the
    search index (which follows providers' updated_at) learns the new store's city."""
    from datetime import timedelta

    from ondc_adapter.catalogue.cities import default_directory
    from ondc_adapter.catalogue.search import SearchIndex

    recs = records()
    recs[0]["locations"][0].update(serviceability="10", radius_km="5")  # Varanasi only
    assert (await import_file(pg_db, write_jsonl(tmp_path / "a.jsonl", recs), now=NOW)).ok
    index = SearchIndex()
    async with pg_db.session() as s:
        await index.refresh(s)
    assert index.serving_providers(default_directory(), city="std:080") == []
    store = {**provider()["locations"][0], "type": "location", "provider_id": "P1",
             "id": "L2", "city": "Bengaluru", "state": "Karnataka", "area_code": "560001",
             "std_code": "080", "gps": "12.971599,77.594566", "serviceability": "10",
             "radius_km": "10"}
    later = NOW + timedelta(minutes=5)
    report = await import_file(pg_db, write_jsonl(tmp_path / "b.jsonl", [store]), now=later)
    assert report.ok, report.problems
    async with pg_db.session() as s:
        assert await s.scalar(select(Provider.updated_at).where(Provider.id == "P1")) == later
        await index.refresh(s)
    assert index.serving_providers(default_directory(), city="std:080") == ["P1"]


async def test_a_location_id_of_another_provider_is_refused(
    pg_db: Database, tmp_path: Path
) -> None:
    """ONDC wants location ids unique across the whole catalogue: a second provider reusing one
    is refused with its row named, in the file and against the database."""
    first, second = provider("P1"), provider("P2")
    second["locations"] = [dict(second["locations"][0], id=first["locations"][0]["id"])]
    report = await import_file(pg_db, write_jsonl(tmp_path / "dup.jsonl", [first, second]),
                               now=NOW)
    assert not report.ok
    [problem] = report.problems
    assert problem.row == 2 and problem.field == "locations.id" and "P1" in problem.reason
    assert await counts(pg_db) == (0, 0, 0)
    assert (await import_file(pg_db, write_jsonl(tmp_path / "one.jsonl", [first]), now=NOW)).ok
    again = await import_file(pg_db, write_jsonl(tmp_path / "two.jsonl", [second]), now=NOW)
    assert not again.ok and again.problems[0].field == "locations.id"


async def test_packaged_food_without_its_statutory_block_is_refused(
    pg_db: Database, tmp_path: Path
) -> None:
    """RET10: a prepackaged food category needs @ondc/org/statutory_reqs_prepackaged_food (its
    FSSAI block); the import names the row and each missing field, and writes nothing."""
    snack = ret10_item("I11", category_id="Snacks and Namkeen", name="Bhujia 200 g")
    report = await import_file(pg_db, write_jsonl(tmp_path / "s.jsonl", [provider(), snack]),
                               now=NOW)
    assert not report.ok
    fields = {p.field for p in report.problems if p.row == 2}
    assert {"statutory.nutritional_info", "statutory.brand_owner_FSSAI_license_no"} <= fields
    assert await counts(pg_db) == (0, 0, 0)
    snack["statutory"] = {
        **snack["statutory"], "nutritional_info": "Energy 520 kcal/100 g",
        "additives_info": "None", "brand_owner_FSSAI_license_no": "10012345678901",
        "other_FSSAI_license_no": "N/A", "importer_FSSAI_license_no": "N/A",
    }
    ok = await import_file(pg_db, write_jsonl(tmp_path / "s2.jsonl", [provider(), snack]), now=NOW)
    assert ok.ok, [str(p) for p in ok.problems]
