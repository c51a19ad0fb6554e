"""The offers' storage (``catalogue.offer_store``) on PostgreSQL and SQLite: every 1.2.5 type
stored and read back equal, the seller's order, ``offers_for`` at an instant, and refusals
that name the field (never a database error)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ondc_adapter.catalogue import offer_store
from ondc_adapter.catalogue.offer_tables import OFFER_TYPES, OfferRow
from ondc_adapter.offers import OfferInvalid, OfferType, load_offer
from ondc_adapter.storage import Database

from .helpers import NOW
from .offer_kit import END, OFFERS, START, load_catalogue, offer


def test_the_table_knows_every_offer_type() -> None:
    assert set(OFFER_TYPES) == {t.value for t in OfferType}


async def test_every_type_round_trips(each_db: Database, tmp_path: Path) -> None:
    await load_catalogue(each_db, tmp_path)
    async with each_db.session() as s:
        for oid in OFFERS:
            given = await offer_store.check_offer(s, "P1", offer(oid))
            assert await offer_store.put_offer(s, given, now=NOW) is True
    async with each_db.session() as s:
        stored = await offer_store.list_offers(s, "P1")
    assert [x.offer.id for x in stored] == list(OFFERS)  # created in order: the seller's order
    assert [x.position for x in stored] == list(range(1, len(OFFERS) + 1))
    for x in stored:
        expected = load_offer({**offer(x.offer.id), "provider_id": "P1"})
        assert x.offer == expected
        assert x.enabled and x.created_at == x.updated_at == NOW
        # the definition written back is what the admin API and the import take
        assert offer_store.parse_offer("P1", offer_store.offer_data(x.offer)).offer == expected


async def test_replace_keeps_created_and_position_and_order_follows_position(
    each_db: Database, tmp_path: Path
) -> None:
    await load_catalogue(each_db, tmp_path)
    later = NOW + timedelta(hours=1)
    async with each_db.session() as s:
        for oid in ("discp60", "flat150", "gift"):
            await offer_store.put_offer(s, offer_store.parse_offer("P1", offer(oid)), now=NOW)
        replaced = offer_store.parse_offer("P1", offer("flat150", title="Flat ₹150", position=0))
        assert await offer_store.put_offer(s, replaced, now=later) is False
    async with each_db.session() as s:
        stored = await offer_store.list_offers(s, "P1")
        flat = await offer_store.get_offer(s, "P1", "flat150")
    assert [x.offer.id for x in stored] == ["flat150", "discp60", "gift"]
    assert flat is not None and flat.offer.title == "Flat ₹150"
    assert (flat.created_at, flat.updated_at, flat.position) == (NOW, later, 0)


async def test_offers_for_many_providers_at_an_instant(each_db: Database, tmp_path: Path) -> None:
    await load_catalogue(each_db, tmp_path)
    async with each_db.session() as s:
        for oid in ("discp60", "flat150", "gift"):
            await offer_store.put_offer(s, offer_store.parse_offer("P1", offer(oid)), now=NOW)
        june = offer("freeship", valid_from="2026-06-01T00:00:00Z",
                     valid_to="2026-06-30T00:00:00Z")
        await offer_store.put_offer(s, offer_store.parse_offer("P1", june), now=NOW)
        await offer_store.set_enabled(s, "P1", "gift", False, now=NOW)
    async with each_db.session() as s:
        at_start = await offer_store.offers_for(s, ["P1", "P9"], START)
        at_end = await offer_store.offers_for(s, ["P1"], END)
        after = await offer_store.offers_for(s, ["P1"], END + timedelta(days=2))
        june_now = await offer_store.offers_for(s, ["P1"], START + timedelta(days=100))
        nobody = await offer_store.offers_for(s, [], START)
    # both ends included; disabled and not-yet-valid offers are left out; order kept
    assert [o.id for o in at_start["P1"]] == ["discp60", "flat150"]
    assert at_start["P9"] == []
    assert [o.id for o in at_end["P1"]] == ["discp60", "flat150"]
    assert after == {"P1": []}
    assert [o.id for o in june_now["P1"]] == ["freeship"]
    assert nobody == {}
    with pytest.raises(ValueError, match="timezone"):
        async with each_db.session() as s:
            await offer_store.offers_for(s, ["P1"], START.replace(tzinfo=None))


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (offer("discp60", item_ids=["NOPE"]), "item_ids"),
        (offer("gift", location_ids=["L9"]), "location_ids"),
        (offer("gift", benefit={"item_id": "J1", "item_count": 1, "item_value_paise": 1}),
         "benefit.item_id"),
        (offer("combo1", qualifier={"item_ids": ["I16", "GONE"]}), "qualifier.item_ids"),
        (offer("discp60", valid_to="2026-02-01T00:00:00Z"), "valid_to"),
        (offer("discp60", valid_from="2026-03-01T00:00:00"), "valid_from"),
        (offer("slab1", benefit={"percent": "10.00"}), "benefit.cap_paise"),
        (offer("discp60", id="has space"), "id"),
        (offer("discp60", id="x" * 65), "id"),
        (offer("discp60", title="a\x00b"), "title"),
        (offer("discp60", item_ids=["I12\x00"]), "item_ids.0"),
        (offer("discp60", position=-1), "position"),
        (offer("discp60", enabled="yes"), "enabled"),
        (offer("discp60", provider_id="P2"), "provider_id"),
        (offer("discp60", valid_from="0001-01-01T00:00:00+05:30"), "valid_from"),
    ],
)
async def test_bad_offers_are_refused_naming_the_field(
    pg_db: Database, tmp_path: Path, data: dict[str, object], field: str
) -> None:
    await load_catalogue(pg_db, tmp_path)
    async with pg_db.session() as s:
        with pytest.raises(OfferInvalid) as refused:
            await offer_store.check_offer(s, "P1", data)
        assert refused.value.field == field, refused.value
        assert await s.scalar(select(func.count()).select_from(OfferRow)) == 0


async def test_another_providers_item_is_not_the_store_s(pg_db: Database, tmp_path: Path) -> None:
    """Item ids are unique across the node, so an item of P2 exists, but not in P1's store."""
    from ondc_adapter.catalogue.importer import import_records

    from .helpers import provider, ret16_item

    await load_catalogue(pg_db, tmp_path)
    other = provider("P2", locations=[{**provider()["locations"][0], "id": "L2"}])
    async with pg_db.session() as s:
        report = await import_records(
            s, iter([(1, other), (2, ret16_item("J16", provider_id="P2", location_id="L2"))]),
            now=NOW,
        )
        assert report.ok, report.problems
    async with pg_db.session() as s:
        with pytest.raises(OfferInvalid) as refused:
            await offer_store.check_offer(s, "P1", offer("discp60", item_ids=["J16"]))
    assert refused.value.field == "item_ids" and "J16" in refused.value.message


async def test_delete_and_set_enabled_of_unknown_offers(each_db: Database, tmp_path: Path) -> None:
    await load_catalogue(each_db, tmp_path)
    async with each_db.session() as s:
        await offer_store.put_offer(s, offer_store.parse_offer("P1", offer("gift")), now=NOW)
        assert await offer_store.set_enabled(s, "P1", "nope", False, now=NOW) is None
        assert await offer_store.delete_offer(s, "P1", "nope") is False
        assert await offer_store.delete_offer(s, "P1", "gift") is True
        assert await offer_store.list_offers(s, "P1") == []
