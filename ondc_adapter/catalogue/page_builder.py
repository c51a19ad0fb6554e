"""Packs serialised providers and items into ``on_search`` pages of at most ``max_bytes``.

Why a builder of text: a full catalogue has tens of thousands of items; each item's text
(``item_text``) is measured once when it is added to a page, and pages are assembled as
strings, never as objects to serialise again. Pages are cut so that no serialised callback
exceeds ``max_bytes`` (``ENVELOPE_RESERVE`` is kept for the envelope). A page never mixes
domains; a provider spread over several pages repeats its header on each.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ondc_adapter.catalogue.bpp_profile import CATALOGUE_FULFILLMENTS, BppProfile
from ondc_adapter.catalogue.json_text import dumps

ENVELOPE_RESERVE = 4096  # context + error + JSON punctuation around the message


def menu_categories(header: dict[str, Any]) -> list[dict[str, Any]]:
    """A provider's ``custom_menu`` categories: one per ONDC category it sells (its
    serviceability tags name them), ranked in that order; one named after the provider when
    no tag names any.

    Why: ONDC's log validator wants ``categories`` in every provider of a full catalogue
    (``prvdr<i>categories``, utils/Retail/Search/on_search.ts), and a store whose items form no
    variant group has none of its own. Items do not point at these menus (no
    ``category_ids``): the validator's incremental check knows no catalogue categories and
    would refuse any item that did, and a buyer app that groups items by menu finds these
    empty, so it shows nothing more than before."""
    names: list[str] = []
    for tag in header.get("tags") or ():
        if tag.get("code") != "serviceability":
            continue
        for entry in tag.get("list") or ():
            if entry.get("code") == "category" and entry.get("value") not in names:
                names.append(entry["value"])
    if not names:
        names = [str((header.get("descriptor") or {}).get("name") or header.get("id") or "Menu")]
    return [
        {
            "id": f"M{rank}",
            "descriptor": {"name": name},
            "tags": [
                {"code": "type", "list": [{"code": "type", "value": "custom_menu"}]},
                {"code": "display", "list": [{"code": "rank", "value": str(rank)}]},
            ],
        }
        for rank, name in enumerate(names, start=1)
    ]


# A provider's header as the builder writes it: its JSON (without items and categories), its
# variant groups' JSON by id, its custom_menu categories' JSON (``menu_categories``).
ProviderTexts = tuple[str, dict[str, str], list[str]]


def provider_texts(
    header: dict[str, Any], groups: dict[str, dict[str, Any]], *, menus: bool
) -> ProviderTexts:
    return (
        dumps(header),
        {k: dumps(v) for k, v in groups.items()},
        [dumps(m) for m in menu_categories(header)] if menus else [],
    )


@dataclass
class Page:
    """One ``on_search`` message, already serialised (compact UTF-8 JSON, as the outbox
    writes it): ``text`` is the JSON of ``message``."""

    domain: str | None
    text: str
    items: int
    providers: int

    def message(self) -> dict[str, Any]:
        return json.loads(self.text)  # type: ignore[no-any-return]

    @property
    def size(self) -> int:
        return _size(self.text)


def _size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


class PageBuilder:
    """Packs serialised providers and items into ``on_search`` messages of at most
    ``max_bytes`` (each item is serialised exactly once; pages are assembled as text)."""

    def __init__(
        self, profile: BppProfile, max_bytes: int, *, full: bool = True, inline: bool = True
    ) -> None:
        self.max_bytes = max(max_bytes - ENVELOPE_RESERVE, 16_384)
        self.full = full
        self.inline = inline  # False: providers without categories/items (catalog as link)
        prefix = '{"catalog":{'
        if full:
            prefix += '"bpp/descriptor":' + dumps(profile.descriptor()) + ","
            fulfillments = CATALOGUE_FULFILLMENTS
            prefix += '"bpp/fulfillments":' + dumps(fulfillments) + ","
        self.prefix = prefix + '"bpp/providers":['
        self.suffix = "]}}"
        self.ready: list[Page] = []
        self.made = 0
        self._providers: list[str] = []  # finished provider texts of the open page
        self._size = _size(self.prefix) + len(self.suffix)
        self._items = 0
        self._domain: str | None = None
        # the provider being filled
        self._head = ""
        self._groups: dict[str, str] = {}
        self._menus: list[str] = []  # the provider's categories when no variant group is used
        self._cats: list[str] = []
        self._used: set[str] = set()
        self._item_texts: list[str] = []
        self._open = False

    # the provider text = header without its closing brace + categories + items
    def _provider_text(self) -> str:
        body = self._head[:-1]
        if not self.inline:
            return self._head
        if self.full or self._cats:
            cats = self._cats or (self._menus if self.full else [])
            body += ',"categories":[' + ",".join(cats) + "]"
        if self._item_texts or self.full:
            body += ',"items":[' + ",".join(self._item_texts) + "]"
        return body + "}"

    def _provider_overhead(self) -> int:
        return _size(self._head) + 32 + sum(_size(m) + 1 for m in self._menus)

    def _close_page(self) -> None:
        if self._providers:
            text = self.prefix + ",".join(self._providers) + self.suffix
            self.ready.append(Page(self._domain, text, self._items, len(self._providers)))
            self.made += 1
        self._providers = []
        self._size = _size(self.prefix) + len(self.suffix)
        self._items = 0

    def start_provider(self, domain: str, header: dict[str, Any],
                       groups: dict[str, dict[str, Any]]) -> None:
        self.start_provider_texts(
            domain, provider_texts(header, groups, menus=self.full and self.inline)
        )

    def start_provider_texts(self, domain: str, texts: ProviderTexts) -> None:
        """``start_provider`` with the header already serialised (``provider_texts``: its
        menus only when this builder is ``full`` and ``inline``)."""
        if self._domain is not None and domain != self._domain:
            self._close_page()
        self._domain = domain
        self._head, self._groups, self._menus = texts
        self._begin_part()

    def _begin_part(self) -> None:
        overhead = self._provider_overhead()
        if self._providers and self._size + overhead > self.max_bytes:
            self._close_page()
        self._cats, self._used, self._item_texts = [], set(), []
        self._size += overhead
        self._open = True

    def _end_part(self) -> None:
        self._providers.append(self._provider_text())
        self._open = False

    def add_item(self, text: str, group: str | None) -> None:
        """Add one serialised item (``item_text``); ``group`` is its ``parent_item_id``."""
        size = _size(text) + 1
        group_text = self._groups.get(group) if group and group not in self._used else None
        extra = _size(group_text) + 1 if group_text else 0
        if self._item_texts and self._size + size + extra > self.max_bytes:
            # split: this provider continues on the next page with its header repeated
            self._end_part()
            self._close_page()
            self._begin_part()
            group_text = self._groups.get(group) if group else None
            extra = _size(group_text) + 1 if group_text else 0
        if group_text:
            self._cats.append(group_text)
            self._used.add(group)  # type: ignore[arg-type]
        self._item_texts.append(text)
        self._size += size + extra
        self._items += 1

    def end_provider(self) -> None:
        if self._open:
            self._end_part()

    def take(self) -> list[Page]:
        pages, self.ready = self.ready, []
        return pages

    def finish(self) -> list[Page]:
        """The remaining pages; one empty catalogue if nothing was ever added."""
        self._close_page()
        pages = self.take()
        if self.made == 0:
            pages.append(Page(None, self.prefix + self.suffix, 0, 0))
        return pages
