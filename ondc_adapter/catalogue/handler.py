"""Seller logic for ``search`` and the incremental catalogue push (protocol.md 4.1, 4.3).

``handle_search`` (a ``Handler``, see ``exchange.py``) serves every retail search form:

* full catalogue for the city (no intent filters): live items of providers serviceable in
  ``context.city`` (``store.serves_city``: stores in the city, intercity stores whose PIN list
  reaches it, pan-India stores; ``*`` matches all), optionally limited to
  ``intent.fulfillment.type``; the stores *in* the city come first (``stores_in_city``),
  then those serving it from elsewhere;
* by item name, category, provider (id or name), fulfillment end location (gps/area_code:
  only providers that deliver to that address), and the ``odop`` tag group (see
  ``intent.parse_intent``);
* catalog as link: ``catalog_full`` with ``payload_type=link`` gets the serviceable
  providers without items, each with a ``catalog_link`` tag naming the file of the whole
  domain catalogue the node serves (``catalogue.link``);
* incremental: ``catalog_inc`` with ``mode=start`` stores a subscription (unsolicited pushes
  follow every seller change until ``mode=stop``); with ``start_time``/``end_time`` one
  ``on_search`` carries what changed in that window.

Replies are split into several ``on_search`` callbacks when the catalogue is larger than
``settings.on_search_max_bytes``.

The search index lives in ``deps.extras["catalogue_index"]`` (a ``SearchIndex`` the app creates
at startup); without one a throw-away index is built for the request (correct, but slow for big
catalogues). ``deps.extras["on_search_cache"]`` may hold the process's ``OnSearchCache``
(serialised items kept between searches, see ``on_search_cache``); ``deps.extras["bpp_profile"]``
may hold a ``BppProfile``.

``push_incremental`` is what every seller change calls (the admin API, ``catalogue import``,
stock an order took or gave back: ``push_stock_changes``): it enqueues, in the caller's transaction,
one unsolicited incremental ``on_search`` (per page) to every subscribed buyer app of the
changed items' domains. ``push_incremental_count`` does the same for changes of any size (a
big import), writing each page as soon as it is built instead of returning the messages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.catalogue.bpp_profile import BppProfile
from ondc_adapter.catalogue.cities import CityDirectory
from ondc_adapter.catalogue.intent import parse_intent
from ondc_adapter.catalogue.link import link_search_pages, wants_link
from ondc_adapter.catalogue.on_search_cache import OnSearchCache
from ondc_adapter.catalogue.on_search_offers import read_offers
from ondc_adapter.catalogue.on_search_pages import MAX_SQL_IDS, iter_pages
from ondc_adapter.catalogue.page_builder import Page
from ondc_adapter.catalogue.reply_cache import ReplyCache
from ondc_adapter.catalogue.search import SearchIndex
from ondc_adapter.catalogue.store import stock_changes
from ondc_adapter.catalogue.tables import Item, Subscription
from ondc_adapter.exchange import InboundRequest, OutboundMessage, SellerDeps
from ondc_adapter.outbox import enqueue
from ondc_adapter.protocol.ack import Error
from ondc_adapter.protocol.catalog import SearchMessage
from ondc_adapter.protocol.context import Context
from ondc_adapter.protocol.durations import parse_timestamp
from ondc_adapter.protocol.errors import Code
from ondc_adapter.protocol.versions import RetailVersion, retail_version
from ondc_adapter.settings import Settings

INDEX_KEY = "catalogue_index"
CACHE_KEY = "on_search_cache"
REPLY_CACHE_KEY = "search_reply_cache"
INLINE_PAGES_KEY = "on_search_inline_pages"
PROFILE_KEY = "bpp_profile"


def _catalog_inc(intent: dict[str, Any]) -> dict[str, str] | None:
    for tag in intent.get("tags") or []:
        if isinstance(tag, dict) and tag.get("code") == "catalog_inc":
            return {
                str(e.get("code")): str(e.get("value", ""))
                for e in tag.get("list") or []
                if isinstance(e, dict)
            }
    return None


def cache_of(deps: SellerDeps) -> OnSearchCache | None:
    cache = deps.extras.get(CACHE_KEY)
    return cache if isinstance(cache, OnSearchCache) else None


def profile_of(deps: SellerDeps) -> BppProfile:
    profile = deps.extras.get(PROFILE_KEY)
    return profile if isinstance(profile, BppProfile) else BppProfile()


async def handle_search(
    request: InboundRequest, session: AsyncSession, deps: SellerDeps
) -> list[OutboundMessage]:
    settings = deps.settings
    now = deps.now()
    ctx = request.context
    try:
        message = SearchMessage.model_validate(request.message)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        path = "message." + ".".join(str(p) for p in first["loc"])
        error = Error.of(Code.INVALID_REQUEST, first["msg"], path)
        return [OutboundMessage.reply(request, {"catalog": {}}, settings=settings, now=now,
                                      error=error)]
    intent = message.intent.model_dump(by_alias=True, exclude_none=True)
    incremental = _catalog_inc(intent)
    profile = profile_of(deps)
    version = retail_version(ctx)
    cache = cache_of(deps)
    if incremental is not None:
        mode = incremental.get("mode")
        if mode in ("start", "stop"):
            await _subscribe(session, request, active=mode == "start", now=now)
            return []
        try:
            start = parse_timestamp(incremental.get("start_time", ""))
            end = parse_timestamp(incremental.get("end_time", ""))
        except ValueError:
            error = Error.of(Code.INVALID_REQUEST, "catalog_inc needs mode=start|stop or "
                             "start_time and end_time (RFC 3339)", "message.intent.tags")
            return [OutboundMessage.reply(request, {"catalog": {}}, settings=settings, now=now,
                                          error=error)]
        if not start < end or end > ctx.sent_at:
            error = Error.of(Code.INVALID_REQUEST, "need start_time < end_time <= "
                             "context.timestamp", "message.intent.tags")
            return [OutboundMessage.reply(request, {"catalog": {}}, settings=settings, now=now,
                                          error=error)]
        pages = iter_pages(
            session, profile=profile, max_bytes=settings.on_search_max_bytes, now=now,
            domain=ctx.domain, incremental=True, changed_since=start, changed_until=end,
            cache=cache, version=version,
        )
        return await _replies(session, request, pages, deps)

    index = deps.extras.get(INDEX_KEY)
    if wants_link(intent) and ctx.domain:
        pages = await link_search_pages(
            session, intent=intent, domain=ctx.domain, city=ctx.city,
            index=index if isinstance(index, SearchIndex) else None, profile=profile,
            settings=settings, now=now,
        )
        return await _replies(session, request, pages, deps)
    replies = deps.extras.get(REPLY_CACHE_KEY)
    pages = await search_pages(
        session, intent=intent, domain=ctx.domain, city=ctx.city,
        index=index if isinstance(index, SearchIndex) else None, profile=profile,
        max_bytes=settings.on_search_max_bytes, now=now, cache=cache,
        replies=replies if isinstance(replies, ReplyCache) else None,
        located_only=settings.search_stores == "located", version=version,
    )
    return await _replies(session, request, pages, deps)


async def search_pages(
    session: AsyncSession,
    *,
    intent: dict[str, Any],
    domain: str | None,
    city: str,
    index: SearchIndex | None,
    profile: BppProfile,
    max_bytes: int,
    now: datetime,
    cities: CityDirectory | None = None,
    cache: OnSearchCache | None = None,
    replies: ReplyCache | None = None,
    located_only: bool = False,
    version: RetailVersion = RetailVersion.V1_2_0,
) -> AsyncIterator[Page]:
    """The ``on_search`` pages answering a (non-incremental) search ``intent``: serviceable
    providers, the index's matches when the intent filters, then the catalogue streamed from
    the database. ``index`` None builds a throw-away one (correct, slow for big catalogues);
    ``cities`` defaults to the shipped city table; ``cache``, the process's ``OnSearchCache``;
    ``replies``, the process's ``ReplyCache`` of whole answers (filtered searches with the
    process's index only: they bring it up to date first, so its ``version`` stands for the
    catalogue's state);
    ``located_only``, only the stores located in ``city`` answer (``ONDC_SEARCH_STORES``);
    ``version``, the retail version answered: a 1.2.5 answer shows the stores' offers, read
    here once (one statement) so that the kept answer's key can hold them; 1.2.0 reads none."""
    query = parse_intent(intent, domain)
    # a throw-away index's answers could never be asked for again (see ``version``)
    throw_away = index is None
    index = index if index is not None else SearchIndex()
    # incremental: only rows changed since the last search; the item index only when needed
    if query.has_filters:
        await index.refresh(session)
    else:
        await index.refresh_providers(session)
    providers = index.providers_for_intent(intent, city=city, cities=cities)
    # the stores in the searched city come first (the others serve it from elsewhere)
    local = index.stores_in_city(providers, city=city, cities=cities)
    if located_only:
        providers = [p for p in providers if p in local]
    item_ids: list[str] | None = None
    if query.has_filters:
        item_ids = index.search(query)
    offers = (
        await read_offers(session, providers, now) if version is RetailVersion.V1_2_5 else None
    )
    pages = iter_pages(
        session, profile=profile, max_bytes=max_bytes, now=now,
        domain=domain, item_ids=item_ids, provider_ids=providers, cache=cache,
        stores_first=local, version=version, offers=offers,
    )
    if replies is None or item_ids is None or throw_away:
        return pages
    key = (
        domain, now.date(), index.version, max_bytes,
        tuple(item_ids), tuple(providers),
        # the same stores serve several cities; each city's own come first in its answer
        tuple(sorted((p, tuple(sorted(ids))) for p, ids in local.items())),
    )
    # The version answered, and in 1.2.5 every offer shown (validity included): a kept answer
    # is never replayed to the other version, nor past an offer's end or without one started
    key = (version, offers.key if offers is not None else (), key)
    kept = replies.get(key)
    if kept is not None:
        await pages.aclose()  # never started: nothing was read
        return replies.replay(kept)
    return replies.recording(key, pages)


