"""The sellers' offers in a retail 1.2.5 ``on_search``: ``bpp/providers[].offers[]``
(docs/offers.md; issue 16). 1.2.0 answers have none and never read them.

What is read, and when: the stores' enabled offers not yet ended (``offer_store``'s columns,
one statement whatever the number of stores), at most once per store and transaction (a
processor batch answers many searches in one; ``_Memo``), each search then keeping those valid
at its own instant (``Offer.is_valid_at``, both ends included, as ``offer_store.offers_for``).
A 1.2.5 search asks before the answer is looked up in the reply cache: the answer's key holds
every offer shown (``ActiveOffers.key``: the offers themselves, their validity included), so a
kept answer is never replayed once an offer in it has ended, nor without one that has started
since.
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
from ondc_adapter.catalogue.offer_store import OFFER_COLUMNS
from ondc_adapter.catalogue.offer_tables import OfferRow
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


@dataclass
class _Memo:
    """One transaction's reads: provider id -> its enabled offers ending at or after ``since``
    (and the live item ids of those with an offer on every item)."""

    transaction: object
    since: datetime
    offers: dict[str, tuple[Offer, ...]] = field(default_factory=dict)
    items: dict[str, tuple[str, ...]] = field(default_factory=dict)


_MEMO_KEY = "on_search_offers"


def _memo(session: AsyncSession, at: datetime) -> _Memo:
    transaction = session.get_transaction()
    memo = session.info.get(_MEMO_KEY)
    # a new transaction reads again; so does an instant before the first read's (a clock set
    # back): offers that ended in between were not read
    if not isinstance(memo, _Memo) or memo.transaction is not transaction or at < memo.since:
        memo = _Memo(transaction, at)
        if transaction is not None:
            session.info[_MEMO_KEY] = memo
    return memo


async def read_offers(
    session: AsyncSession, provider_ids: Collection[str], at: datetime
) -> ActiveOffers:
    """The offers of ``provider_ids`` valid at ``at`` (see the module notes)."""
    if at.tzinfo is None:
        raise ValueError("the instant must be timezone-aware")
    pg = await is_postgres(session)  # begins the transaction the memo belongs to
    memo = _memo(session, at)
    missing = sorted(set(provider_ids) - memo.offers.keys())
    if missing:
        await _read(session, memo, missing, pg)
    by_provider = {
        pid: valid for pid in provider_ids
        if (valid := tuple(o for o in memo.offers.get(pid, ()) if o.is_valid_at(at)))
    }
    items = {pid: memo.items[pid] for pid, offers in by_provider.items()
             if any(not o.item_ids for o in offers) and pid in memo.items}
    return ActiveOffers(by_provider, items)


async def _read(session: AsyncSession, memo: _Memo, provider_ids: list[str], pg: bool
                ) -> None:
    rows = await session.execute(
        select(*OFFER_COLUMNS).where(
            among(OfferRow.provider_id, provider_ids, pg), OfferRow.enabled.is_(True),
            OfferRow.valid_to >= memo.since,
        ).order_by(OfferRow.provider_id, OfferRow.position, OfferRow.id)
    )
    found: dict[str, list[Offer]] = {}
    for row in rows:
        # stored rows were checked on the way in (offer_store.check_offer); the columns are
        # the model's fields by name
        found.setdefault(row.provider_id, []).append(Offer.model_validate(dict(row._mapping)))
    for pid in provider_ids:
        memo.offers[pid] = tuple(found.get(pid, ()))
    every_item = sorted(pid for pid, offers in found.items()
                        if any(not o.item_ids for o in offers))
    if not every_item:
        return
    items: dict[str, list[str]] = {}
    listed = await session.execute(
        select(Item.provider_id, Item.id)
        .where(among(Item.provider_id, every_item, pg), Item.enabled.is_(True),
               Item.deleted_at.is_(None))
        .order_by(Item.provider_id, Item.id)
    )
    for pid, item_id in listed.all():
        items.setdefault(pid, []).append(item_id)
    for pid in every_item:
        memo.items[pid] = tuple(items.get(pid, ()))


def live_store_ids(locations: Iterable[Location]) -> list[str]:
    return [loc.id for loc in locations if loc.deleted_at is None]


def with_offers(head_text: str, entries: list[dict[str, Any]]) -> str:
    """A serialised header with ``"offers"`` as its last member, as ``dumps`` writes a header
    dict whose last key is ``offers`` (both builder paths give the same bytes)."""
    if not entries:
        return head_text
    return head_text[:-1] + ',"offers":' + dumps(entries) + "}"
