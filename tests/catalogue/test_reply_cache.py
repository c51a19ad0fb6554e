"""Whole search answers kept for a few seconds (``catalogue.reply_cache``): the same question
gets the same bytes without reading the catalogue again, and any change to a matched item, a
store, or the day gives a fresh answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from ondc_adapter.catalogue import write
from ondc_adapter.catalogue.handler import INDEX_KEY, REPLY_CACHE_KEY, handle_search
from ondc_adapter.catalogue.importer import import_file
from ondc_adapter.catalogue.on_search import Page
from ondc_adapter.catalogue.reply_cache import ReplyCache
from ondc_adapter.catalogue.search import SearchIndex
from ondc_adapter.storage import Database

from .helpers import NOW, deps, records, ret12_item, search_request, write_jsonl

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
BY_NAME = {"item": {"descriptor": {"name": "banarasi"}}, "fulfillment": {"type": "Delivery"}}


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def page(text: str) -> Page:
    return Page(domain="ONDC:RET12", text=text, items=1, providers=1)


def test_expiry_size_and_page_limits() -> None:
    clock = Clock()
    cache = ReplyCache(seconds=5, max_chars=400, max_pages=2, clock=clock)
    cache.put("a", (page("x" * 50),))
    assert cache.get("a") is not None
    clock.t += 5.1
    assert cache.get("a") is None and cache.chars == 0  # expired, and dropped
    cache.put("big", (page("x" * 101),))  # over a quarter of max_chars: not kept
    cache.put("many", (page("1"), page("2"), page("3")))  # over max_pages: not kept
    assert cache.get("big") is None and cache.get("many") is None
    for n in range(5):
        cache.put(n, (page("y" * 90),))  # 450 chars: the least recently used goes
    assert cache.get(0) is None and cache.get(4) is not None and cache.chars <= 400


@pytest.fixture
async def db(each_db: Database, tmp_path: Path) -> Database:
    extra = [ret12_item(f"I12-{n}", name=f"Banarasi silk saree {n}") for n in range(3)]
    report = await import_file(each_db, write_jsonl(tmp_path / "c.jsonl", records(*extra)),
                               now=T0)
    assert report.ok, report.problems
    return each_db


async def answer(db: Database, extras: dict[str, object], n: int, now: datetime = NOW
                 ) -> list[dict[str, object]]:
    async with db.session() as s:
        out = await handle_search(search_request(BY_NAME, message_id=f"m-{n}", now=now), s,
                                  deps(now=now, **extras))
    return [m.payload["message"] for m in out]


async def test_same_search_same_answer_and_every_change_shows(db: Database) -> None:
    cache = ReplyCache(seconds=60)
    extras: dict[str, object] = {INDEX_KEY: SearchIndex(), REPLY_CACHE_KEY: cache}
    uncached: dict[str, object] = {INDEX_KEY: SearchIndex()}
    first = await answer(db, extras, 1)
    assert first and (cache.hits, cache.misses) == (0, 1)
    assert await answer(db, extras, 2) == first and cache.hits == 1
    assert first == await answer(db, uncached, 3)

    async with db.session() as s:
        assert await write.change_item(s, "I12-1", T0 + timedelta(minutes=1),
                                       price=Decimal("4321.00"))
    changed = await answer(db, extras, 4)
    assert changed != first and "4321.00" in str(changed)
    assert changed == await answer(db, uncached, 5)

    async with db.session() as s:
        assert await write.change_item(s, "I12-2", T0 + timedelta(minutes=2), stock=0)
    assert await answer(db, extras, 6) == await answer(db, uncached, 7)

    tomorrow = NOW + timedelta(days=1)  # holidays and timings are read per day
    before = cache.misses
    await answer(db, extras, 8, now=tomorrow)
    assert cache.misses == before + 1


async def test_the_index_catches_up_once_per_transaction(db: Database) -> None:
    # The processor answers a batch of searches in one transaction; every request of the
    # batch arrived before it began, so the first catch-up covers them all.
    index = SearchIndex()
    async with db.session() as s:
        assert await index.refresh(s) > 0
        mark = index.watermark
        assert await write.change_item(s, "I12-1", T0 + timedelta(minutes=5),
                                       price=Decimal("999.00"))
        assert await index.refresh(s) == 0 and index.watermark == mark  # not read again
    async with db.session() as s:  # the next transaction sees the change
        assert await index.refresh(s) == 1 and index.watermark == T0 + timedelta(minutes=5)


async def test_a_late_commit_is_not_served_from_the_cache_after_the_look_back(
    db: Database,
) -> None:
    # A write stamped before one the index has seen but committed after it: the watermarks
    # stay put, so only the index's look-back (at most lookback_every later) finds it, and
    # its generation, in the key, keeps the kept answer from being served again.
    clock = Clock()
    cache = ReplyCache(seconds=30, clock=clock)
    index = SearchIndex(clock=clock)
    extras: dict[str, object] = {INDEX_KEY: index, REPLY_CACHE_KEY: cache}
    await answer(db, extras, 1)  # builds the index
    later = T0 + timedelta(minutes=5)
    async with db.session() as s:
        assert await write.change_item(s, "I12-0", later, price=Decimal("1111.00"))
    seen = await answer(db, extras, 2)
    assert "1111.00" in str(seen) and index.watermark == later
    generation = index.generation

    async with db.session() as s:
        assert await write.change_item(s, "I12-1", later - timedelta(seconds=3),
                                       price=Decimal("2222.00"))
    clock.t += 0.5  # the fast path alone cannot see it: the kept answer, for now
    assert await answer(db, extras, 3) == seen and index.generation == generation

    clock.t += 0.5  # lookback_every after the last look-back
    hits = cache.hits
    late = await answer(db, extras, 4)
    assert "2222.00" in str(late) and cache.hits == hits and index.generation > generation
    assert late == await answer(db, {INDEX_KEY: SearchIndex()}, 5)
    clock.t += 0.1
    assert await answer(db, extras, 6) == late and cache.hits == hits + 1  # kept anew