async def _replies(
    session: AsyncSession, request: InboundRequest, pages: AsyncIterator[Page], deps: SellerDeps
) -> list[OutboundMessage]:
    """The first pages come back as ``OutboundMessage`` replies (the caller writes them to the
    outbox). Past ``deps.extras["on_search_inline_pages"]`` (default 4) pages, the catalogue is
    big: every page is then enqueued here, in the same transaction, as soon as it is built,
    with its already-serialised body, so memory stays at about one page (a 100,000-item
    catalogue is ~100 pages of 2 MB); the function then returns ``[]``."""
    settings, now = deps.settings, deps.now()
    limit = int(deps.extras.get(INLINE_PAGES_KEY, 4))
    held: list[Page] = []
    streaming = False
    async for page in pages:
        if streaming:
            await _enqueue_page(session, request, page, settings, now)
            continue
        held.append(page)
        if len(held) > limit:
            streaming = True
            for old in held:
                await _enqueue_page(session, request, old, settings, now)
            held = []
    return [
        OutboundMessage.reply(request, page.text, settings=settings, now=now) for page in held
    ]


async def _enqueue_page(
    session: AsyncSession, request: InboundRequest, page: Page, settings: Settings,
    now: datetime,
) -> None:
    message = OutboundMessage.reply(request, page.text, settings=settings, now=now)
    entry = await enqueue(session, message, now=now)
    await session.flush()
    session.expunge(entry)  # the 2 MB body is written: let it go


