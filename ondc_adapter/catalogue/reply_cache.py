"""Whole search answers, kept for ``seconds`` (``ONDC_SEARCH_REPLY_CACHE_SECONDS``, 30 s).

ONDC's gateway sends every buyer app's search for a domain and city to every seller node that
serves it, so the same question (this product name, that category, in this city) arrives again
and again, from many buyer apps, within seconds. Its answer depends only on which items and
stores match and on the catalogue's state, so the rendered ``on_search`` pages are kept, keyed
by exactly that: the domain, the day (holidays), the matched item ids, the serving stores, and
the search index's ``version`` (``SearchIndex.generation``, which moves with every item or
store row the index reads whose ``updated_at`` or liveness differs from the one it holds).

What that guarantees: an answer is never served from before a change the index has seen, and
the index sees a write at the first search of a transaction beginning ``lookback_every`` (1 s)
after its commit, late commits included, when the write committed within the index's
``lookback`` (10 s) of the ``updated_at`` it stamped (``catalogue.search_sync``'s module notes say
which writers might not: a long file import). What the index never sees (a row rewritten with
the very stamp it had, a write held past the look-back) is bounded by ``seconds`` in answers
kept here. Why 30 s and not less: a miss costs about three hits' work, and at a node's usual
load fewer searches repeat within 5 s; the look-back, not the expiry, is what bounds staleness
now.

Only answers of at most ``max_pages`` pages are kept (a big catalogue is streamed, not held),
within ``max_chars`` in all (least recently used first out).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import dataclass, field

from ondc_adapter.catalogue.page_builder import Page


@dataclass
class ReplyCache:
    seconds: float
    max_chars: int = 64 * 2**20
    max_pages: int = 4
    clock: Callable[[], float] = time.monotonic
    entries: OrderedDict[Hashable, tuple[float, tuple[Page, ...], int]] = field(
        default_factory=OrderedDict
    )
    chars: int = 0
    hits: int = 0
    misses: int = 0

    def get(self, key: Hashable) -> tuple[Page, ...] | None:
        entry = self.entries.get(key)
        if entry is None or entry[0] < self.clock():
            if entry is not None:
                self._drop(key)
            self.misses += 1
            return None
        self.entries.move_to_end(key)
        self.hits += 1
        return entry[1]

    def put(self, key: Hashable, pages: tuple[Page, ...]) -> None:
        size = sum(len(p.text) for p in pages)
        if len(pages) > self.max_pages or size > self.max_chars // 4:
            return
        if key in self.entries:
            self._drop(key)
        self.entries[key] = (self.clock() + self.seconds, pages, size)
        self.chars += size
        while self.chars > self.max_chars and self.entries:
            self._drop(next(iter(self.entries)))

    def _drop(self, key: Hashable) -> None:
        _, _, size = self.entries.pop(key)
        self.chars -= size

    async def replay(self, pages: tuple[Page, ...]) -> AsyncIterator[Page]:
        for page in pages:
            yield page

    async def recording(self, key: Hashable, pages: AsyncIterator[Page]) -> AsyncIterator[Page]:
        """``pages``, passed on as they come, and kept once all came (if few enough)."""
        kept: list[Page] = []
        async for page in pages:
            if len(kept) <= self.max_pages:
                kept.append(page)
            yield page
        self.put(key, tuple(kept))
