"""The ``offers`` list of a provider record in a catalogue import file (JSON, JSON Lines).

Offers name items (and stores) that usually come *after* their provider in the file, so the
importer hands each provider's list here as it reads it, and the lists are checked once the
whole file has been read: with ``offer_store.parse_offer`` (the same 1.2.5 rules as the admin
API and the console), then every id they name against the provider's items and stores, in
the file or already in the database. Each problem names the provider, the offer and the
field (``offers.1.benefit.cap_paise``). Offers are created or replaced by id, as the admin
API's PUT does; offers of the provider that the list does not name are left as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.catalogue import offer_store
from ondc_adapter.catalogue.models import FieldProblem
from ondc_adapter.catalogue.offer_store import OfferInput
from ondc_adapter.offers.models import OfferInvalid

Report = Callable[[int, str, list[FieldProblem]], None]  # (row, record, problems)


@dataclass
class OfferImport:
    """Offer lists read so far: (row, provider id, the list as given)."""

    lists: list[tuple[int, str, Any]] = field(default_factory=list)

    def add(self, row: int, provider_id: str, offers: Any) -> None:
        self.lists.append((row, provider_id, offers))

    async def finish(
        self, session: AsyncSession, *, items: Mapping[str, set[str]],
        locations: Mapping[str, set[str]], report: Report, write: bool, now: datetime,
    ) -> int:
        """Check every list (``items`` / ``locations``: the ids the file defines per
        provider; the database is asked for the others) and, when ``write`` and every offer
        passed, store them. Returns the number of offers that passed."""
        good: list[OfferInput] = []
        bad = 0
        for row, provider_id, offers in self.lists:
            label = f"provider {provider_id}"
            if not isinstance(offers, list):
                report(row, label, [FieldProblem("offers", "must be a list of offers")])
                bad += 1
                continue
            seen: set[str] = set()
            for n, data in enumerate(offers):
                oid = data.get("id", "?") if isinstance(data, dict) else "?"
                try:
                    given = offer_store.parse_offer(provider_id, data)
                    if given.offer.id in seen:
                        raise OfferInvalid("id", "appears twice in the provider's offers")
                    seen.add(given.offer.id)
                    stored_items, stored_locations = await offer_store.known_ids(
                        session, given.offer
                    )
                    problem = offer_store.reference_problem(
                        given.offer, stored_items | items.get(provider_id, set()),
                        stored_locations | locations.get(provider_id, set()),
                    )
                    if problem is not None:
                        raise problem
                except OfferInvalid as exc:
                    report(row, f"{label} offer {oid}",
                           [FieldProblem(f"offers.{n}.{exc.field}", exc.message)])
                    bad += 1
                    continue
                good.append(given)
        if write and not bad:
            for given in good:
                await offer_store.put_offer(session, given, now=now)
        return len(good)
