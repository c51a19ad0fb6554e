"""The ``on_search`` texts of the "catalog as link" form (protocol.md 4.1/4.2; served by
``link``): the pages of provider headers that point at the file, and the file itself, the
whole live catalogue of a domain as one message, streamed in chunks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.catalogue.bpp_profile import CATALOGUE_FULFILLMENTS, BppProfile
from ondc_adapter.catalogue.item_text import ITEM_COLUMNS, item_text
from ondc_adapter.catalogue.json_text import Timestamps, dumps
from ondc_adapter.catalogue.on_search_reads import provider_headers, stream_items
from ondc_adapter.catalogue.page_builder import Page, PageBuilder, menu_categories
from ondc_adapter.catalogue.provider_header import ProviderHeader, variant_group_json
from ondc_adapter.catalogue.tables import Item, VariantGroup


def _live_conditions(domain: str, provider_ids: Sequence[str] | None) -> list[Any]:
    conditions: list[Any] = [
        Item.domain == domain, Item.enabled.is_(True), Item.deleted_at.is_(None)
    ]
    if provider_ids is not None:
        conditions.append(Item.provider_id.in_(list(provider_ids)))
    return conditions


async def _live_providers(
    session: AsyncSession, conditions: list[Any]
) -> tuple[dict[str, set[str]], dict[str, ProviderHeader]]:
    """The categories of the selected live items per provider, and the headers of those
    providers that are enabled."""
    categories: dict[str, set[str]] = {}
    stmt = select(Item.provider_id, Item.category_id).where(*conditions).distinct()
    for pid, cat in (await session.execute(stmt)).all():
        categories.setdefault(pid, set()).add(cat)
    headers = await provider_headers(session, sorted(categories))
    live = {
        k: h for k, h in headers.items() if h.provider.enabled and h.provider.deleted_at is None
    }
    return categories, live


async def iter_link_pages(
    session: AsyncSession,
    *,
    profile: BppProfile,
    max_bytes: int,
    now: datetime,
    domain: str,
    provider_ids: Sequence[str] | None,
    extra_tags: Sequence[dict[str, Any]],
) -> AsyncIterator[Page]:
    """Full ``on_search`` pages for the "catalog as link" form (protocol.md 4.1/4.2): every
    enabled provider of ``domain`` with live items (among ``provider_ids``; None = all), with
    its whole header (descriptor, locations, serviceability for the categories it sells,
    timing, order_value, odop_seller) plus ``extra_tags`` (the ``catalog_link`` tag), but no
    ``categories`` or ``items``: those are in the linked file (``stream_catalogue``)."""
    ts = Timestamps()
    today = now.date().isoformat()
    builder = PageBuilder(profile, max_bytes, inline=False)
    categories, headers = await _live_providers(session, _live_conditions(domain, provider_ids))
    for provider_id in sorted(headers):
        head = headers[provider_id].build(ts, today, categories[provider_id])
        head["tags"] = [*head["tags"], *extra_tags]
        builder.start_provider(domain, head, {})
        builder.end_provider()
        for page in builder.take():
            yield page
    for page in builder.finish():
        yield page


async def stream_catalogue(
    session: AsyncSession,
    *,
    profile: BppProfile,
    now: datetime,
    domain: str,
    chunk_chars: int = 1 << 20,
) -> AsyncIterator[str]:
    """The whole live catalogue of ``domain`` as the text of ONE full ``on_search`` message
    (``{"catalog": {...}}``, no size limit, same objects as the paged replies; in a provider
    ``items`` comes before ``categories``): what the "catalog as link" file holds. Yielded in
    chunks of about ``chunk_chars`` characters, so memory stays at about one chunk plus the
    provider headers whatever the catalogue size."""
    ts = Timestamps()
    today = now.date().isoformat()
    conditions = _live_conditions(domain, None)
    categories, headers = await _live_providers(session, conditions)
    fulfillments = CATALOGUE_FULFILLMENTS
    parts = [
        '{"catalog":{"bpp/descriptor":', dumps(profile.descriptor()),
        ',"bpp/fulfillments":', dumps(fulfillments), ',"bpp/providers":[',
    ]
    size = 0
    current: str | None = None
    first = True
    groups: dict[str, VariantGroup] = {}
    used: dict[str, str] = {}  # variant group id -> its JSON, in order of first use
    menus: list[str] = []  # the provider's categories when its items use no variant group

    def close_provider() -> str:
        return '],"categories":[' + ",".join(list(used.values()) or menus) + "]}"

    stmt = select(*ITEM_COLUMNS).where(*conditions).order_by(Item.provider_id, Item.domain, Item.id)
    async for row in stream_items(session, stmt):
        provider_id, parent = row[1], row[3]
        header = headers.get(provider_id)
        if header is None:
            continue
        if provider_id != current:
            if current is not None:
                parts.append(close_provider() + ",")
            head = header.build(ts, today, categories[provider_id])
            menus = [dumps(m) for m in menu_categories(head)]
            parts.append(dumps(head)[:-1] + ',"items":[')
            current, first, groups, used = provider_id, True, header.groups, {}
        text = item_text(row, ts)
        parts.append(text if first else "," + text)
        first = False
        if parent and parent not in used and parent in groups:
            used[parent] = dumps(variant_group_json(groups[parent]))
        size += len(text)
        if size >= chunk_chars:
            yield "".join(parts)
            parts, size = [], 0
    if current is not None:
        parts.append(close_provider())
    parts.append("]}}")
    yield "".join(parts)