async def _subscribe(
    session: AsyncSession, request: InboundRequest, *, active: bool, now: datetime
) -> None:
    ctx = request.context
    await session.execute(
        update(Subscription)
        .where(
            Subscription.bap_id == ctx.bap_id,
            Subscription.domain == ctx.domain,
            Subscription.active.is_(True),
        )
        .values(active=False, stopped_at=now)
        .execution_options(synchronize_session=False)
    )
    if active:
        session.add(
            Subscription(
                bap_id=ctx.bap_id,
                bap_uri=ctx.bap_uri,
                domain=ctx.domain,
                transaction_id=ctx.transaction_id,
                context=ctx.model_dump(exclude_none=True),
                active=True,
                started_at=now,
            )
        )


async def push_incremental(
    session: AsyncSession,
    *,
    settings: Settings,
    now: datetime,
    item_ids: Sequence[str] = (),
    provider_ids: Sequence[str] = (),
    profile: BppProfile | None = None,
) -> list[OutboundMessage]:
    """Enqueue incremental ``on_search`` pushes of these items / providers to every active
    subscription of the domains involved; returns the messages enqueued."""
    out: list[OutboundMessage] = []
    await _push(session, settings=settings, now=now, item_ids=item_ids,
                provider_ids=provider_ids, profile=profile, keep=out)
    return out


