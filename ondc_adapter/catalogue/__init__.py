"""The seller's catalogue: ODOP registry data, providers and items, search and ``on_search``.

Modules (one concept each):

* ``tables``     SQLAlchemy tables (providers, locations, variant groups, items, subscriptions)
* ``store``      the stable read/stock API other seller logic (orders) uses
* ``codes``      EAN / HSN descriptor codes
* ``rules``      per-domain category names and item attribute rules, ODOP -> ONDC category map
* ``odop``       the shipped ODOP registry; ``odop_build`` regenerates it from the official CSV
* ``models``     input models of providers and items (import files, admin API)
* ``importer``   all-or-nothing catalogue import (CSV / JSON / JSON Lines)
* ``sample``     streaming sample-catalogue generator built from the ODOP registry
* ``text``       name normalisation, transliteration-tolerant keys, place-name aliases
* ``search``     the in-memory search index and the intent -> query parser
* ``on_search``  the ``on_search`` catalogue builder (full, incremental, paged by size); its
                 parts: ``on_search_pages`` (what a search reads and packs), ``on_search_reads``
                 (database reads), ``item_text``, ``provider_header``, ``page_builder``,
                 ``bpp_profile``, ``link_text``, ``json_text``
* ``reply_cache`` whole search answers reused while the catalogue is unchanged
* ``handler``    the ``search`` handler and the incremental push to subscribed buyer apps
* ``validator``  a domain validator of ``on_search`` payloads (LVU-style rules)
* ``admin``      the seller admin HTTP API
"""
