"""A name search's one read (``catalogue.on_search_ids``): its items, their categories and
their providers' state in one statement, provider headers kept between searches under the
provider's (updated_at, enabled, deleted_at). The answer is always the one a node with
nothing kept gives, after every kind of change, and the kept headers survive a rolled-back
transaction."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from ondc_adapter.catalogue import on_search, write
from ondc_adapter.catalogue.handler import CACHE_KEY, INDEX_KEY, handle_search
from ondc_adapter.catalogue.importer import import_file
from ondc_adapter.catalogue.on_search_cache import OnSearchCache
from ondc_adapter.catalogue.search import SearchIndex
from ondc_adapter.storage import Database

from .helpers import NOW, deps, provider, records, ret12_item, search_request, write_jsonl

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
BY_NAME = {"item": {"descriptor": {"name": "banarasi"}}, "fulfillment": {"type": "Delivery"}}
# what reading a provider's header costs when it is not kept: the ORM provider, its stores
# (the search index's look-back lists providers' ids and stamps only: not a header read)
HEADER_READS = re.compile(
    r"catalogue_providers\.name\b.*FROM catalogue_providers\s+WHERE|FROM catalogue_locations",
    re.S,
)


def second_seller(**over: Any) -> dict[str, Any]:
    store = {**provider()["locations"][0], "id": "L2"}
    return provider("P2", **{"name": "Kashi Handlooms", "locations": [store], **over})


@pytest.fixture
async def db(each_db: Database, tmp_path: Path) -> Database:
    extra = [ret12_item(f"I12-{n}", name=f"Banarasi silk saree {n}") for n in range(3)]
    second = [second_seller(),
              *(ret12_item(f"I12-P2-{n}", provider_id="P2", location_id="L2",
                           name=f"Banarasi dupatta {n}") for n in range(2))]
    report = await import_file(
        each_db, write_jsonl(tmp_path / "c.jsonl", [*records(*extra), *second]), now=T0
    )
    assert report.ok, report.problems
    return each_db


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The statements SQLAlchemy runs meanwhile (those sent to the driver directly are not
    seen: they are the search's one read on PostgreSQL)."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


async def answer(db: Database, extras: dict[str, object], now: datetime = NOW) -> list[bytes]:
    """The callbacks' bytes (same message id and clock every time)."""
    async with db.session() as s:
        out = await handle_search(search_request(BY_NAME, now=now), s, deps(now, **extras))
    return [m.body for m in out]


async def fresh(db: Database, now: datetime = NOW) -> list[bytes]:
    """The answer of a node that keeps nothing between searches."""
    return await answer(db, {INDEX_KEY: SearchIndex()}, now)


async def test_headers_are_kept_and_every_change_shows(db: Database, tmp_path: Path) -> None:
    cache = OnSearchCache()
    extras: dict[str, object] = {INDEX_KEY: SearchIndex(), CACHE_KEY: cache}
    first = await answer(db, extras)
    assert first == await fresh(db)
    assert b'"P1"' in first[0] and b'"P2"' in first[0] and set(cache.parts) == {"P1", "P2"}
    assert len(cache.header_texts) == 2  # and their texts
    with statements(db) as seen:
        assert await answer(db, extras) == first
    assert not [s for s in seen if HEADER_READS.search(s)], seen  # nothing read again
    async def same_as_fresh() -> str:
        kept = await answer(db, extras)
        assert kept == await fresh(db)
        return kept[0].decode()

    async with db.session() as s:  # an item's price, then one disabled, one deleted
        assert await write.change_item(s, "I12-1", T0 + timedelta(minutes=1),
                                       price=Decimal("4321.00"))
    assert "4321.00" in await same_as_fresh()
    async with db.session() as s:
        assert await write.change_item(s, "I12-2", T0 + timedelta(minutes=2), enabled=False)
        assert await write.delete_item(s, "I12-P2-0", T0 + timedelta(minutes=2))
    text = await same_as_fresh()
    assert '"I12-2"' not in text and '"I12-P2-0"' not in text and '"I12-P2-1"' in text

    # the provider itself: renamed (a later import), a store closed (stamps the provider)
    renamed = write_jsonl(tmp_path / "p.jsonl", [second_seller(name="Kashi Handloom House")])
    report = await import_file(db, renamed, now=T0 + timedelta(minutes=3))
    assert report.ok, report.problems
    assert "Kashi Handloom House" in await same_as_fresh()
    async with db.session() as s:
        assert await write.set_location_status(s, "P1", "L1", "close",
                                               T0 + timedelta(minutes=4))
    assert '"label":"close"' in await same_as_fresh()

    at = T0 + timedelta(minutes=5)
    async with db.session() as s:
        assert await write.set_provider_enabled(s, "P2", False, at)
    assert '"P2"' not in await same_as_fresh()
    async with db.session() as s:
        assert await write.set_provider_enabled(s, "P2", True, at + timedelta(seconds=1))
    assert '"P2"' in await same_as_fresh()
    async with db.session() as s:
        assert await write.delete_provider(s, "P2", T0 + timedelta(minutes=6))
    text = await same_as_fresh()
    assert '"P2"' not in text and '"P1"' in text


