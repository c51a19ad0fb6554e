"""The sellers' offers in a retail 1.2.5 ``on_search``: ``bpp/providers[].offers[]``
(docs/offers.md; issue 16). 1.2.0 answers have none and never read them.

What is read, and when: the enabled offers valid at the search's instant
(``offer_store.offers_for``, one statement whatever the number of stores), once per 1.2.5
search, before the answer is looked up in the reply cache: the answer's key holds every
offer shown (``ActiveOffers.key``: the offers themselves, their validity included), so a kept
answer is never replayed once an offer in it has ended, nor without one that has started since.
An offer written with no ``item_ids`` (every item of the store) is listed with the store's live
item ids, and one with no ``location_ids`` with its stores (ONDC's checker wants both lists
non-empty, docs/offers.md row 11): those ids are read in a second statement, only when such an
offer is shown.

Rendering (``offers.render.catalog_offer``) is per search and provider: a handful of small
dicts, so no text of it is kept (the header texts ``on_search_cache`` keeps never hold offers;
``with_offers`` splices them into a kept header text).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.catalogue.json_text import dumps
from ondc_adapter.catalogue.offer_store import offers_for
from ondc_adapter.catalogue.on_search_reads import among, is_postgres
from ondc_adapter.catalogue.tables import Item, Location
from ondc_adapter.offers.models import Offer
from ondc_adapter.offers.render import catalog_offer

OfferKey = tuple[tuple[str, tuple[Offer, ...]], ...]


@dataclass(frozen=True)
class ActiveOffers:
    """The offers a 1.2.5 answer shows: provider id -> its offers valid at the search's instant
    (seller's order); ``items``: provider id -> its live item ids, for the providers that have
    an offer on every item."""

    by_provider: Mapping[str, tuple[Offer, ...]] = field(default_factory=dict)
    items: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def key(self) -> OfferKey:
        """What a kept answer showing these offers depends on: each offer whole (a frozen
        model: equal only when every field, validity included, is). Item lists are not in it:
        they move with the catalogue, which the reply cache's index version already stands
        for."""
        return tuple(sorted((pid, offers) for pid, offers in self.by_provider.items() if offers))

    def entries(self, provider_id: str, location_ids: Iterable[str]) -> list[dict[str, Any]]:
        """The ``offers`` of one provider (``[]`` when it has none); ``location_ids``: its live
        stores, listed for an offer on every store."""
        offers = self.by_provider.get(provider_id) or ()
        if not offers:
            return []
        stores = list(location_ids)
        items = self.items.get(provider_id, ())
        return [catalog_offer(o, location_ids=stores, item_ids=items) for o in offers]


NO_OFFERS = ActiveOffers()


async def read_offers(
    session: AsyncSession, provider_ids: Collection[str], at: datetime
) -> ActiveOffers:
    """The offers of ``provider_ids`` valid at ``at`` (see the module notes)."""
    found = await offers_for(session, provider_ids, at)
    by_provider = {pid: tuple(offers) for pid, offers in found.items() if offers}
    every_item = sorted(pid for pid, offers in by_provider.items()
                        if any(not o.item_ids for o in offers))
    items: dict[str, list[str]] = {}
    if every_item:
        pg = await is_postgres(session)
        rows = await session.execute(
            select(Item.provider_id, Item.id)
            .where(among(Item.provider_id, every_item, pg), Item.enabled.is_(True),
                   Item.deleted_at.is_(None))
            .order_by(Item.provider_id, Item.id)
        )
        for pid, item_id in rows.all():
            items.setdefault(pid, []).append(item_id)
    return ActiveOffers(by_provider, {pid: tuple(ids) for pid, ids in items.items()})


def live_store_ids(locations: Iterable[Location]) -> list[str]:
    return [loc.id for loc in locations if loc.deleted_at is None]


def with_offers(head_text: str, entries: list[dict[str, Any]]) -> str:
    """A serialised header with ``"offers"`` as its last member, as ``dumps`` writes a header
    dict whose last key is ``offers`` (both builder paths give the same bytes)."""
    if not entries:
        return head_text
    return head_text[:-1] + ',"offers":' + dumps(entries) + "}"
