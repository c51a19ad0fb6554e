"""Orders: quotes, order records, the order/fulfillment state machine and the seller's side.

Modules (one concept each):

* ``quote``         quote computation with breakup, availability and serviceability (pure)
* ``state``         order and fulfillment state machines, legal transitions (pure)
* ``reasons``       cancellation and return reason codes, rating categories (pure)
* ``policy``        the seller's commercial terms used in quotes and on_init (charges,
                    settlement, cancellation terms, bpp_terms)
* ``tables``        order records, transitions (audit), drafts, returns, ratings
* ``build``         turning an order record into the wire ``order`` object
* ``handlers``      select ... support handlers (HANDLERS) the inbox processor calls
* ``replies``       what every handler shares: the callback's time, parsing, the one reply
* ``pricing``       a select / init priced against the catalogue (quote, our Delivery
                    fulfillment)
* ``checkout``      the select, init and confirm handlers
* ``post_order``    the status, track, cancel and update handlers of a confirmed order
* ``feedback``      the rating and support handlers
* ``lifecycle``     changes to a confirmed order: what they all share (``IllegalTransition``,
                    the order-state move, the record edits)
* ``forward``       accept, and the Delivery fulfillment's moves up to Order-delivered
* ``cancellation``  full cancel (with an RTO after pickup) and merchant part cancel
* ``returns``       buyer returns, and the RTO / Return fulfillment moves
* ``repricing``     the quote and ``quote_trail`` once units leave a confirmed order
* ``service``       seller actions (accept, advance, cancel, part-cancel, returns: approve,
                    reject, liquidate, picked, reverse QC) shared by admin API and CLI
* ``admin``         the seller admin HTTP API (``/admin/orders``)
"""
