"""Whole search answers, kept for a few seconds.

ONDC's gateway sends every buyer app's search for a domain and city to every seller node that
serves it, so the same question (this product name, that category, in this city) arrives again
and again, from many buyer apps, within seconds. Its answer depends only on which items and
stores match and on the catalogue's state, so the rendered ``on_search`` pages are kept, keyed
by exactly that: the domain, the day (holidays), the matched item ids, the serving stores, and
the search index's watermarks (the newest ``updated_at`` of items and of stores it has seen).
Any change to an item (price, stock, text) or a store moves a watermark, so an answer is never
served from before a change the index has seen; entries also expire after ``seconds``, which
bounds what a change the index could miss (a transaction committing an older ``updated_at``)
can leave behind.

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
