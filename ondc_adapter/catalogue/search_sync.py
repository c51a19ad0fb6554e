"""How a ``SearchIndex`` (``search``) keeps up with the database.

Keeping current (``refresh``, once per transaction that searches, which also picks up imports
and admin changes made by other processes):

* fast path: one indexed query, the newest ``updated_at`` of providers and of items (the
  watermarks); only when one is newer than the index has seen are the rows ``updated_at >
  watermark`` read.
* look-back: a write can commit *after* a write stamped later (two concurrent writers, a
  transaction held between stamping and commit), so its stamp is already below the watermark
  when it becomes visible and the fast path never reads it. At most once per
  ``lookback_every`` seconds (1 s) the refresh replaces the fast path's query by one that lists
  (id, ``updated_at``, live) of the providers and items stamped within ``lookback`` +
  ``lookback_every`` (10 s + 1 s) before the watermarks (an index range scan on
  ``updated_at``, same round trip count), and reads in full only the rows whose stamp or
  liveness differs from what the index holds. Look-backs stop once one has run more than that
  reach after the watermarks last moved (every write still within the guarantee below has
  committed by then), so an idle node runs none. Cost (PostgreSQL, 20,000 items, measured
  with the index alone): ~1 ms when the reach holds few rows (the fast path's query: ~0.5
  ms); but an import stamps all its rows with one time, so in the ~11 s after one, or after
  a start-up build that follows one, every look-back lists all of them: ~60 ms per 20,000
  rows, once a second.

What a search is guaranteed to see: a write that commits within ``lookback`` (10 s) of the
``updated_at`` it stamped, on writers whose clocks agree with each other's to well under a
second (NTP), is seen by the first search of any transaction beginning ``lookback_every`` (1 s)
or more after its commit; a search in a transaction that refreshed before the commit (the
processor's batch, see ``refresh``) answers from that transaction's state. Who could hold
longer: the file importer (``importer.import_records``: ``catalogue import``, the console's CSV
upload) stamps every row with the ``now`` it was given when it starts and commits when the
whole file is written, so an import taking longer than ``lookback`` while other writes commit
(orders taking stock, the admin API) is found by searches only after the next full build
(a restart). The admin API and the order processor (``write``, ``store.reserve_stock``) stamp
while handling a request and commit with it or with its batch: milliseconds. A rewrite of a
row with the very same stamp it had is never seen (nothing tells it apart from a re-read).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, func, literal_column, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.catalogue.driver_sql import DriverStatement
from ondc_adapter.catalogue.store import LocationRecord, location_record
from ondc_adapter.catalogue.tables import INCLUSION_FACTS, Item, Location, Provider

if TYPE_CHECKING:
    from ondc_adapter.catalogue.search import _Doc

# the catch-up's question before every search, on the driver directly (see driver_sql)
_NEWEST = DriverStatement(lambda _pg: select(
    select(func.max(Provider.updated_at)).scalar_subquery(),
    select(func.max(Item.updated_at)).scalar_subquery(),
))

# the look-back's question (see the module notes): what was stamped since a point, narrow
# rows (kind 0 a provider, 1 an item; id, stamp, live) from the updated_at indexes, in the one
# round trip the fast path's question would have cost
_RECENT = DriverStatement(lambda _pg: union_all(
    select(literal_column("0"), Provider.id, Provider.updated_at, Provider.enabled)
    .where(Provider.updated_at > bindparam("providers_since")),
    select(
        literal_column("1"), Item.id, Item.updated_at,
        and_(Item.enabled.is_(True), Item.deleted_at.is_(None)),
    ).where(Item.updated_at > bindparam("items_since")),
))

# the item columns the index reads
_ITEM_COLUMNS = (
    Item.id, Item.provider_id, Item.domain, Item.category_id, Item.name,
    Item.odop_product, Item.odop_district, Item.odop_state, Item.odop_sector,
    Item.odop_lgd_code, Item.odop_gi, Item.attributes, Item.enabled, Item.deleted_at,
    Item.updated_at,
)
# above this many ids, re-read by the stamp range instead of an id list (bind parameters are
# capped by the drivers, and a long list costs more to send than the window's rows)
_MAX_IDS = 1000


class CatchUp:
    """``SearchIndex``'s reads of the database (a mixin: the state is the index's fields)."""

    # the index's fields this part reads and moves (declared in ``SearchIndex``)
    docs: dict[int, _Doc]
    ordinal: dict[str, int]
    watermark: datetime | None
    provider_watermark: datetime | None
    lookback: timedelta
    lookback_every: float
    clock: Callable[[], float]
    _provider_stamps: dict[str, datetime]
    _retokenise: set[str]
    _moved: float
    _looked_back: float | None
    _providers_looked_back: float | None
    _lock: asyncio.Lock
    _fresh_in: object | None

    upsert: Callable[..., bool]
    set_provider: Callable[..., None]


    async def refresh(self, session: AsyncSession, batch: int = 5000) -> int:
        """Catch up with the database: providers (with their locations) and items changed
        since the watermarks (everything on first call); at most once per ``lookback_every``
        seconds, also those written late below the watermarks (the look-back, see the module
        notes). Returns the number of item rows read in full.

        Once per transaction: the processor answers a batch of searches in one transaction,
        and every request of the batch arrived before it began, so what the first refresh of
        the transaction saw already covers every change committed before any of them."""
        transaction = session.get_transaction()
        if transaction is not None and transaction is self._fresh_in:
            return 0
        async with self._lock:
            count = await self._refresh(session, batch)
        self._fresh_in = transaction
        return count

    async def _refresh(self, session: AsyncSession, batch: int) -> int:
        if self.watermark is None or self.provider_watermark is None:
            return await self._catch_up(session, batch)
        if self._due(self._looked_back):
            return await self._look_back(session, batch)
        if not self._retokenise:
            # before every search: one round trip says whether anything changed at all
            newest_provider, newest_item = (await _NEWEST.fetch(session))[0]
            if (newest_provider is None or newest_provider <= self.provider_watermark) and (
                newest_item is None or newest_item <= self.watermark
            ):
                return 0
        return await self._catch_up(session, batch)

    def _reach(self) -> timedelta:
        # a write within ``lookback`` of its stamp that committed just after a look-back is
        # listed by the next, ``lookback_every`` later, by when the watermark may have moved
        # on by as much
        return self.lookback + timedelta(seconds=self.lookback_every)

    def _due(self, last: float | None) -> bool:
        """Whether a look-back is due, ``last`` the clock() of the previous one."""
        if last is None:
            return True
        now = self.clock()
        if now - last < self.lookback_every:
            return False
        # One look-back that ran more than the reach after the watermarks last moved listed
        # every write within the guarantee stamped below them (all committed by then); later
        # ones would list the same rows again: none until a watermark moves.
        return last - self._moved <= self._reach().total_seconds()

    def _advance(
        self, *, items: datetime | None = None, providers: datetime | None = None
    ) -> None:
        """Move the watermarks up to ``items`` / ``providers`` (never down)."""
        if items is not None and (self.watermark is None or items > self.watermark):
            self.watermark = items
            self._moved = self.clock()
        if providers is not None and (
            self.provider_watermark is None or providers > self.provider_watermark
        ):
            self.provider_watermark = providers
            self._moved = self.clock()

    async def _catch_up(self, session: AsyncSession, batch: int) -> int:
        """The fast path's reads: what is stamped above the watermarks (all on first call),
        and the items of renamed providers."""
        await self._refresh_providers(session, since=self.provider_watermark)
        if self.watermark is None:
            return await self._read_items(session, batch, None, whole=True)
        return await self._read_items(session, batch, Item.updated_at > self.watermark)

    async def _look_back(self, session: AsyncSession, batch: int) -> int:
        """List what is stamped within the reach below the watermarks (and above them) and
        read in full only the rows the index does not hold as they are."""
        assert self.watermark is not None and self.provider_watermark is not None
        self._looked_back = self._providers_looked_back = self.clock()
        items_since = self.watermark - self._reach()
        providers_since = self.provider_watermark - self._reach()
        providers: list[str] = []
        late: list[str] = []
        newer = False
        newest: datetime | None = None
        recent = await _RECENT.fetch(
            session, {"providers_since": providers_since, "items_since": items_since}
        )
        for kind, key, stamp, live in recent:
            if kind == 0:
                if self._provider_stamps.get(key) != stamp:
                    providers.append(key)
                continue
            newest = stamp if newest is None or stamp > newest else newest
            if not self._item_differs(key, stamp, bool(live)):
                continue
            if stamp > self.watermark:
                newer = True  # what the fast path would have read
            else:
                late.append(key)
        if providers:
            if len(providers) > _MAX_IDS:
                await self._refresh_providers(session, since=providers_since)
            else:
                await self._refresh_providers(session, since=None, ids=providers)
        conditions: list[Any] = []
        if newer:
            conditions.append(Item.updated_at > self.watermark)
        if len(late) > _MAX_IDS:
            conditions.append(Item.updated_at > items_since)
        elif late:
            conditions.append(Item.id.in_(late))
        # every row listed was looked at: the watermark may pass those not read in full
        self._advance(items=newest)
        if not conditions and not self._retokenise:
            return 0
        return await self._read_items(session, batch, or_(*conditions) if conditions else None)

    def _item_differs(self, item_id: str, stamp: datetime, live: bool) -> bool:
        ordinal = self.ordinal.get(item_id)
        if ordinal is None:
            return live  # a dead item unknown here changes no answer (see ``upsert``)
        return not live or self.docs[ordinal].updated_at != stamp

    async def _read_items(
        self, session: AsyncSession, batch: int, condition: Any, *, whole: bool = False
    ) -> int:
        """Read in full and index the items meeting ``condition`` (None: none) and those of
        providers renamed since their items were indexed; with ``whole``, every item."""
        renamed = sorted(self._retokenise)
        force = set(renamed)
        self._retokenise.clear()
        if whole or len(renamed) > _MAX_IDS:
            # the whole catalogue: streamed, a batch in memory at a time
            result = await session.stream(
                select(*_ITEM_COLUMNS).execution_options(yield_per=batch)
            )
            count = 0
            async for part in result.mappings().partitions(batch):
                count += len(part)
                self._advance(items=self._take(part, force))
            return count
        if renamed:  # a renamed provider changes its items' tokens
            by_provider = Item.provider_id.in_(renamed)
            condition = by_provider if condition is None else or_(condition, by_provider)
        if condition is None:
            return 0
        # usually a few rows: a server-side cursor costs two extra round trips
        part = (await session.execute(select(*_ITEM_COLUMNS).where(condition))).mappings().all()
        self._advance(items=self._take(part, force))
        return len(part)

    def _take(self, rows: Sequence[Any], renamed: set[str]) -> datetime | None:
        """Index ``rows``; the newest stamp among them."""
        newest: datetime | None = None
        for row in rows:
            self.upsert(dict(row), force=row["provider_id"] in renamed)
            if newest is None or row["updated_at"] > newest:
                newest = row["updated_at"]
        return newest

    async def refresh_providers(self, session: AsyncSession) -> list[str]:
        """Catch up with providers and their locations only (what ``serving_providers``
        needs; a full-catalogue search needs no item index), with their own look-back.
        Returns the changed ids."""
        async with self._lock:
            since = self.provider_watermark
            if since is not None and self._due(self._providers_looked_back):
                self._providers_looked_back = self.clock()
                since -= self._reach()
            return await self._refresh_providers(session, since=since)

    async def _refresh_providers(
        self, session: AsyncSession, *, since: datetime | None, ids: list[str] | None = None
    ) -> list[str]:
        """Read the providers stamped after ``since`` (all when None) or those of ``ids``, and
        set those whose stamp differs from the one set; returns their ids."""
        p_stmt = select(Provider)
        if ids is not None:
            p_stmt = p_stmt.where(Provider.id.in_(ids))
        elif since is not None:
            p_stmt = p_stmt.where(Provider.updated_at > since)
        read = (await session.scalars(p_stmt)).all()
        changed = [p for p in read if self._provider_stamps.get(p.id) != p.updated_at]
        if changed:
            # Locations are written with their provider (same updated_at): reload those of
            # the changed providers only.
            l_stmt = select(Location).where(Location.deleted_at.is_(None))
            if since is not None or ids is not None:
                l_stmt = l_stmt.where(Location.provider_id.in_([p.id for p in changed]))
            locations: dict[str, list[LocationRecord]] = {}
            for loc in (await session.scalars(l_stmt)).all():
                locations.setdefault(loc.provider_id, []).append(location_record(loc))
            for p in changed:
                facts = [f for f in INCLUSION_FACTS if getattr(p, f)]
                self.set_provider(
                    p.id, p.name, facts, p.enabled and p.deleted_at is None,
                    fulfillment_types=(f.get("type", "") for f in p.fulfillments or ()),
                    locations=sorted(locations.get(p.id, ()), key=lambda r: r.id),
                )
                self._provider_stamps[p.id] = p.updated_at
        if read:
            self._advance(providers=max(p.updated_at for p in read))
        return [p.id for p in changed]
