"""Catalogue search: an in-memory inverted index over live items (queries: ``intent.py``).

Why in memory: a 100,000-item catalogue has ~1.5 M (token, item) pairs but only a few thousand
distinct tokens; a Python dict of posting sets answers a name or district query in about a
millisecond, and transliteration-tolerant matching (phonetic keys, one-edit typos, aliases)
needs the vocabulary at hand, which a SQL ``LIKE`` cannot give. The index is built at startup
by streaming the items table (a few seconds for 100k rows). The database stays the source of
truth; the index only answers "which item ids match", and ``on_search`` reads those items from
the database. The index also holds each provider's locations and fulfillment types, so "which
stores serve this city / this address" needs no table scan.

``generation`` counts the changes the index applied (an item or provider row whose stamp or
liveness differs from the one indexed, a provider set or an item removed): anything keyed by
it (``reply_cache``) is never served from before a change the index has seen.

Keeping the index current with the database is ``search_sync``'s (``CatchUp``); matching a
query's words against it is ``search_match``'s (``Matching``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ondc_adapter.catalogue import text
from ondc_adapter.catalogue.cities import CityDirectory, default_directory, std_of_city
from ondc_adapter.catalogue.search_match import Matching
from ondc_adapter.catalogue.search_sync import CatchUp
from ondc_adapter.catalogue.store import (
    LocationRecord,
    in_city,
    is_serviceable,
    serves_city,
)


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
class SearchIndex(CatchUp, Matching):
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
