"""The store API used by the orders flow: reads, atomic stock reservation, serviceability."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from ondc_adapter.catalogue.importer import import_file
from ondc_adapter.catalogue.store import (
    get_items,
    get_provider,
    is_serviceable,
    release_stock,
    reserve_stock,
)
from ondc_adapter.storage import Database

from .helpers import NOW, provider, records, write_jsonl


async def _load(db: Database, tmp_path: Path, *extra: dict) -> None:
    report = await import_file(db, write_jsonl(tmp_path / "c.jsonl", records(*extra)), now=NOW)
    assert report.ok, report.problems


async def test_get_items_and_provider(pg_db: Database, tmp_path: Path) -> None:
    await _load(pg_db, tmp_path)
    async with pg_db.session() as s:
        items = await get_items(s, "P1", ["I12", "I16", "nope"])
        other = await get_items(s, "P2", ["I12"])
        prov = await get_provider(s, "P1")
        missing = await get_provider(s, "P2")
    assert set(items) == {"I12", "I16"} and other == {} and missing is None
    saree = items["I12"]
    assert (saree.price, saree.mrp, saree.stock, saree.max_per_order) == (
        Decimal("8500.00"), Decimal("9500.00"), 4, 2)
    assert saree.domain == "ONDC:RET12" and saree.category_id == "Sarees"
    assert saree.available and saree.fulfillment_id == "F1" and saree.location_id == "L1"
    assert prov is not None and prov.gstin == "09ABCDE1234F1Z5" and prov.pan == "ABCDE1234F"
    assert prov.locations[0].gps == "25.317645,82.973914"
    assert prov.locations[0].std_code == "0542"
    assert prov.fulfillment("F1") is not None and prov.women_led


async def test_reserve_never_oversells_under_concurrency(pg_db: Database, tmp_path: Path) -> None:
    await _load(pg_db, tmp_path)  # I12 has stock 4

    async def one() -> bool:
        async with pg_db.session() as s:
            return await reserve_stock(s, "I12", 1)

    results = await asyncio.gather(*(one() for _ in range(12)))
    assert results.count(True) == 4
    async with pg_db.session() as s:
        assert (await get_items(s, "P1", ["I12"]))["I12"].stock == 0
        assert not await reserve_stock(s, "I12", 1)
        assert await release_stock(s, "I12", 3)
        assert not await reserve_stock(s, "I12", 4)
        assert await reserve_stock(s, "I12", 3)
        assert not await reserve_stock(s, "unknown", 1)
        assert (await get_items(s, "P1", ["I12"]))["I12"].stock == 0


async def test_reservation_rolls_back_with_the_transaction(
    pg_db: Database, tmp_path: Path
) -> None:
    await _load(pg_db, tmp_path)
    try:
        async with pg_db.session() as s:
            assert await reserve_stock(s, "I16", 10)
            raise RuntimeError("order failed")
    except RuntimeError:
        pass
    async with pg_db.session() as s:
        assert (await get_items(s, "P1", ["I16"]))["I16"].stock == 10


async def test_serviceability_kinds(pg_db: Database, tmp_path: Path) -> None:
    radius = provider("P2", locations=[{**provider()["locations"][0], "id": "L2",
                                        "serviceability": "10",
                                        "radius_km": "10"}], variant_groups=[])
    pins = provider("P3", locations=[{**provider()["locations"][0], "id": "L3",
                                      "serviceability": "11",
                                      "pincodes": ["221001-221010", "110001"]}],
                    variant_groups=[])
    await _load(pg_db, tmp_path, radius, pins)
    async with pg_db.session() as s:
        p1, p2, p3 = [await get_provider(s, p) for p in ("P1", "P2", "P3")]
    assert p1 and p2 and p3
    assert is_serviceable(p1, "12.97,77.59", "560001")  # pan-India
    assert is_serviceable(p2, "25.320000,82.990000", None)  # ~2 km away
    assert not is_serviceable(p2, "26.846700,80.946200", None)  # Lucknow, ~270 km
    assert is_serviceable(p2, None, "221001") and not is_serviceable(p2, None, "221002")
    assert is_serviceable(p3, None, "221005") and is_serviceable(p3, None, "110001")
    assert not is_serviceable(p3, None, "221011") and not is_serviceable(p3, "25.3,82.9", None)
