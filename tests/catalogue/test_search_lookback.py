"""The search index's look-back (``catalogue.search_sync``): a write that commits after one stamped
later, so below the watermark by the time it is visible, is found by the first refresh
``lookback_every`` after it and moves ``generation``; rows read again unchanged move nothing;
a searching transaction still costs one round trip, and an idle node stops looking back."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.catalogue import search_sync, write
from ondc_adapter.catalogue.cities import default_directory
from ondc_adapter.catalogue.driver_sql import DriverStatement
from ondc_adapter.catalogue.importer import import_file
from ondc_adapter.catalogue.intent import Query
from ondc_adapter.catalogue.search import SearchIndex
from ondc_adapter.catalogue.tables import Item, Provider
from ondc_adapter.storage import Database

from .helpers import provider, records, ret12_item, write_jsonl

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LATER = T0 + timedelta(minutes=5)  # a write the index sees first
# stamped before it, committed after it: within the look-back (10 s) of it, and beyond
LATE = LATER - timedelta(seconds=5)
TOO_LATE = LATER - timedelta(seconds=30)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
async def db(each_db: Database, tmp_path: Path) -> Database:
    second = provider("P2", name="Kashi Handlooms",
                      locations=[{**provider()["locations"][0], "id": "L2"}])
    recs = [
        *records(*(ret12_item(f"I12-{n}", name=f"Banarasi silk saree {n}") for n in range(3))),
        second,
        *(ret12_item(f"I12-P2-{n}", provider_id="P2", location_id="L2",
                     name=f"Banarasi dupatta {n}") for n in range(2)),
    ]
    report = await import_file(each_db, write_jsonl(tmp_path / "c.jsonl", recs), now=T0)
    assert report.ok, report.problems
    return each_db


async def refresh(db: Database, index: SearchIndex) -> int:
    async with db.session() as s:
        return await index.refresh(s)


async def stamp(db: Database, table: Any, key: str, at: datetime, **values: Any) -> None:
    """Write ``values`` with ``updated_at = at`` and commit (a writer whose stamp is ``at``)."""
    async with db.session() as s:
        result: Any = await s.execute(
            update(table).where(table.id == key).values(updated_at=at, **values)
        )
        assert result.rowcount == 1


def found(index: SearchIndex, text: str) -> list[str]:
    return sorted(index.search(Query(text=text)))


async def test_a_late_commit_is_found_by_the_next_look_back(db: Database) -> None:
    clock = Clock()
    index = SearchIndex(clock=clock)
    assert await refresh(db, index) > 0  # the build
    await stamp(db, Item, "I12-0", LATER, name="Banarasi silk saree zero")
    assert await refresh(db, index) == 1 and index.watermark == LATER
    generation = index.generation

    await stamp(db, Item, "I12-2", LATE, name="Kanjeevaram silk saree")
    clock.t += 0.5  # before lookback_every: the fast path alone cannot see it
    assert await refresh(db, index) == 0
    assert found(index, "kanjeevaram") == [] and index.generation == generation

    clock.t += 0.5
    assert await refresh(db, index) == 1  # that row only
    assert found(index, "kanjeevaram") == ["I12-2"] and index.generation > generation
    assert index.docs[index.ordinal["I12-2"]].updated_at == LATE
    assert index.watermark == LATER  # an older stamp never moves it back

    # held past the look-back after its stamp: left to the next full build (documented)
    await stamp(db, Item, "I12-1", TOO_LATE, name="Paithani silk saree")
    clock.t += 1.0
    assert await refresh(db, index) == 0 and found(index, "paithani") == []
    assert found(await built(db), "paithani") == ["I12-1"]


async def built(db: Database) -> SearchIndex:
    index = SearchIndex()
    await refresh(db, index)
    return index


async def test_a_late_import_and_a_late_delete_are_found(db: Database, tmp_path: Path) -> None:
    clock = Clock()
    index = SearchIndex(clock=clock)
    await refresh(db, index)
    await stamp(db, Item, "I12-0", LATER, name="Banarasi silk saree zero")
    await refresh(db, index)
    # an import stamps its rows with the time it started: here, before the write above
    new = ret12_item("I12-new", name="Kanjeevaram saree")
    report = await import_file(db, write_jsonl(tmp_path / "late.jsonl", [new]), now=LATE)
    assert report.ok, report.problems
    async with db.session() as s:
        assert await write.delete_item(s, "I12-1", LATE)
    generation = index.generation
    clock.t += 1.0
    assert await refresh(db, index) == 2
    assert found(index, "kanjeevaram") == ["I12-new"]
    assert "I12-1" not in index.ordinal and index.generation >= generation + 2


async def test_rows_read_again_unchanged_move_nothing(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    index = SearchIndex(clock=clock)
    await refresh(db, index)
    generation = index.generation
    with round_trips(db, monkeypatch) as sent:
        # every row is stamped T0, the watermark: each look-back lists them all again
        for _ in range(3):
            clock.t += 1.0
            assert await refresh(db, index) == 0
    assert sent.driver == [search_sync._RECENT] * 3  # they did look back
    assert index.generation == generation

    async with db.session() as s:
        row = dict((await s.execute(
            select(*search_sync._ITEM_COLUMNS).where(Item.id == "I12-1")
        )).mappings().one())
    assert not index.upsert(row) and index.generation == generation
    assert index.upsert(row, force=True) and index.generation == generation + 1
    assert not index.upsert({**row, "id": "I12-gone", "enabled": False})  # never indexed
    assert index.generation == generation + 1
    assert index.upsert({**row, "enabled": False}) and "I12-1" not in index.ordinal


@dataclass
class Sent:
    sql: list[str] = field(default_factory=list)  # through SQLAlchemy
    driver: list[DriverStatement] = field(default_factory=list)  # DriverStatement.fetch runs
    postgres: bool = False

    @property
    def count(self) -> int:
        """Round trips: on PostgreSQL a DriverStatement goes to asyncpg directly, unseen by
        SQLAlchemy; elsewhere it is one of SQLAlchemy's statements."""
        return len(self.sql) + (len(self.driver) if self.postgres else 0)


