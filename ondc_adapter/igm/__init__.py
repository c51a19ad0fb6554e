"""Issue and Grievance Management (ONDC IGM 2.0.0): a buyer's complaint, handled end to end.

* ``models``   the ``issue`` / ``on_issue`` message models (the contract; ``schemas/`` is made
               from them);
* ``tables``   the issues this node holds, with every message exchanged about them;
* ``rules``    which action may follow which (pure);
* ``wire``     the ``on_issue`` this node sends: the issue as the buyer app sent it, plus our
               actions, actors and resolutions (pure);
* ``handler``  the seller logic of ``POST /issue``;
* ``service``  what the seller does to an issue (take up, ask for information, propose a
               resolution, resolve) and what the node watches (response and resolution times);
* ``views``    an issue as the seller reads it (``ondc-adapter issues`` and the admin API);
* ``watch``    the deadline watcher: gauges and log lines as issues near or pass their times;
* ``admin``    the ``/admin/issues`` HTTP API.

Roles: in IGM flow 1 the buyer app is the complainant (``INTERFACING_NP``) and this node the
respondent (``COUNTERPARTY_NP``); its grievance redressal officer (``COUNTERPARTY_NP_GRO``)
answers once the buyer escalates.
"""
