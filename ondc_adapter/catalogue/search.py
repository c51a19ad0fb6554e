"""Catalogue search: an in-memory inverted index over live items (queries: ``intent.py``).

Why in memory: a 100,000-item catalogue has ~1.5 M (token, item) pairs but only a few thousand
distinct tokens; a Python dict of posting sets answers a name or district query in about a
millisecond, and transliteration-tolerant matching (phonetic keys, one-edit typos, aliases)
needs the vocabulary at hand, which a SQL ``LIKE`` cannot give. The index is built at startup
by streaming the items table (a few seconds for 100k rows) and kept current by ``refresh``:
one indexed query ``updated_at > watermark`` per transaction that searches, which also picks
up imports and admin changes made by other processes. (A write whose timestamp is older than one
already seen but which commits later is missed until the next full rebuild; writers stamp
``updated_at`` just before committing, so the window is a few milliseconds.) The database
stays the source of truth; the index only answers "which item ids match", and ``on_search``
reads those items from the database. The index also holds each provider's locations and
fulfillment types, so "which stores serve this city / this address" needs no table scan.

Matching: each query token expands to vocabulary tokens with a quality (exact 1.0, alias 0.95,
stem/prefix 0.8, phonetic 0.7, one edit 0.6); an item matches when *every* query token matches
one of its tokens (name, category, ODOP product, district, state, sector, provider, brand,
colour). Results are ranked by summed quality, then id.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
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


@dataclass
class _ProviderInfo:
    name_tokens: frozenset[str]
    facts: frozenset[str]
    enabled: bool
    fulfillment_types: frozenset[str] = frozenset()
    locations: tuple[LocationRecord, ...] = ()


@dataclass
class SearchIndex:
    """Item ids by token. Not thread-safe; one per process (see ``refresh``)."""

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
        self.providers[provider_id] = _ProviderInfo(
            frozenset(text.tokens(name)), frozenset(facts), enabled,
            frozenset(fulfillment_types), tuple(locations),
        )
        self._serving.clear()
        self._local.clear()

    def upsert(self, row: dict[str, Any]) -> None:
        """Index (or re-index) one item; ``row`` has the item columns used here. Dead items
        (disabled or deleted) are removed: search only offers live items."""
        self.remove(row["id"])
        if not row.get("enabled", True) or row.get("deleted_at") is not None:
            return
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
        )
        self.docs[ordinal] = doc
        self.ordinal[doc.id] = ordinal
        for token in doc.tokens:
            self._add_token(token, ordinal)
        self.by_provider.setdefault(doc.provider_id, set()).add(ordinal)
        self.by_domain.setdefault(doc.domain, set()).add(ordinal)
        if doc.lgd_code:
            self.by_lgd.setdefault(doc.lgd_code, set()).add(ordinal)

    def remove(self, item_id: str) -> None:
        ordinal = self.ordinal.pop(item_id, None)
        if ordinal is None:
            return
        doc = self.docs.pop(ordinal)
        for token in doc.tokens:
            self.postings[token].discard(ordinal)
        self.by_provider[doc.provider_id].discard(ordinal)
        self.by_domain[doc.domain].discard(ordinal)
        if doc.lgd_code:
            self.by_lgd[doc.lgd_code].discard(ordinal)

    def __len__(self) -> int:
        return len(self.docs)

    # ------------------------------------------------------------------ loading

    async def refresh(self, session: AsyncSession, batch: int = 5000) -> int:
        """Catch up with the database: providers (with their locations) and items changed
        since the watermarks (everything on first call). Returns the number of item rows
        read.

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
        if self.watermark is not None and self.provider_watermark is not None:
            # before every search: one round trip says whether anything changed at all
            newest_provider, newest_item = (await _NEWEST.fetch(session))[0]
            if (newest_provider is None or newest_provider <= self.provider_watermark) and (
                newest_item is None or newest_item <= self.watermark
            ):
                return 0
        changed_providers = await self._refresh_providers(session)
        since = self.watermark
        newest = since
        cols = [
            Item.id, Item.provider_id, Item.domain, Item.category_id, Item.name,
            Item.odop_product, Item.odop_district, Item.odop_state, Item.odop_sector,
            Item.odop_lgd_code, Item.odop_gi, Item.attributes, Item.enabled, Item.deleted_at,
            Item.updated_at,
        ]
        i_stmt = select(*cols)
        if since is not None:
            condition = Item.updated_at > since
            if changed_providers:  # a renamed provider changes its items' tokens
                condition = or_(condition, Item.provider_id.in_(changed_providers))
            i_stmt = i_stmt.where(condition)
        count = 0
        if since is None:  # the whole catalogue: streamed, a batch in memory at a time
            result = await session.stream(i_stmt.execution_options(yield_per=batch))
            async for part in result.mappings().partitions(batch):
                count += len(part)
                newest = self._take(part, newest)
        else:
            # the catch-up before every search: usually nothing, and a server-side cursor
            # costs two extra round trips
            part = (await session.execute(i_stmt)).mappings().all()
            count = len(part)
            newest = self._take(part, newest)
        self.watermark = newest
        return count

    def _take(self, rows: Iterable[Any], newest: datetime | None) -> datetime | None:
        for row in rows:
            self.upsert(dict(row))
            if newest is None or row["updated_at"] > newest:
                newest = row["updated_at"]
        return newest

    async def refresh_providers(self, session: AsyncSession) -> list[str]:
        """Catch up with providers and their locations only (what ``serving_providers``
        needs; a full-catalogue search needs no item index). Returns the changed ids."""
        async with self._lock:
            return await self._refresh_providers(session)

    async def _refresh_providers(self, session: AsyncSession) -> list[str]:
        since = self.provider_watermark
        p_stmt = select(Provider)
        if since is not None:
            p_stmt = p_stmt.where(Provider.updated_at > since)
        changed = (await session.scalars(p_stmt)).all()
        if not changed:
            return []
        # Locations are written with their provider (same updated_at): reload those of the
        # changed providers only.
        l_stmt = select(Location).where(Location.deleted_at.is_(None))
        if since is not None:
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
        self.provider_watermark = max(p.updated_at for p in changed)
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
