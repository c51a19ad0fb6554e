"""Catalogue search: an in-memory inverted index over live items (queries: ``intent.py``).

Why in memory: a 100,000-item catalogue has ~1.5 M (token, item) pairs but only a few thousand
distinct tokens; a Python dict of posting sets answers a name or district query in about a
millisecond, and transliteration-tolerant matching (phonetic keys, one-edit typos, aliases)
needs the vocabulary at hand, which a SQL ``LIKE`` cannot give. The index is built at startup
by streaming the items table (a few seconds for 100k rows). The database stays the source of
truth; the index only answers "which item ids match", and ``on_search`` reads those items from
the database. The index also holds each provider's locations and fulfillment types, so "which
stores serve this city / this address" needs no table scan.

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

``generation`` counts the changes the index applied (an item or provider row whose stamp or
liveness differs from the one indexed, a provider set or an item removed): anything keyed by
it (``reply_cache``) is never served from before a change the index has seen.

Matching: each query token expands to vocabulary tokens with a quality (exact 1.0, alias 0.95,
stem/prefix 0.8, phonetic 0.7, one edit 0.6); an item matches when *every* query token matches
one of its tokens (name, category, ODOP product, district, state, sector, provider, brand,
colour). Results are ranked by summed quality, then id.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, literal_column, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.catalogue import text
from ondc_adapter.catalogue.cities import CityDirectory, default_directory, std_of_city
from ondc_adapter.catalogue.driver_sql import DriverStatement
from ondc_adapter.catalogue.intent import Query
from ondc_adapter.catalogue.store import (
    LocationRecord,
    in_city,
    is_serviceable,
    location_record,
    serves_city,
)
from ondc_adapter.catalogue.tables import INCLUSION_FACTS, Item, Location, Provider

EXACT, ALIAS, STEM, PHONETIC, EDIT = 1.0, 0.95, 0.8, 0.7, 0.6


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


@dataclass(slots=True)
class _Doc:
    id: str
    provider_id: str
    domain: str
    category_id: str
    lgd_code: str | None
    district: str  # folded
    state: str  # folded
    sector: str
    gi: bool
    tokens: frozenset[str]
    updated_at: datetime | None = None  # the row's stamp when indexed: a re-read is no change


@dataclass
class _ProviderInfo:
    name_tokens: frozenset[str]
    facts: frozenset[str]
    enabled: bool
    fulfillment_types: frozenset[str] = frozenset()
    locations: tuple[LocationRecord, ...] = ()


@dataclass
class SearchIndex:
    """Item ids by token. Not thread-safe; one per process (see ``refresh``).

    ``lookback``, ``lookback_every`` and ``clock`` (monotonic seconds) set the look-back (see
    the module notes); ``generation`` moves with every change the index applies."""

    docs: dict[int, _Doc] = field(default_factory=dict)
    ordinal: dict[str, int] = field(default_factory=dict)  # item id -> ordinal
    postings: dict[str, set[int]] = field(default_factory=dict)
    by_provider: dict[str, set[int]] = field(default_factory=dict)
    by_lgd: dict[str, set[int]] = field(default_factory=dict)
    by_domain: dict[str, set[int]] = field(default_factory=dict)
    providers: dict[str, _ProviderInfo] = field(default_factory=dict)
    phonetic_keys: dict[str, set[str]] = field(default_factory=dict)
    delete_keys: dict[str, set[str]] = field(default_factory=dict)
    watermark: datetime | None = None  # newest item updated_at seen
    provider_watermark: datetime | None = None  # newest provider updated_at seen
    generation: int = 0
    # 10 s: longer than any writer but the file importer holds a transaction after stamping
    # (milliseconds for the admin API and the order processor's batches, ~4 s for the
    # console's largest CSV upload: 2 MB, ~2,400 rows at the ~600 rows/s measured), short
    # enough that what a look-back lists stays small: the rows written in the last ~11 s, a
    # few hundred at a busy node's order rate
    lookback: timedelta = timedelta(seconds=10)
    lookback_every: float = 1.0
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    # the updated_at of each provider as set: one re-read unchanged is no change
    _provider_stamps: dict[str, datetime] = field(default_factory=dict, repr=False)
    # providers renamed since their items were last tokenised (items carry provider names)
    _retokenise: set[str] = field(default_factory=set, repr=False)
    # clock() when a watermark last moved, and of the last look-backs (items and providers,
    # providers only: full-catalogue searches catch up with providers alone)
    _moved: float = 0.0
    _looked_back: float | None = None
    _providers_looked_back: float | None = None
    # this index's identity in ``version``: another index counts its generations from 0 too
    _token: object = field(default_factory=object, repr=False, compare=False)
    _sorted_vocab: list[str] | None = None
    _next: int = 0
    # city-wide answers of serving_providers with the shipped city table, by (city,
    # fulfillment type): every search asks, and walking all stores' locations takes ms
    _serving: dict[tuple[str, str | None], list[str]] = field(default_factory=dict)
    # stores_in_city with the shipped city table, by STD code (same lifetime as _serving)
    _local: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)
    # one catch-up at a time: concurrent searches (several processor loops, the start-up
    # warm-up) would otherwise each read the whole catalogue into the same index
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False, compare=False)
    # the transaction the index was last brought up to date in (see ``refresh``)
    _fresh_in: object | None = field(default=None, repr=False, compare=False)

    @property
    def version(self) -> tuple[object, int]:
        """Stands for everything the index has applied: equal versions, same catalogue state
        as far as the index has seen (what ``reply_cache`` keys hold)."""
        return self._token, self.generation

    # ------------------------------------------------------------------ maintenance

    def _add_token(self, token: str, ordinal: int) -> None:
        posting = self.postings.get(token)
        if posting is None:
            posting = self.postings[token] = set()
            self._sorted_vocab = None
            key = text.phonetic(token)
            if key:
                self.phonetic_keys.setdefault(key, set()).add(token)
            if len(token) >= text.MIN_PHONETIC:
                for d in text.deletes(token):
                    self.delete_keys.setdefault(d, set()).add(token)
                self.delete_keys.setdefault(token, set()).add(token)
        posting.add(ordinal)

    def set_provider(
        self,
        provider_id: str,
        name: str,
        facts: Iterable[str],
        enabled: bool,
        *,
        fulfillment_types: Iterable[str] = (),
        locations: Iterable[LocationRecord] = (),
    ) -> None:
        info = _ProviderInfo(
            frozenset(text.tokens(name)), frozenset(facts), enabled,
            frozenset(fulfillment_types), tuple(locations),
        )
        old = self.providers.get(provider_id)
        if self.watermark is not None and (old is None or old.name_tokens != info.name_tokens):
            self._retokenise.add(provider_id)  # its indexed items carry the old name
        self.providers[provider_id] = info
        self._serving.clear()
        self._local.clear()
        # an answer shows more of a store than the index keeps (its texts, timings): any
        # change the index was told of counts
        self.generation += 1

    def upsert(self, row: dict[str, Any], *, force: bool = False) -> bool:
        """Index (or re-index) one item; ``row`` has the item columns used here. Dead items
        (disabled or deleted) are removed: search only offers live items. Returns whether
        anything changed (and ``generation`` moved): a live row with the ``updated_at`` it was
        indexed with is taken as the same row unless ``force`` (its provider was renamed)."""
        live = row.get("enabled", True) and row.get("deleted_at") is None
        stamp = row.get("updated_at")
        ordinal = self.ordinal.get(row["id"])
        if ordinal is None and not live:
            return False  # answers list live items only: a dead one unknown here changes none
        if (
            ordinal is not None and live and not force and stamp is not None
            and self.docs[ordinal].updated_at == stamp
        ):
            return False
        self.generation += 1
        self._drop(row["id"])
        if not live:
            return True
        ordinal = self._next
        self._next += 1
        provider = self.providers.get(row["provider_id"])
        words = [
            row["name"], row["category_id"], row.get("odop_product") or "",
            row.get("odop_district") or "", row.get("odop_state") or "",
            row.get("odop_sector") or "",
        ]
        attributes = row.get("attributes") or {}
        words += [attributes.get("brand", ""), attributes.get("colour_name", "")]
        toks = set(text.tokens(" ".join(words)))
        if provider is not None:
            toks |= provider.name_tokens
        if row.get("odop_gi"):
            toks.add("gi")
        doc = _Doc(
            id=row["id"],
            provider_id=row["provider_id"],
            domain=row["domain"],
            category_id=row["category_id"],
            lgd_code=row.get("odop_lgd_code"),
            district=text.fold(row.get("odop_district") or ""),
            state=text.fold(row.get("odop_state") or ""),
            sector=(row.get("odop_sector") or "").lower(),
            gi=bool(row.get("odop_gi")),
            tokens=frozenset(toks),
            updated_at=stamp,
        )
        self.docs[ordinal] = doc
        self.ordinal[doc.id] = ordinal
        for token in doc.tokens:
            self._add_token(token, ordinal)
        self.by_provider.setdefault(doc.provider_id, set()).add(ordinal)
        self.by_domain.setdefault(doc.domain, set()).add(ordinal)
        if doc.lgd_code:
            self.by_lgd.setdefault(doc.lgd_code, set()).add(ordinal)
        return True

    def remove(self, item_id: str) -> None:
        if self._drop(item_id):
            self.generation += 1

    def _drop(self, item_id: str) -> bool:
        ordinal = self.ordinal.pop(item_id, None)
        if ordinal is None:
            return False
        doc = self.docs.pop(ordinal)
        for token in doc.tokens:
            self.postings[token].discard(ordinal)
        self.by_provider[doc.provider_id].discard(ordinal)
        self.by_domain[doc.domain].discard(ordinal)
        if doc.lgd_code:
            self.by_lgd[doc.lgd_code].discard(ordinal)
        return True

    def __len__(self) -> int:
        return len(self.docs)

    # ------------------------------------------------------------------ loading

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

    def serving_providers(
        self,
        cities: CityDirectory,
        *,
        city: str,
        gps: str | None = None,
        area_code: str | None = None,
        fulfillment_type: str | None = None,
    ) -> list[str]:
        """Enabled providers with a location serving the buyer: at the given address when
        the search names one (the finer fact), else anywhere in ``city``; optionally only
        those offering ``fulfillment_type``. City-wide answers are remembered until a
        provider changes."""
        shipped = cities is default_directory()
        memo = (city, fulfillment_type) if shipped and not (gps or area_code) else None
        if memo is not None and memo in self._serving:
            return list(self._serving[memo])
        out = []
        for provider_id, info in self.providers.items():
            if not info.enabled:
                continue
            if fulfillment_type and not (
                fulfillment_type in info.fulfillment_types
                or "Delivery and Self-Pickup" in info.fulfillment_types
            ):
                continue
            if any(
                is_serviceable(loc, gps, area_code) if (gps or area_code)
                else serves_city(loc, city, cities)
                for loc in info.locations
            ):
                out.append(provider_id)
        out.sort()
        if memo is not None:
            if len(self._serving) > 1000:  # cities x fulfillment types: bounded anyway
                self._serving.clear()
            self._serving[memo] = out
            return list(out)
        return out

    def stores_in_city(
        self, provider_ids: Iterable[str], *, city: str, cities: CityDirectory | None = None
    ) -> dict[str, frozenset[str]]:
        """Those of ``provider_ids`` with a store (not disabled) *in* ``city`` itself, not
        only serving it from elsewhere, with the ids of those stores: a search of the city
        lists them first (``on_search_pages.iter_pages``). Empty for ``*`` and for codes
        that are not ``std:``."""
        code = std_of_city(city)
        if code is None:
            return {}
        directory = cities if cities is not None else default_directory()
        local = self._local.get(code) if directory is default_directory() else None
        if local is None:
            local = {}
            for provider_id, info in self.providers.items():
                ids = frozenset(
                    loc.id for loc in info.locations
                    if loc.status != "disable" and in_city(loc, code, directory)
                )
                if ids:
                    local[provider_id] = ids
            if directory is default_directory():
                if len(self._local) > 1000:  # bounded by the city codes asked anyway
                    self._local.clear()
                self._local[code] = local
        return {p: local[p] for p in provider_ids if p in local}

    def providers_for_intent(
        self, intent: dict[str, Any], *, city: str, cities: CityDirectory | None = None
    ) -> list[str]:
        """``serving_providers`` for a search intent: its ``fulfillment.type`` and end
        location (gps, ``address.area_code``) in ``city``; ``cities`` defaults to the shipped
        city table."""
        fulfillment = intent.get("fulfillment") or {}
        location = (fulfillment.get("end") or {}).get("location") or {}
        return self.serving_providers(
            cities if cities is not None else default_directory(),
            city=city,
            gps=location.get("gps"),
            area_code=(location.get("address") or {}).get("area_code"),
            fulfillment_type=fulfillment.get("type"),
        )

    # ------------------------------------------------------------------ matching

    def _vocab(self) -> list[str]:
        if self._sorted_vocab is None:
            self._sorted_vocab = sorted(t for t, p in self.postings.items() if p)
        return self._sorted_vocab

    def expand(self, token: str) -> dict[str, float]:
        """Vocabulary tokens that ``token`` may stand for, with a match quality."""
        out: dict[str, float] = {}

        def offer(candidate: str, quality: float) -> None:
            if self.postings.get(candidate) and out.get(candidate, 0) < quality:
                out[candidate] = quality

        folded = text.fold(token).replace(" ", "")
        stemmed = text.stem(folded)
        offer(stemmed, EXACT)
        offer(folded, EXACT)
        for alias in text.aliases(folded):
            offer(alias, ALIAS)
        if stemmed.endswith("i") and len(stemmed) > 5:  # demonyms: Jaipuri -> Jaipur
            offer(stemmed[:-1], STEM)
        if len(stemmed) >= 4:
            vocab = self._vocab()
            start = bisect.bisect_left(vocab, stemmed)
            for candidate in vocab[start:start + 50]:
                if not candidate.startswith(stemmed):
                    break
                offer(candidate, STEM)
        key = text.phonetic(stemmed)
        if key:
            # same sound, and spelled close enough: phonetic keys alone over-merge
            # ("pottery" and "patturu" share one)
            for candidate in self.phonetic_keys.get(key, ()):
                if text.within_edits(candidate, stemmed, 2):
                    offer(candidate, PHONETIC)
            for target in text.aliases_by_sound().get(key, ()):
                offer(target, ALIAS * PHONETIC)
        if len(stemmed) >= text.MIN_PHONETIC and not out:
            for variant in (*text.deletes(stemmed), stemmed):
                for candidate in self.delete_keys.get(variant, ()):
                    offer(candidate, EDIT)
        return out

    def _text_scores(self, query_text: str) -> dict[int, float]:
        """Ordinal -> score for items matching every token. A text with no usable token
        (only stop words, or a script not romanised) matches nothing: a name the buyer typed
        must never widen into the whole catalogue.

        When no item matches every token of a multi-word query, the items matching the most
        tokens are returned instead ("blue pottery" finds pottery even without a blue one)."""
        words = [w for w in text.fold(query_text).split() if w not in text.STOPWORDS]
        if not words:
            return {}
        per_word: list[dict[int, float]] = []
        for word in words:
            best: dict[int, float] = {}
            for candidate, quality in self.expand(word).items():
                for ordinal in self.postings[candidate]:
                    if best.get(ordinal, 0.0) < quality:
                        best[ordinal] = quality
            per_word.append(best)
        per_word.sort(key=len)
        scores = {o: s for o, s in per_word[0].items()}
        for best in per_word[1:]:
            scores = {o: s + best[o] for o, s in scores.items() if o in best}
            if not scores:
                break
        if scores or len(per_word) == 1:
            return scores
        counts: dict[int, tuple[int, float]] = {}
        for best in per_word:
            for o, q in best.items():
                n, total = counts.get(o, (0, 0.0))
                counts[o] = (n + 1, total + q)
        if not counts:
            return {}
        most = max(n for n, _ in counts.values())
        return {o: total for o, (n, total) in counts.items() if n == most}

    def search(self, query: Query) -> list[str]:
        """Ids of live items matching ``query``, best first."""
        candidates: set[int] | None = None

        def narrow(ordinals: Iterable[int]) -> None:
            nonlocal candidates
            candidates = set(ordinals) if candidates is None else candidates & set(ordinals)

        if query.provider_id:
            narrow(self.by_provider.get(query.provider_id, ()))
        if query.lgd_codes:
            narrow(o for code in query.lgd_codes for o in self.by_lgd.get(code, ()))
        scores: dict[int, float] = {}
        if query.text:
            scores = self._text_scores(query.text)
            narrow(scores)
        if query.provider_name:
            narrow(self._text_scores(query.provider_name))
        if candidates is None:
            candidates = set(self.by_domain.get(query.domain, ())) if query.domain else set(
                self.docs
            )
        out: list[tuple[float, str]] = []
        for ordinal in candidates:
            doc = self.docs[ordinal]
            if query.domain and doc.domain != query.domain:
                continue
            if query.category_id and doc.category_id != query.category_id:
                continue
            if query.gi_only and not doc.gi:
                continue
            if query.states and doc.state not in query.states:
                continue
            if query.districts and doc.district not in query.districts:
                continue
            if query.sectors and doc.sector not in query.sectors:
                continue
            provider = self.providers.get(doc.provider_id)
            if provider is not None and not provider.enabled:
                continue
            if query.facts and (provider is None or not query.facts <= provider.facts):
                continue
            out.append((-scores.get(ordinal, 0.0), doc.id))
        out.sort()
        return [item_id for _, item_id in out]
