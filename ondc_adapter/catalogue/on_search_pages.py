"""The pages of an ``on_search`` answer: which items and providers a search selects, read
(``on_search_reads``), serialised (``item_text``, ``provider_header``) and packed into pages
(``page_builder``) as they stream, so memory stays at about one page whatever the catalogue
size. Full catalogue or incremental (protocol.md 4.2, 4.3).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.catalogue.bpp_profile import BppProfile
from ondc_adapter.catalogue.json_text import Timestamps
from ondc_adapter.catalogue.on_search_cache import OnSearchCache
from ondc_adapter.catalogue.on_search_ids import id_list_pages
from ondc_adapter.catalogue.on_search_offers import ActiveOffers, live_store_ids, read_offers
from ondc_adapter.catalogue.on_search_reads import (
    among,
    is_postgres,
    item_rows,
    provider_headers,
)
from ondc_adapter.catalogue.page_builder import Page, PageBuilder
from ondc_adapter.catalogue.provider_header import ProviderHeader, variant_group_json
from ondc_adapter.catalogue.tables import Item, Provider
from ondc_adapter.protocol.versions import RetailVersion

MAX_SQL_IDS = 5000  # the most ids put in one SQL IN: longer lists are filtered while streaming


async def iter_pages(
    session: AsyncSession,
    *,
    profile: BppProfile,
    max_bytes: int,
    now: datetime,
    domain: str | None = None,
    item_ids: Sequence[str] | None = None,
    provider_ids: Sequence[str] | None = None,
    incremental: bool = False,
    changed_since: datetime | None = None,
    changed_until: datetime | None = None,
    cache: OnSearchCache | None = None,
    stores_first: Mapping[str, Collection[str]] | None = None,
    version: RetailVersion = RetailVersion.V1_2_0,
    offers: ActiveOffers | None = None,
) -> AsyncIterator[Page]:
    """``on_search`` pages for the selected items, grouped by provider, each at most
    ``max_bytes`` when wrapped in its envelope; yielded as soon as they are full, so memory
    stays at about one page whatever the catalogue size.

    ``stores_first`` (full catalogue only): provider id -> ids of its stores in the city
    searched (``SearchIndex.stores_in_city``). Those providers come first, each with those
    stores first among its ``locations``; then the others. Within each part the order is the
    index's (provider, domain, id), so answers are deterministic.

    Full catalogue (default): live items of enabled providers, filtered by ``domain`` /
    ``item_ids`` / ``provider_ids``. Incremental: the items (live or not) and providers
    changed in ``[changed_since, changed_until]`` or listed in ``item_ids`` /
    ``provider_ids``; disabled and deleted ones carry ``time.label = "disable"``; a provider
    whose own record did not change is sent as ``{"id", "items"}`` only; with a window, a
    changed provider lists only its stores changed in the window (``changed_stores``).

    ``cache``: the process's ``OnSearchCache``, so items unchanged since an earlier search are
    not read from the database again (see ``item_rows``).

    ``version``: the retail version answered. 1.2.5 headers differ (``ProviderHeader.build``)
    and carry the providers' offers: ``offers`` when the caller read them already (the reply
    cache's key needs them), else read here once (``on_search_offers.read_offers``); a 1.2.0
    answer reads none."""
    ts = Timestamps()
    today = now.date().isoformat()
    window_given = incremental and (changed_since is not None or changed_until is not None)
    builder = PageBuilder(profile, max_bytes, full=not incremental)
    nothing = (item_ids is not None and not item_ids) or (
        provider_ids is not None and not provider_ids
    )
    if not incremental and nothing:
        # Nothing can match (a search that found nothing, or no store serves the buyer): an
        # empty ``IN ()`` does not stop the database from scanning the domain's items.
        for page in builder.finish():
            yield page
        return
    pg = await is_postgres(session)
    if not incremental and item_ids is not None and len(item_ids) <= MAX_SQL_IDS:
        # a name search: its items, categories and providers' state in one read
        async for page in id_list_pages(
            session, builder, item_ids, today=today, domain=domain,
            provider_ids=provider_ids, pg=pg, ts=ts, cache=cache, stores_first=stores_first,
            version=version, offers=offers, now=now,
        ):
            yield page
        return
    wanted: set[str] | None = None  # Python-side id filter for very long id lists
    conditions: list[Any] = []
    # With a short id list the ids are the selective condition; next to it, a domain condition
    # makes SQLite walk the domain index (every item of the domain). The domain is then
    # checked on the rows instead.
    by_ids = item_ids is not None and 0 < len(item_ids) <= MAX_SQL_IDS
    if domain and not by_ids:
        conditions.append(Item.domain == domain)
    if incremental:
        window: list[Any] = []
        if changed_since is not None:
            window.append(Item.updated_at >= changed_since)
        if changed_until is not None:
            window.append(Item.updated_at <= changed_until)
        picks: list[Any] = []
        if item_ids is not None and len(item_ids) > MAX_SQL_IDS and not window:
            # a big import's changes: too many ids for one IN; filter while streaming
            # (the domain's items are read; serviceability categories cover the domain)
            wanted = set(item_ids)
        elif item_ids is not None:
            picks.append(among(Item.id, item_ids, pg))
        if window:
            picks.append(and_(*window))
        if picks:
            conditions.append(or_(*picks))
        elif wanted is None:
            conditions.append(Item.id.is_(None))  # only provider-level changes
    else:
        conditions += [Item.enabled.is_(True), Item.deleted_at.is_(None)]
        if item_ids is not None and len(item_ids) <= MAX_SQL_IDS:
            conditions.append(among(Item.id, item_ids, pg))
        elif item_ids is not None:
            # too many ids for one IN (drivers cap bind parameters): filter while streaming;
            # the serviceability categories then cover the whole domain of the providers
            wanted = set(item_ids)
        if provider_ids is not None and item_ids is None:
            conditions.append(among(Item.provider_id, provider_ids, pg))
    # With item ids, the stores are filtered here instead: a long provider IN list next to a
    # short id list makes SQLite walk the provider index (every item of every store).
    allowed = (
        set(provider_ids)
        if not incremental and provider_ids is not None and item_ids is not None
        else None
    )

    # (provider, domain) -> categories: needed up front for the serviceability tags
    categories: dict[tuple[str, str], set[str]] = {}
    cat_stmt = select(Item.provider_id, Item.domain, Item.category_id).where(*conditions)
    for pid, dom, cat in (await session.execute(cat_stmt.distinct())).all():
        if (allowed is None or pid in allowed) and (not domain or dom == domain):
            categories.setdefault((pid, dom), set()).add(cat)
    involved = {pid for pid, _ in categories}
    changed_providers: set[str] = set()
    if incremental:
        p_picks: list[Any] = []
        p_window: list[Any] = []
        if changed_since is not None:
            p_window.append(Provider.updated_at >= changed_since)
        if changed_until is not None:
            p_window.append(Provider.updated_at <= changed_until)
        if p_window:
            p_picks.append(and_(*p_window))
        if p_picks:
            changed_providers = set(
                (await session.scalars(select(Provider.id).where(or_(*p_picks)))).all()
            )
        # listed providers need no query (any number of them): unknown ids get no header
        changed_providers |= set(provider_ids or ())
        involved |= changed_providers
    headers = await provider_headers(session, sorted(involved), cache)
    if not incremental:
        headers = {
            k: h for k, h in headers.items()
            if h.provider.enabled and h.provider.deleted_at is None
        }
    v125 = version is RetailVersion.V1_2_5
    if v125 and offers is None:
        # an incremental answer repeats only the changed providers' headers (offers with them)
        shown = changed_providers & set(headers) if incremental else set(headers)
        offers = await read_offers(session, sorted(shown), now)

    def build_head(header: ProviderHeader, cats: set[str]) -> dict[str, Any]:
        head = header.build(ts, today, cats, version)
        if offers is not None:
            entries = offers.entries(header.provider.id, live_store_ids(header.locations))
            if entries:
                head["offers"] = entries
        return head

    def accept(row: Any) -> bool:
        # positional access (see ITEM_COLUMNS): named access on rows is slow in this loop
        return (wanted is None or row[0] in wanted) and row[1] in headers and (
            not domain or row[2] == domain
        )

    whole = item_ids is None and not incremental
    # (conditions, accept, whole_domain) of each part of the answer, streamed in turn
    parts: list[tuple[list[Any], Callable[[Any], bool], bool]] = [(conditions, accept, whole)]
    firsts = {} if incremental or stores_first is None else stores_first
    lead = set(firsts) & set(headers)
    for provider_id in lead:
        # a buyer app (or a validator) that reads a provider's first store reads the local one
        local = firsts[provider_id]
        header = headers[provider_id]
        header.locations = sorted(header.locations, key=lambda loc: loc.id not in local)
    if lead and len(lead) < len(headers):
        # Stores in the searched city first: what a buyer there is shown first, and a buyer
        # app that keeps only the first providers keeps those. Two reads, each in index order:
        # the local stores' items (a short provider list), then the rest. With an id list in
        # the SQL (a name search) the stores are told apart on the rows instead (see above).
        first = [*conditions]
        if item_ids is None or len(item_ids) > MAX_SQL_IDS:
            first.append(among(Item.provider_id, sorted(lead), pg))
        parts = [
            (first, lambda row: row[1] in lead and accept(row), False),
            (conditions, lambda row: row[1] not in lead and accept(row), whole),
        ]

    current: tuple[str, str] | None = None
    emitted: set[str] = set()
    for part_conditions, part_accept, part_whole in parts:
        async for batch in item_rows(
            session, part_conditions, ts=ts, accept=part_accept, cache=cache, domain=domain,
            whole_domain=part_whole,
            ids=item_ids if item_ids is not None and wanted is None else None,
        ):
            for row, text in batch:
                provider_id, domain_, parent = row[1], row[2], row[3]
                key = (provider_id, domain_)
                if key != current:
                    builder.end_provider()
                    current = key
                    header = headers[provider_id]
                    head = build_head(header, categories.get(key, set()))
                    if incremental and provider_id not in changed_providers:
                        head = {"id": head["id"]}
                    elif window_given:
                        head = changed_stores(head, header, changed_since, changed_until)
                    groups = {g.id: variant_group_json(g) for g in header.groups.values()}
                    builder.start_provider(domain_, head, groups)
                    emitted.add(provider_id)
                builder.add_item(text, parent)
            for page in builder.take():
                yield page
    builder.end_provider()
    for provider_id in sorted(changed_providers - emitted):
        header = headers.get(provider_id)
        if header is not None:  # provider-level change only (enable/disable, details, stores)
            head = build_head(header, set())
            if window_given:
                head = changed_stores(head, header, changed_since, changed_until)
            builder.start_provider(domain or "", head, {})
            builder.end_provider()
    for page in builder.finish():
        yield page


def changed_stores(
    head: dict[str, Any], header: ProviderHeader, since: datetime | None,
    until: datetime | None,
) -> dict[str, Any]:
    """``head`` (a provider's built header) with only the stores written in ``[since,
    until]`` and the tags naming them: a pull answers what changed, and a store repeated
    unchanged would read as a change to the buyer app (ONDC's validator says so: its
    ``time.label`` equal to the full catalogue's). A provider created in the window has all
    its stores written in it; one only enabled, disabled or described anew lists none."""
    kept = {
        loc.id for loc in header.locations
        if loc.deleted_at is None
        and (since is None or loc.updated_at >= since)
        and (until is None or loc.updated_at <= until)
    }
    out = dict(head)
    locations = [loc for loc in head.get("locations") or [] if loc.get("id") in kept]
    if locations:
        out["locations"] = locations
    else:
        out.pop("locations", None)

    def names_kept(tag: dict[str, Any]) -> bool:
        named = [e.get("value") for e in tag.get("list") or [] if e.get("code") == "location"]
        return all(n in kept for n in named)

    if "tags" in head:
        out["tags"] = [t for t in head["tags"] if names_kept(t)]
    return out


async def build_pages(session: AsyncSession, **kwargs: Any) -> list[Page]:
    """All pages of ``iter_pages`` (fine for small results; stream big ones)."""
    return [page async for page in iter_pages(session, **kwargs)]
