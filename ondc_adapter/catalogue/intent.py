"""What a buyer's ``search`` intent asks for, as a ``Query`` the search index answers.

ODOP filters ride in the search intent as a tag group (documented in ``parse_intent``)::

    "tags": [{"code": "odop", "list": [{"code": "lgd_code", "value": "196"},
                                         {"code": "state", "value": "Uttar Pradesh"},
                                         {"code": "gi", "value": "yes"},
                                         {"code": "women_led", "value": "yes"}]}]

Buyer apps that do not know the group still get correct results by name, since district,
state and product names are indexed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ondc_adapter.catalogue import text
from ondc_adapter.catalogue.tables import INCLUSION_FACTS

ODOP_TAG = "odop"
ODOP_FILTER_CODES = ("lgd_code", "district", "state", "gi", "sector", *INCLUSION_FACTS)
_YES = ("yes", "true", "1", "y")


@dataclass(frozen=True, slots=True)
class Query:
    """What a ``search`` asks for, independent of the wire format."""

    domain: str | None = None
    text: str | None = None  # item name (and anything else searchable)
    category_id: str | None = None
    provider_id: str | None = None
    provider_name: str | None = None
    lgd_codes: frozenset[str] = frozenset()
    districts: frozenset[str] = frozenset()  # folded district names
    states: frozenset[str] = frozenset()  # folded state names
    sectors: frozenset[str] = frozenset()
    gi_only: bool = False
    facts: frozenset[str] = frozenset()  # inclusion facts the provider must have

    @property
    def has_filters(self) -> bool:
        return bool(
            self.text or self.category_id or self.provider_id or self.provider_name
            or self.lgd_codes or self.districts or self.states or self.sectors
            or self.gi_only or self.facts
        )


def _tag_values(tags: Any, code: str) -> dict[str, str] | None:
    if not isinstance(tags, list):
        return None
    for tag in tags:
        if isinstance(tag, dict) and tag.get("code") == code:
            return {
                str(e.get("code")): str(e.get("value", ""))
                for e in tag.get("list") or []
                if isinstance(e, dict)
            }
    return None


def parse_intent(intent: dict[str, Any], domain: str | None) -> Query:
    """A ``Query`` from ``message.intent`` (protocol.md 4.1) plus the ``odop`` tag group.

    ``odop`` list codes (all optional, comma-separated values allowed): ``lgd_code``,
    ``district``, ``state``, ``sector`` (Handloom, Handicraft...), ``gi`` (yes = GI-tagged
    products only), and inclusion facts of the seller ``women_led``, ``shg``, ``tribal``,
    ``khadi``, ``artisan``, ``gi_authorised_user`` (yes = required).

    A name search whose text says "GI" ("GI-tagged handloom from Odisha") also asks for
    GI products only, and the words "gi", "tag", "tagged" are then dropped from the text."""
    item = intent.get("item") or {}
    descriptor = item.get("descriptor") or {} if isinstance(item, dict) else {}
    name = descriptor.get("name") if isinstance(descriptor, dict) else None
    category = intent.get("category") or {}
    provider = intent.get("provider") or {}
    odop = _tag_values(intent.get("tags"), ODOP_TAG) or {}

    def values(code: str) -> frozenset[str]:
        raw = odop.get(code, "")
        return frozenset(v.strip() for v in raw.split(",") if v.strip())

    gi_only = odop.get("gi", "").lower() in _YES
    query_text = str(name).strip() if isinstance(name, str) and name.strip() else None
    if query_text:
        words = text.fold(query_text).split()
        if "gi" in words:
            gi_only = True
            query_text = " ".join(w for w in words if w not in ("gi", "tag", "tagged")) or None
    provider_descriptor = provider.get("descriptor") if isinstance(provider, dict) else None
    provider_name = (
        provider_descriptor.get("name") if isinstance(provider_descriptor, dict) else None
    )
    return Query(
        domain=domain,
        text=query_text,
        category_id=(category.get("id") if isinstance(category, dict) else None) or None,
        provider_id=(provider.get("id") if isinstance(provider, dict) else None) or None,
        provider_name=provider_name if isinstance(provider_name, str) and provider_name else None,
        lgd_codes=frozenset(v.lstrip("0") for v in values("lgd_code")),
        districts=frozenset(text.fold(v) for v in values("district")),
        states=frozenset(text.fold(v) for v in values("state")),
        sectors=frozenset(v.lower() for v in values("sector")),
        gi_only=gi_only,
        facts=frozenset(f for f in INCLUSION_FACTS if odop.get(f, "").lower() in _YES),
    )
