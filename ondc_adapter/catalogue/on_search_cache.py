"""What ``on_search`` keeps in memory between searches: serialised items, providers' parts.

Why: a full-catalogue answer of 100,000 items spends most of its time reading the items' JSON
text (``Item.static_json``, ~190 MB) out of the database, not building pages. ``OnSearchCache``
holds each item's finished ``items[]`` text under the row facts that change whenever that text
can: ``updated_at`` (every writer stamps it: ``catalogue.write``, ``catalogue.store``), plus
``stock`` and liveness, which order reservations and enable/disable change most often, read
fresh with every search so even a writer reusing a timestamp cannot leave stock stale.

Once a domain has been read in full (``is_warm``), searches of it read only the key columns
(``on_search.KEY_COLUMNS``, a few bytes per row) and fetch the whole rows of the items whose
key no longer matches, a batch at a time. A text is used only when the row read in the same
search has the key the text was made from, so the database stays the source of truth and
nothing has to be invalidated: an item rewritten by another process simply misses.

Provider headers need the provider's stores and variant groups: they are written with the
provider and stamp its ``updated_at`` (``catalogue.write.touch_provider`` when written alone),
so they are kept under it, with the provider record itself, under its ``ProviderKey``
(``updated_at``, ``enabled``, ``deleted_at``: enabling, disabling and deleting are compared as
well, as stock and liveness are for items). A search reads only the providers rows (one
query, not three), or, by item ids (``on_search_ids``), only their keys along with its items.

Memory: the texts are as large as the catalogue's JSON (~1.9 KB per item, ~200 MB for
100,000 items); past ``max_chars`` new texts are not kept, and searches read whole rows
again, as without a cache (reading keys first would only add a round trip for the misses).
One per process, like the search index; safe under asyncio (no awaits inside its methods),
not across threads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ondc_adapter.catalogue.page_builder import ProviderTexts

Key = tuple[datetime, int, bool]  # (updated_at, stock, live)
ProviderKey = tuple[datetime, bool, datetime | None]  # (updated_at, enabled, deleted_at)


@dataclass
class OnSearchCache:
    """Item id -> (key, ``on_search.item_text`` of the row with that key)."""

    max_chars: int = 512 * 2**20
    entries: dict[str, tuple[Key, str]] = field(default_factory=dict)
    chars: int = 0
    warm: set[str] = field(default_factory=set)  # domains read in full at least once
    # provider id -> (its ProviderKey, the provider, its locations, its variant groups by id):
    # ORM objects read in an earlier session, only ever read (on_search.ProviderHeader)
    parts: dict[str, tuple[ProviderKey, Any, tuple[Any, ...], dict[str, Any]]] = field(
        default_factory=dict
    )
    # a provider's header as a search by item ids writes it (page_builder.ProviderTexts), by
    # (provider id, its ProviderKey, the day, the categories sold, the order of its stores):
    # everything the text is made from (the parts above are held under the same key)
    header_texts: dict[tuple[Any, ...], ProviderTexts] = field(default_factory=dict)
    max_header_texts: int = 4096  # past it, all go (a day's worth is providers x cities)
    hits: int = 0
    misses: int = 0
    overflowed: bool = False  # a text was turned away by max_chars

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, item_id: str, key: Key) -> str | None:
        entry = self.entries.get(item_id)
        hit = entry is not None and entry[0] == key
        self.count(hits=int(hit), misses=int(not hit))
        return entry[1] if hit and entry is not None else None

    def count(self, *, hits: int, misses: int) -> None:
        """Tally lookups made by reading ``entries`` directly (a hot loop)."""
        self.hits += hits
        self.misses += misses

    def put(self, item_id: str, key: Key, text: str) -> None:
        old = self.entries.get(item_id)
        grown = len(text) - (len(old[1]) if old is not None else 0)
        if self.chars + grown > self.max_chars:
            self.overflowed = True
            if old is not None:  # never keep a text whose key is known to be stale
                del self.entries[item_id]
                self.chars -= len(old[1])
            return
        self.entries[item_id] = (key, text)
        self.chars += grown

    def keep_header(self, key: tuple[Any, ...], texts: ProviderTexts) -> None:
        if len(self.header_texts) >= self.max_header_texts:
            self.header_texts.clear()
        self.header_texts[key] = texts

    def is_warm(self, domain: str | None) -> bool:
        return domain is not None and domain in self.warm and not self.overflowed

    def mark_warm(self, domain: str) -> None:
        self.warm.add(domain)

    def clear(self) -> None:
        self.entries.clear()
        self.warm.clear()
        self.parts.clear()
        self.header_texts.clear()
        self.chars = 0
        self.overflowed = False
