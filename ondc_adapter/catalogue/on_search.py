"""The ``on_search`` catalogue builder (protocol.md 4.2, 4.3).

Output shape (``message``)::

    {"catalog": {"bpp/descriptor": {..., "tags": [{"code": "bpp_terms",
                                                   "list": [{"code": "np_type", "value": "MSN"}]}]},
                 "bpp/fulfillments": [{"id": "F1", "type": "Delivery"}, ...],
                 "bpp/providers": [{id, time, fulfillments (with contact), descriptor, ttl,
                                    locations, categories (variant groups), items, tags
                                    (serviceability per location x category, timing,
                                    order_value, odop_seller)}]}}

ODOP facts are carried in their own tag groups, never inside ``attribute``:

* item tag ``odop``: ``lgd_code``, ``district``, ``state``, ``product``, ``sector``,
  ``gi`` ("yes"/"no");
* provider tag ``odop_seller``: ``kind`` (artisan, shg, cooperative, emporium...) and the
  inclusion facts ``women_led``, ``shg``, ``tribal``, ``khadi``, ``artisan``,
  ``gi_authorised_user`` ("yes"/"no").

Speed and size: rows are streamed from the database with Core selects on the session's
connection (no ORM objects, no ORM loading), in the order of an index (provider, domain, id);
each item's text is its live members (time, quantity, price: written per row) spliced with the
cached text of everything else (``Item.static_json``, written with the item; rebuilt from the
columns when NULL), so a full catalogue is mostly string concatenation. No Pydantic on this
path (tests validate the output against the models in ``protocol.catalog``). Pages are cut so
that no serialised callback exceeds ``max_bytes``: an item's size is measured once when it is
added to a page. A page never mixes domains; a provider spread over several pages repeats its
header on each.

This module is the builder's public face: the rest of the code and the tests import from here
(or from the module a name lives in). The builder itself, one concept a module:

* ``on_search_pages``  ``iter_pages`` / ``build_pages``: what a search selects, paged as it streams
* ``on_search_reads``  item rows streamed with their texts (and ``OnSearchCache`` keys), provider
  headers, the Core helpers (``among``, ``is_postgres``, ``stream_batches``)
* ``item_text``        an item's ``items[]`` text, the row it is made from (``ITEM_COLUMNS``)
* ``provider_header``  a provider's header: stores, serviceability, timing and ODOP tags, variant
  groups
* ``bpp_profile``      ``bpp/descriptor`` (``BppProfile``) and ``bpp/fulfillments``
* ``page_builder``     ``Page`` and ``PageBuilder``: texts packed into pages within ``max_bytes``
* ``link_text``        the "catalog as link" pages and the linked catalogue file
* ``json_text``        compact JSON, yes/no flags, cached timestamps
"""

from ondc_adapter.catalogue.bpp_profile import CATALOGUE_FULFILLMENTS, FULFILLMENT_IDS, BppProfile
from ondc_adapter.catalogue.item_text import (
    ITEM_COLUMNS,
    KEY_COLUMNS,
    LIVE_COLUMNS,
    STATIC_COLUMNS,
    available_count,
    item_json,
    item_text,
    static_text,
    statutory_blocks,
)
from ondc_adapter.catalogue.link_text import iter_link_pages, stream_catalogue
from ondc_adapter.catalogue.on_search_pages import MAX_SQL_IDS, build_pages, iter_pages
from ondc_adapter.catalogue.on_search_reads import (
    among,
    is_postgres,
    item_rows,
    provider_headers,
    stream_batches,
    stream_items,
)
from ondc_adapter.catalogue.page_builder import ENVELOPE_RESERVE, Page, PageBuilder
from ondc_adapter.catalogue.provider_header import (
    ProviderHeader,
    location_json,
    serviceability_tag,
    timing_tags,
    variant_group_json,
)

__all__ = [
    "CATALOGUE_FULFILLMENTS",
    "ENVELOPE_RESERVE",
    "FULFILLMENT_IDS",
    "ITEM_COLUMNS",
    "KEY_COLUMNS",
    "LIVE_COLUMNS",
    "MAX_SQL_IDS",
    "STATIC_COLUMNS",
    "BppProfile",
    "Page",
    "PageBuilder",
    "ProviderHeader",
    "among",
    "available_count",
    "build_pages",
    "is_postgres",
    "item_json",
    "item_rows",
    "item_text",
    "iter_link_pages",
    "iter_pages",
    "location_json",
    "provider_headers",
    "serviceability_tag",
    "static_text",
    "statutory_blocks",
    "stream_batches",
    "stream_catalogue",
    "stream_items",
    "timing_tags",
    "variant_group_json",
]
