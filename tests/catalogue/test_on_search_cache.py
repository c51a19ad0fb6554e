"""Serialised items kept between searches (``catalogue.on_search_cache``): a warm search gives the
same bytes as one that reads everything from the database, and every kind of change shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ondc_adapter.catalogue import on_search, write
from ondc_adapter.catalogue.handler import CACHE_KEY, handle_search
from ondc_adapter.catalogue.importer import import_file
from ondc_adapter.catalogue.on_search_cache import OnSearchCache
from ondc_adapter.storage import Database

from .helpers import NOW, deps, records, ret12_item, search_request, write_jsonl

DOMAIN = "ONDC:RET12"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_get_put_and_key_mismatch() -> None:
    texts = OnSearchCache()
    key = (T0, 5, True)
    assert texts.get("I1", key) is None
    texts.put("I1", key, '{"id":"I1"}')
    assert texts.get("I1", key) == '{"id":"I1"}'
    assert texts.get("I1", (T0, 4, True)) is None  # stock moved
    assert texts.get("I1", (T0 + timedelta(microseconds=1), 5, True)) is None
    assert texts.get("I1", (T0, 5, False)) is None  # disabled
    assert (texts.hits, texts.misses) == (1, 4)
    assert texts.chars == len('{"id":"I1"}') and len(texts) == 1


def test_size_cap_keeps_no_stale_text() -> None:
    texts = OnSearchCache(max_chars=10)
    texts.put("I1", (T0, 1, True), "12345")
    texts.put("I2", (T0, 1, True), "1234567890")  # would pass the cap: not kept
    assert texts.get("I2", (T0, 1, True)) is None and texts.chars == 5
    texts.put("I1", (T0, 2, True), "x" * 11)  # a newer I1 that does not fit: the old one goes
    assert len(texts) == 0 and texts.chars == 0
    texts.put("I1", (T0, 3, True), "abc")
    texts.mark_warm(DOMAIN)
    assert not texts.is_warm(DOMAIN)  # texts were turned away: searches read whole rows
    texts.clear()
    assert len(texts) == 0 and texts.chars == 0 and not texts.is_warm(DOMAIN)
    texts.put("I1", (T0, 3, True), "abc")
    texts.mark_warm(DOMAIN)
    assert texts.is_warm(DOMAIN) and not texts.is_warm(None)


@pytest.fixture
async def db(each_db: Database, tmp_path: Path) -> Database:
    database = each_db
    extra = [ret12_item(f"I12-{n}", name=f"Banarasi silk saree {n}") for n in range(6)]
    report = await import_file(database, write_jsonl(tmp_path / "c.jsonl", records(*extra)),
                               now=T0)
    assert report.ok, report.problems
    return database


async def _texts(db: Database, texts: OnSearchCache | None, **kw: Any) -> list[str]:
    async with db.session() as s:
        pages = await on_search.build_pages(
            s, profile=on_search.BppProfile(), max_bytes=2_000_000, now=NOW, domain=DOMAIN,
            cache=texts, **kw)
    return [p.text for p in pages]


async def test_warm_pages_are_the_same_bytes_and_follow_every_change(db: Database) -> None:
    texts = OnSearchCache()
    fresh = await _texts(db, None)
    assert await _texts(db, texts) == fresh  # cold: read in full, kept
    assert texts.is_warm(DOMAIN) and len(texts) == 7 and texts.hits == 0
    assert await _texts(db, texts) == fresh  # warm: key columns only
    assert (texts.hits, texts.misses) == (7, 0)

    async with db.session() as s:  # a price change, a later timestamp
        assert await write.change_item(s, "I12-1", T0 + timedelta(seconds=1),
                                       price=Decimal("999.50"))
    async with db.session() as s:  # stock taken by an order at the very same instant
        assert await write.change_item(s, "I12-2", T0, stock=1)
    async with db.session() as s:
        assert await write.delete_item(s, "I12-3", T0 + timedelta(seconds=2))
    fresh = await _texts(db, None)
    hits = texts.hits
    warm = await _texts(db, texts)
    assert warm == fresh
    assert texts.hits - hits == 4 and "999.50" in warm[0] and '"I12-3"' not in warm[0]

    # narrow searches (a handful of ids) use the warm texts too, and give the same bytes
    ids = ["I12-1", "I12-2", "I12-4"]
    assert await _texts(db, texts, item_ids=ids) == await _texts(db, None, item_ids=ids)


async def test_a_narrow_search_does_not_warm_the_domain(db: Database) -> None:
    texts = OnSearchCache()
    await _texts(db, texts, item_ids=["I12-1"])
    assert not texts.is_warm(DOMAIN) and len(texts) == 1


async def test_handle_search_answers_from_the_texts_it_keeps(db: Database) -> None:
    texts = OnSearchCache()
    intent = {"fulfillment": {"type": "Delivery"}}
    answers = []
    for n in range(2):
        async with db.session() as s:
            out = await handle_search(search_request(intent, message_id=f"m-{n}"), s,
                                      deps(**{CACHE_KEY: texts}))
        answers.append([m.payload["message"] for m in out])
    assert answers[0] == answers[1] and texts.hits == 7


async def test_provider_parts_follow_the_provider(db: Database, tmp_path: Path) -> None:
    """Stores and variant groups are kept under the provider's updated_at: a store changed
    by a later import (alone, or with its provider) shows in the next warm answer."""
    from .helpers import provider

    cache = OnSearchCache()
    await _texts(db, cache)
    assert "P1" in cache.parts
    store = {**provider()["locations"][0], "type": "location", "provider_id": "P1",
             "close_time": "2130"}
    report = await import_file(db, write_jsonl(tmp_path / "s.jsonl", [store]),
                               now=T0 + timedelta(minutes=1))
    assert report.ok, report.problems
    warm = await _texts(db, cache)
    assert warm == await _texts(db, None) and '"2130"' in warm[0]
    renamed = provider(variant_groups=[{"id": "VG1", "name": "Colours of the saree",
                                        "attributes": ["colour"]}])
    report = await import_file(db, write_jsonl(tmp_path / "p.jsonl", [renamed]),
                               now=T0 + timedelta(minutes=2))
    assert report.ok, report.problems
    warm = await _texts(db, cache)
    assert warm == await _texts(db, None) and "Colours of the saree" in warm[0]


async def test_the_node_warms_index_and_cache_at_start(db: Database, tmp_path: Path) -> None:
    import asyncio

    from ondc_adapter import keys
    from ondc_adapter.api.app import create_app
    from ondc_adapter.catalogue.handler import INDEX_KEY
    from ondc_adapter.registry import StaticKeyResolver

    from .helpers import settings

    node_keys = keys.new_keys("seller.example.in", "uk1")
    keys.write_keys(node_keys, tmp_path / "keys")
    config = settings(unique_key_id="uk1", keys_dir=tmp_path / "keys", database_url=db.url)
    app = create_app(config, db=db, key_resolver=StaticKeyResolver([]))
    async with app.router.lifespan_context(app):
        extras = app.state.processor.deps.extras
        index, cache = extras[INDEX_KEY], extras[CACHE_KEY]
        for _ in range(200):
            if cache.is_warm(DOMAIN) and cache.is_warm("ONDC:RET16"):
                break
            await asyncio.sleep(0.02)
        assert len(index) == 9 and len(cache) == 9
        assert {"ONDC:RET10", "ONDC:RET12", "ONDC:RET16"} <= cache.warm
        # a full search now reads no item text from the database
        assert await _texts(db, cache) == await _texts(db, None)
        assert cache.misses == 0

    quiet = create_app(config.model_copy(update={"catalogue_warm_up": False}), db=db,
                       key_resolver=StaticKeyResolver([]))
    async with quiet.router.lifespan_context(quiet):
        await asyncio.sleep(0.2)
        assert len(quiet.state.processor.deps.extras[CACHE_KEY]) == 0


async def test_random_changes_never_make_a_warm_answer_differ(
    db: Database, tmp_path: Path
) -> None:
    """Stateful check: after each of many random seller changes (price, stock, enable,
    delete, rename by import, provider off and on), every search form answered from the
    warm cache is byte for byte the answer without it."""
    import random

    rng = random.Random(20261202)
    cache = OnSearchCache()
    ids = ["I12", *(f"I12-{n}" for n in range(6))]
    clock = T0
    for step in range(40):
        clock += timedelta(seconds=1)
        target = rng.choice(ids)
        kind = rng.choice(["price", "stock", "stock_same_instant", "enable", "delete",
                           "rename", "provider"])
        async with db.session() as s:
            if kind == "price":
                await write.change_item(s, target, clock, price=Decimal(rng.randint(900, 1500)))
            elif kind == "stock":
                await write.change_item(s, target, clock, stock=rng.randint(0, 30))
            elif kind == "stock_same_instant":
                await write.change_item(s, target, T0, stock=rng.randint(0, 30))
            elif kind == "enable":
                await write.change_item(s, target, clock, enabled=rng.random() < 0.5)
            elif kind == "delete":
                await write.delete_item(s, target, clock)
            elif kind == "provider":
                await write.set_provider_enabled(s, "P1", rng.random() < 0.7, clock)
        if kind == "rename":  # a full rewrite of the item (and back to live), as an import
            row = ret12_item(target, name=f"Banarasi silk saree, batch {step}")
            report = await import_file(db, write_jsonl(tmp_path / f"r{step}.jsonl", [row]),
                                       now=clock)
            assert report.ok, report.problems
        for kw in ({}, {"item_ids": rng.sample(ids, 3)}):
            assert await _texts(db, cache, **kw) == await _texts(db, None, **kw), (step, kind)
    assert cache.hits > 0
