"""The ``on_search`` pages of a search by a short list of item ids (a name, category or ODOP
search: the index's matches), read in one statement.

Why a path of its own: such a search answers a few items, and its cost was the statements
around them, each ~0.3-0.5 ms of CPU in SQLAlchemy and the driver whatever it returns: a
DISTINCT of (provider, domain, category) for the serviceability tags, the ORM providers, the
item rows (twice when the city's own stores come first). Here one statement reads the items'
rows (only their ``OnSearchCache`` keys when most texts are held) together with each item's
category and its provider's ``updated_at`` and liveness: the categories come from the rows
themselves, and a provider whose header parts are held under that state needs no read at all
(``on_search_reads.provider_headers``). Only texts or providers not held are read, as before.

What stays exact: the rows are read fresh in the search's transaction (no in-memory index is
trusted for liveness or categories), texts and headers are used only under the keys read in
that same statement, and the output is the general path's (``on_search_pages.iter_pages``)
byte for byte.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.catalogue.driver_sql import DriverStatement, among_param
from ondc_adapter.catalogue.item_text import ITEM_COLUMNS, KEY_COLUMNS, item_text, row_key
from ondc_adapter.catalogue.json_text import Timestamps
from ondc_adapter.catalogue.on_search_cache import OnSearchCache, ProviderKey
from ondc_adapter.catalogue.on_search_offers import (
    ActiveOffers,
    live_store_ids,
    read_offers,
    with_offers,
)
from ondc_adapter.catalogue.on_search_reads import provider_headers, provider_key
from ondc_adapter.catalogue.page_builder import Page, PageBuilder, provider_texts
from ondc_adapter.catalogue.provider_header import ProviderHeader, variant_group_json
from ondc_adapter.catalogue.tables import Item, Provider
from ondc_adapter.protocol.versions import RetailVersion

# Read after the item columns of each row: what the header needs to know of the item and of
# its provider (the provider's state is the key its cached header parts are held under).
_EXTRA = (Item.category_id, Provider.updated_at, Provider.enabled, Provider.deleted_at)
_LIVE = (Item.enabled.is_(True), Item.deleted_at.is_(None))


def _rows_of(columns: tuple[Any, ...]) -> DriverStatement:
    """The live items among ``:ids`` with ``columns`` and ``_EXTRA``, in page order."""
    return DriverStatement(lambda pg: (
        select(*columns, *_EXTRA)
        .select_from(Item)
        .join(Provider, Provider.id == Item.provider_id)
        # no domain condition: next to a short id list it makes SQLite walk the domain index
        .where(*_LIVE, among_param(Item.id, "ids", pg))
        .order_by(Item.provider_id, Item.domain, Item.id)
    ))


_KEYS = _rows_of(KEY_COLUMNS)  # most texts held: their keys only
_WHOLE = _rows_of(ITEM_COLUMNS)
# the texts not held: the same conditions, so a row changed since the key read is judged as
# it is now
_MISSING = DriverStatement(
    lambda pg: select(*ITEM_COLUMNS).where(*_LIVE, among_param(Item.id, "ids", pg))
)


@dataclass
class IdListRead:
    """What a search by item ids reads: the items it answers, as ``(row, text)`` in
    (provider, domain, id) order, ``row[0:4]`` being (id, provider_id, domain,
    parent_item_id); each (provider, domain)'s categories; the live providers' keys."""

    rows: list[tuple[Any, str]] = field(default_factory=list)
    categories: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    providers: dict[str, ProviderKey] = field(default_factory=dict)


async def read_id_list(
    session: AsyncSession,
    item_ids: Sequence[str],
    *,
    domain: str | None,
    allowed: Collection[str] | None,
    ts: Timestamps,
    cache: OnSearchCache | None = None,
) -> IdListRead:
    """The live items among ``item_ids`` (at most ``on_search_pages.MAX_SQL_IDS``) of
    ``domain`` and of live providers among ``allowed`` (None: any), with their texts."""
    narrow = cache is not None and (cache.is_warm(domain) or (
        2 * sum(i in cache.entries for i in item_ids) >= len(item_ids)
    ))
    width = len(KEY_COLUMNS if narrow else ITEM_COLUMNS)
    read = await (_KEYS if narrow else _WHOLE).fetch(session, {"ids": list(item_ids)})
    rows = [
        row for row in read
        if (allowed is None or row[1] in allowed) and (not domain or row[2] == domain)
        and row[width + 2] and row[width + 3] is None  # the provider is live
    ]
    out = IdListRead()
    texts: dict[str, str] = {}
    if not narrow:
        for row in rows:
            whole = row[:width]
            texts[row[0]] = text = item_text(whole, ts)
            if cache is not None:
                cache.put(row[0], row_key(whole), text)
    else:
        assert cache is not None
        missing: list[str] = []
        for row in rows:
            entry = cache.entries.get(row[0])
            if entry is not None and entry[0] == (row[4], row[5], row[6]):
                texts[row[0]] = entry[1]
            else:
                missing.append(row[0])
        cache.count(hits=len(texts), misses=len(missing))
        if missing:
            for row in await _MISSING.fetch(session, {"ids": missing}):
                text = texts[row[0]] = item_text(row, ts)
                cache.put(row[0], row_key(row), text)
    for row in rows:
        text = texts.get(row[0])
        if text is None:
            continue  # gone since the first read
        out.rows.append((row, text))
        out.categories.setdefault((row[1], row[2]), set()).add(row[width])
        out.providers[row[1]] = (row[width + 1], row[width + 2], row[width + 3])
    return out


async def id_list_pages(
    session: AsyncSession,
    builder: PageBuilder,
    item_ids: Sequence[str],
    *,
    today: str,
    domain: str | None,
    provider_ids: Sequence[str] | None,
    pg: bool,
    ts: Timestamps,
    cache: OnSearchCache | None,
    stores_first: Mapping[str, Collection[str]] | None,
    version: RetailVersion = RetailVersion.V1_2_0,
    offers: ActiveOffers | None = None,
    now: datetime | None = None,
) -> AsyncIterator[Page]:
    """``on_search_pages.iter_pages`` of a (non-incremental) search of a short id list:
    the same pages, from ``read_id_list`` and the headers of the providers it found
    (``version`` and ``offers`` as there)."""
    read = await read_id_list(
        session, item_ids, domain=domain,
        allowed=set(provider_ids) if provider_ids is not None else None,
        ts=ts, cache=cache,
    )
    headers = await provider_headers(session, sorted(read.providers), cache,
                                     known=read.providers)
    if version is RetailVersion.V1_2_5 and offers is None:
        if now is None:
            raise ValueError("a 1.2.5 answer needs the instant its offers are valid at")
        offers = await read_offers(session, sorted(headers), now)
    firsts = stores_first or {}
    lead = set(firsts) & set(headers)
    for provider_id in lead:
        # a buyer app (or a validator) that reads a provider's first store reads the local one
        local = firsts[provider_id]
        header = headers[provider_id]
        header.locations = sorted(header.locations, key=lambda loc: loc.id not in local)
    rows = read.rows
    if lead and len(lead) < len(headers):
        # the stores in the searched city first, each part in (provider, domain, id) order
        rows = [r for r in rows if r[0][1] in lead] + [r for r in rows if r[0][1] not in lead]
    current: tuple[str, str] | None = None
    for row, text in rows:
        key = (row[1], row[2])
        if key != current:
            builder.end_provider()
            current = key
            _start(builder, headers[row[1]], row[2], ts, today, read.categories[key], cache,
                   version, offers)
        builder.add_item(text, row[3])
    builder.end_provider()
    for page in builder.finish():
        yield page


def _start(builder: PageBuilder, header: ProviderHeader, domain: str, ts: Timestamps,
           today: str, categories: set[str], cache: OnSearchCache | None,
           version: RetailVersion, offers: ActiveOffers | None) -> None:
    """Open the provider's part of the page; its header's text is kept in ``cache``, under
    everything it is made from (the version answered included: 1.2.5 headers differ), so a
    provider found again that day is not serialised again. Offers are spliced in per search:
    they are not part of the kept text (``on_search_offers``)."""
    key = (
        header.provider.id, provider_key(header.provider), today, tuple(sorted(categories)),
        tuple(loc.id for loc in header.locations), version,
    )
    texts = cache.header_texts.get(key) if cache is not None else None
    if texts is None:
        head = header.build(ts, today, categories, version)
        groups = {g.id: variant_group_json(g) for g in header.groups.values()}
        texts = provider_texts(head, groups, menus=builder.full and builder.inline)
        if cache is not None:
            cache.keep_header(key, texts)
    if offers is not None:
        entries = offers.entries(header.provider.id, live_store_ids(header.locations))
        if entries:
            texts = (with_offers(texts[0], entries), texts[1], texts[2])
    builder.start_provider_texts(domain, texts)