async def test_kept_headers_survive_a_rolled_back_transaction(db: Database) -> None:
    # A processor batch whose handler fails is rolled back, which expires every object its
    # session loaded: headers kept from it must not be those objects.
    cache = OnSearchCache()
    extras: dict[str, object] = {INDEX_KEY: SearchIndex(), CACHE_KEY: cache}
    with pytest.raises(RuntimeError):
        async with db.session() as s:
            await handle_search(search_request(BY_NAME), s, deps(**extras))
            assert set(cache.parts) == {"P1", "P2"}
            raise RuntimeError("a later handler of the batch failed")
    assert await answer(db, extras) == await fresh(db)


async def pages(db: Database, cache: OnSearchCache | None) -> list[str]:
    async with db.session() as s:
        built = await on_search.build_pages(
            s, profile=on_search.BppProfile(), max_bytes=2_000_000, now=NOW,
            domain="ONDC:RET12", item_ids=["I12-1", "I12-P2-1"], cache=cache)
    return [p.text for p in built]


async def test_a_provider_enabled_again_at_the_same_instant_is_not_served_stale(
    db: Database,
) -> None:
    # Writers stamp updated_at, but liveness is compared as well (as for items): a kept
    # header never carries the "disable" label of a provider live again.
    cache = OnSearchCache()
    at = T0 + timedelta(minutes=5)
    async with db.session() as s:
        assert await write.set_provider_enabled(s, "P2", False, at)
    assert '"P2"' not in (await pages(db, cache))[0]
    async with db.session() as s:  # a push of the change reads (and keeps) P2's header
        await on_search.build_pages(
            s, profile=on_search.BppProfile(), max_bytes=2_000_000, now=NOW,
            domain="ONDC:RET12", incremental=True, provider_ids=["P2"], cache=cache)
    assert cache.parts["P2"][0] == (at, False, None)
    async with db.session() as s:
        assert await write.set_provider_enabled(s, "P2", True, at)
    kept = await pages(db, cache)
    assert kept == await pages(db, None) and '"P2"' in kept[0]
    assert kept == await pages(db, cache)  # and now kept under its live key


async def test_a_kept_header_follows_the_day(db: Database, tmp_path: Path) -> None:
    # a store lists only its holidays from today on: tomorrow's answer drops today's
    store = {**provider()["locations"][0], "holidays": ["2026-03-01", "2026-03-05"]}
    report = await import_file(db, write_jsonl(tmp_path / "h.jsonl",
                                               [provider(locations=[store])]),
                               now=T0 + timedelta(minutes=1))
    assert report.ok, report.problems
    extras: dict[str, object] = {INDEX_KEY: SearchIndex(), CACHE_KEY: OnSearchCache()}
    today = await answer(db, extras)
    assert today == await fresh(db) and b'"2026-03-01","2026-03-05"' in today[0]
    tomorrow = NOW + timedelta(days=1)
    kept = await answer(db, extras, tomorrow)
    assert kept == await fresh(db, tomorrow)
    assert b'"2026-03-01"' not in kept[0] and b'"2026-03-05"' in kept[0]