async def push_incremental_count(
    session: AsyncSession,
    *,
    settings: Settings,
    now: datetime,
    item_ids: Sequence[str] = (),
    provider_ids: Sequence[str] = (),
    profile: BppProfile | None = None,
) -> int:
    """``push_incremental`` for changes of any size (an import of 100,000 items): pages are
    streamed and each is written to the outbox, already serialised, as soon as it is built,
    so memory stays at about one page; returns the number of messages enqueued."""
    return await _push(session, settings=settings, now=now, item_ids=item_ids,
                       provider_ids=provider_ids, profile=profile, keep=None)


async def push_stock_changes(
    session: AsyncSession, settings: Settings, *, now: datetime,
    profile: BppProfile | None = None,
) -> int:
    """Push the items whose stock this session changed (``store.stock_changes``), once, in
    the session's transaction; returns the messages enqueued."""
    changed = stock_changes(session)
    if not changed:
        return 0
    item_ids = sorted(changed)
    changed.clear()
    sent = await push_incremental(
        session, settings=settings, now=now, item_ids=item_ids, profile=profile
    )
    return len(sent)


def _chunks(ids: Sequence[str]) -> list[list[str]]:
    ids = list(dict.fromkeys(ids))
    return [ids[n:n + MAX_SQL_IDS] for n in range(0, len(ids), MAX_SQL_IDS)]


async def _push(
    session: AsyncSession,
    *,
    settings: Settings,
    now: datetime,
    item_ids: Sequence[str],
    provider_ids: Sequence[str],
    profile: BppProfile | None,
    keep: list[OutboundMessage] | None,
) -> int:
    if not item_ids and not provider_ids:
        return 0
    subs = (
        await session.scalars(
            select(Subscription).where(Subscription.active.is_(True)).order_by(Subscription.id)
        )
    ).all()
    if not subs:
        return 0
    domains: set[str] = set()
    for chunk in _chunks(item_ids):
        domains |= set(
            (await session.scalars(select(Item.domain).where(Item.id.in_(chunk)).distinct())).all()
        )
    # a provider-level change goes to the domains the provider sells in, and only there
    providers_by_domain: dict[str, list[str]] = {}
    for chunk in _chunks(provider_ids):
        pairs = await session.execute(
            select(Item.domain, Item.provider_id).where(Item.provider_id.in_(chunk)).distinct()
        )
        for domain, provider_id in pairs.all():
            providers_by_domain.setdefault(domain, []).append(provider_id)
    domains |= set(providers_by_domain)
    if provider_ids and not domains:
        # providers without items: every subscriber hears of them (domain unknown)
        domains = {sub.domain for sub in subs}
        providers_by_domain = {d: list(provider_ids) for d in domains}
    # each subscriber hears in the retail version it subscribed in (its search's context)
    by_domain: dict[tuple[str, RetailVersion], list[Context]] = {}
    for sub in subs:
        if sub.domain in domains:
            base = Context.model_validate({**sub.context, "city": "*"})
            by_domain.setdefault((sub.domain, _version_of(base)), []).append(base)
    sent = 0
    for (domain, version), bases in by_domain.items():
        pages = iter_pages(
            session, profile=profile or BppProfile(), max_bytes=settings.on_search_max_bytes,
            now=now, domain=domain, incremental=True, item_ids=list(item_ids),
            provider_ids=providers_by_domain.get(domain) or None, version=version,
        )
        async for page in pages:
            if not page.providers:
                continue
            for base in bases:
                if keep is not None:
                    message = OutboundMessage.unsolicited(
                        base, "on_search", page.text, settings=settings, now=now
                    )
                    await enqueue(session, message, now=now)
                    keep.append(message)
                else:
                    await _enqueue_text(session, base, page, settings, now)
                sent += 1
    return sent


def _version_of(base: Context) -> RetailVersion:
    """A subscription's retail version; one stored before versions were told apart (or in a
    version this code no longer knows) is answered in 1.2.0, as it was then."""
    try:
        return retail_version(base)
    except ValueError:
        return RetailVersion.V1_2_0


async def _enqueue_text(
    session: AsyncSession, base: Context, page: Page, settings: Settings, now: datetime
) -> None:
    """An unsolicited page written as soon as it is built (see ``_enqueue_page``)."""
    message = OutboundMessage.unsolicited(base, "on_search", page.text, settings=settings, now=now)
    entry = await enqueue(session, message, now=now)
    await session.flush()
    session.expunge(entry)