@contextmanager
def round_trips(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sent]:
    sent = Sent(postgres=db.is_postgres)
    fetch = DriverStatement.fetch

    async def spy(
        self: DriverStatement, session: AsyncSession, params: Mapping[str, Any] | None = None
    ) -> Any:
        sent.driver.append(self)
        return await fetch(self, session, params)

    def record(*args: Any) -> None:
        sent.sql.append(args[2])

    monkeypatch.setattr(DriverStatement, "fetch", spy)
    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
        monkeypatch.setattr(DriverStatement, "fetch", fetch)


async def test_one_round_trip_per_transaction_and_none_more_when_idle(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    index = SearchIndex(clock=clock)
    await refresh(db, index)  # built at 1000: the watermark moved then
    with round_trips(db, monkeypatch) as sent:
        async with db.session() as s:
            await index.refresh(s)  # the first look-back
            await index.refresh(s)  # the same transaction: nothing
        clock.t += 0.5
        await refresh(db, index)  # within lookback_every: the fast path
        await refresh(db, index)
    assert sent.driver == [search_sync._RECENT, search_sync._NEWEST, search_sync._NEWEST]
    assert sent.count == 3

    # idle: a look-back more than lookback + lookback_every after the watermark moved is
    # the last one until it moves again
    with round_trips(db, monkeypatch) as sent:
        clock.t += 12
        await refresh(db, index)
        for _ in range(3):
            clock.t += 1
            await refresh(db, index)
    assert sent.driver == [search_sync._RECENT] + [search_sync._NEWEST] * 3 and sent.count == 4

    await stamp(db, Item, "I12-0", LATER, name="Banarasi silk saree zero")
    with round_trips(db, monkeypatch) as sent:
        clock.t += 1
        assert await refresh(db, index) == 1  # the fast path reads the change
        clock.t += 1
        assert await refresh(db, index) == 0  # and looking back starts again
    assert sent.driver == [search_sync._NEWEST, search_sync._RECENT]
    assert sent.count == 4  # newest, providers (none), the item; then the look-back


async def test_a_late_provider_rename_retokenises_its_items(db: Database) -> None:
    clock = Clock()
    index = SearchIndex(clock=clock)
    await refresh(db, index)
    await stamp(db, Provider, "P1", LATER)
    await refresh(db, index)
    assert index.provider_watermark == LATER
    await stamp(db, Provider, "P2", LATE, name="Ganga Looms")
    clock.t += 0.5
    await refresh(db, index)
    assert found(index, "ganga") == []
    clock.t += 0.5
    await refresh(db, index)
    assert found(index, "ganga") == ["I12-P2-0", "I12-P2-1"]


async def test_a_rename_seen_by_a_full_catalogue_search_first_still_retokenises(
    db: Database,
) -> None:
    # full-catalogue searches catch up with providers only; the next filtered search must
    # still give the renamed provider's items its new name
    index = SearchIndex()
    await refresh(db, index)
    await stamp(db, Provider, "P2", LATER, name="Ganga Looms")
    async with db.session() as s:
        assert await index.refresh_providers(s) == ["P2"]
    await refresh(db, index)
    assert found(index, "ganga") == ["I12-P2-0", "I12-P2-1"]


async def test_full_catalogue_searches_look_back_at_providers(db: Database) -> None:
    clock = Clock()
    index = SearchIndex(clock=clock)
    cities = default_directory()

    async def serving() -> list[str]:
        async with db.session() as s:
            await index.refresh_providers(s)
        return index.serving_providers(cities, city="std:0542")

    assert await serving() == ["P1", "P2"]
    await stamp(db, Provider, "P1", LATER)
    assert await serving() == ["P1", "P2"] and index.provider_watermark == LATER
    await stamp(db, Provider, "P2", LATE, enabled=False)
    clock.t += 0.5
    assert await serving() == ["P1", "P2"]
    clock.t += 0.5
    assert await serving() == ["P1"]
