"""Orders: quotes, order records, the order/fulfillment state machine and the seller's side.

Modules (one concept each):

* ``quote``     quote computation with breakup, availability and serviceability (pure)
* ``state``     order and fulfillment state machines, legal transitions (pure)
* ``reasons``   cancellation and return reason codes, rating categories (pure)
* ``policy``    the seller's commercial terms used in quotes and on_init (charges, settlement,
                cancellation terms, bpp_terms)
* ``tables``    order records, transitions (audit), drafts, returns, ratings
* ``build``     turning an order record into the wire ``order`` object
* ``handlers``  select ... support handlers (HANDLERS) the inbox processor calls
* ``service``   seller actions (accept, advance, cancel, part-cancel, returns: approve, reject,
                liquidate, picked, reverse QC) shared by admin API and CLI
* ``admin``     the seller admin HTTP API (``/admin/orders``)
"""
