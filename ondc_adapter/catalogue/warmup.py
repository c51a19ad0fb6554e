"""Start-up warm-up of the catalogue state a node keeps in memory.

Why: the search index and the ``on_search`` cache fill on first use, so without this the
first name search after a restart builds the whole index (about 8 s for 100,000 items) and
the first full-catalogue answer reads every item's JSON from the database (about 3 s). The
app runs ``warm_up`` as a background task once it accepts requests (``ONDC_CATALOGUE_WARM_UP``);
a search that arrives meanwhile waits for the index's catch-up lock instead of building the
index a second time, and finds whatever part of the cache is filled already.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ondc_adapter.catalogue.on_search_cache import OnSearchCache
from ondc_adapter.catalogue.on_search_reads import item_rows
from ondc_adapter.catalogue.search import SearchIndex
from ondc_adapter.catalogue.tables import Item
from ondc_adapter.storage import Database


@dataclass(frozen=True, slots=True)
class WarmUp:
    indexed: int  # item rows read into the search index
    cached: int  # item texts held in the cache afterwards
    seconds: float


def _everything(_row: Any) -> bool:
    return True


async def warm_up(
    db: Database, index: SearchIndex, cache: OnSearchCache | None,
    domains: Sequence[str] | None = None,
) -> WarmUp:
    """Build ``index`` and fill ``cache`` with the live items of ``domains`` (default: every
    domain that has items), one transaction per step, so writers are never held up."""
    started = time.perf_counter()
    async with db.session() as s:
        indexed = await index.refresh(s)
        if domains is None:
            domains = sorted((await s.scalars(select(Item.domain).distinct())).all())
    if cache is not None:
        for domain in domains:
            if cache.is_warm(domain):
                continue
            conditions = [Item.domain == domain, Item.enabled.is_(True),
                          Item.deleted_at.is_(None)]
            async with db.session() as s:
                async for _batch in item_rows(s, conditions, accept=_everything, cache=cache,
                                              domain=domain, whole_domain=True):
                    pass
    return WarmUp(indexed=indexed, cached=len(cache) if cache is not None else 0,
                  seconds=time.perf_counter() - started)
