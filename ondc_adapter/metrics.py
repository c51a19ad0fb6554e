"""Prometheus metrics of one node (one app instance).

Every ``NodeMetrics`` owns its own ``CollectorRegistry``: no process globals, so several apps in
one process (tests, the sandbox) never collide and each ``/metrics`` shows only its own node.

Hot-path cost is one ``inc()`` on a label child bound in advance: children for every protocol
action, every ACK/NACK outcome and every cache result are created here, once, and the request
path only indexes a dict. Label values are always from closed sets (actions from ``BPP_ACTIONS``,
anything else is ``other``; NACK codes are ours), so an attacker cannot grow the series count.

Several uvicorn workers: each worker process has its own registry. Either scrape each worker
(e.g. one port per worker behind the proxy) or set ``PROMETHEUS_MULTIPROC_DIR`` before start:
prometheus_client then keeps the values in files shared by the workers and ``render`` merges
them (see docs/operations.md).
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from ondc_adapter.protocol.context import BPP_ACTIONS
from ondc_adapter.signing import SignatureFailure

OTHER = "other"  # label value for anything outside a closed set (e.g. an unknown action path)

# Reasons a request's signature headers are refused: ``signing.SignatureFailure`` plus the
# policy checks made after a signature verifies.
SIGNATURE_REASONS = (
    *(reason.value for reason in SignatureFailure),
    "key_not_valid",  # registry record not SUBSCRIBED or outside valid_from/valid_until
    "signer_mismatch",  # Authorization signer != context.bap_id
    "not_a_gateway",  # X-Gateway-Authorization signed by a subscriber that is not a BG
    "gateway_required",  # search without X-Gateway-Authorization where a gateway is required
)
SIGNATURE_HEADERS = ("authorization", "gateway")
NACK_CODES = ("30000", "30016", "30022", "31001")
CACHE_RESULTS = ("hit_local", "hit_shared", "miss", "refresh")
LOOKUP_OUTCOMES = ("ok", "not_found", "error")
CALLBACK_OUTCOMES = ("delivered", "nacked", "retry", "expired", "refused")
# What the dispatcher sends: the on_* answer of every request this node serves (a request that
# is itself an answer, on_issue, or that has none, catalog_rejection, has no on_* of its own),
# and the issue this node raises as a complainant (IGM flow 2).
CALLBACK_ACTIONS = (
    *(
        f"on_{action}"
        for action in BPP_ACTIONS
        if not action.startswith("on_") and action != "catalog_rejection"
    ),
    "issue",
)
PROCESS_RESULTS = ("processed", "retry", "failed")
# IGM deadlines the watcher reports (igm/watch.py): which, and how far along
IGM_DEADLINES = ("response", "resolution")
IGM_DEADLINE_STATES = ("near", "overdue")

# Callback latency runs from enqueue to the buyer app's ACK: milliseconds when all is well,
# up to a request's ttl (minutes) when the buyer app was down.
DELIVERY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
ATTEMPT_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


def multiprocess_dir() -> str | None:
    """The prometheus_client multiprocess directory, when the deployment enabled it."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class NodeMetrics:
    """The node's metric families and their pre-bound children."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "ondc_inbound_requests",
            "Protocol requests answered, by action and result (ACK or NACK)",
            ["action", "result"],
            registry=r,
        )
        self.nacks = Counter(
            "ondc_inbound_nacks",
            "NACKs sent, by action, ONDC error code and HTTP status",
            ["action", "code", "status"],
            registry=r,
        )
        self.shed = Counter(
            "ondc_inbound_shed",
            "Requests refused by admission control (503 NACK 31001, Retry-After): the node's "
            "backlog was too old or too deep to answer them within their ttl",
            ["action"],
            registry=r,
        )
        self.backlog_age = Gauge(
            "ondc_inbox_oldest_age_seconds",
            "Age of the oldest request waiting for the seller logic, as admission control "
            "last saw it",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.duplicates = Counter(
            "ondc_inbound_duplicates",
            "Requests ACKed as duplicates of a recorded (bap_id, transaction_id, message_id, "
            "action)",
            ["action"],
            registry=r,
        )
        self.signature_failures = Counter(
            "ondc_signature_failures",
            "Refused signature headers, by header and reason",
            ["header", "reason"],
            registry=r,
        )
        self.registry_cache = Counter(
            "ondc_registry_cache",
            "Key lookups by cache result (hit_local, hit_shared, miss, refresh)",
            ["result"],
            registry=r,
        )
        self.registry_lookups = Counter(
            "ondc_registry_lookups",
            "Registry lookup calls (each retry counts), by outcome",
            ["outcome"],
            registry=r,
        )
        self.inbox_pending = Gauge(
            "ondc_inbox_pending",
            "Inbox rows waiting for the processor (sampled)",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.outbox_pending = Gauge(
            "ondc_outbox_pending",
            "Outbox callbacks not yet delivered, nacked or expired (sampled)",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.processed = Counter(
            "ondc_inbox_processed",
            "Inbox rows run through the seller logic, by action and result",
            ["action", "result"],
            registry=r,
        )
        self.callback_attempts = Counter(
            "ondc_callback_attempts",
            "Callback delivery attempts, by callback action and outcome "
            "(delivered, nacked, retry, expired, refused)",
            ["action", "outcome"],
            registry=r,
        )
        self.callback_delivery = Histogram(
            "ondc_callback_delivery_seconds",
            "Time from a callback's enqueue to the buyer app's ACK",
            ["action"],
            buckets=DELIVERY_BUCKETS,
            registry=r,
        )
        self.callback_attempt_duration = Histogram(
            "ondc_callback_attempt_seconds",
            "Duration of one callback POST",
            buckets=ATTEMPT_BUCKETS,
            registry=r,
        )
        self.igm_open = Gauge(
            "ondc_igm_open_issues",
            "Issues (IGM) open or being processed, as the deadline watcher last saw them",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.igm_issues = Gauge(
            "ondc_igm_issues",
            "Open issues nearing or past a time ONDC expects (deadline: response, "
            "resolution; state: near, overdue), as the deadline watcher last saw them",
            ["deadline", "state"],
            registry=r,
            multiprocess_mode="mostrecent",
        )

        actions = (*BPP_ACTIONS, OTHER)
        self.ack = {a: self.requests.labels(a, "ACK") for a in actions}
        self.nack = {a: self.requests.labels(a, "NACK") for a in actions}
        self.duplicate = {a: self.duplicates.labels(a) for a in actions}
        self._nack_codes = {
            (a, code, status): self.nacks.labels(a, code, status)
            for a in actions
            for code, status in (
                ("30000", "400"),
                ("30000", "404"),
                ("30000", "413"),
                ("30000", "415"),
                ("30016", "401"),
                ("30022", "400"),
                ("31001", "503"),
            )
        }
        self.signature = {
            (h, reason): self.signature_failures.labels(h, reason)
            for h in SIGNATURE_HEADERS
            for reason in SIGNATURE_REASONS
        }
        self.cache = {result: self.registry_cache.labels(result) for result in CACHE_RESULTS}
        self.lookup = {o: self.registry_lookups.labels(o) for o in LOOKUP_OUTCOMES}
        callback_actions = (*CALLBACK_ACTIONS, OTHER)
        self.callback = {
            (a, o): self.callback_attempts.labels(a, o)
            for a in callback_actions
            for o in CALLBACK_OUTCOMES
        }
        self.delivery = {a: self.callback_delivery.labels(a) for a in callback_actions}
        self.process = {
            (a, res): self.processed.labels(a, res) for a in actions for res in PROCESS_RESULTS
        }
        self.igm_deadline = {
            (d, s): self.igm_issues.labels(d, s) for d in IGM_DEADLINES for s in IGM_DEADLINE_STATES
        }

    # -- recording (each a dict lookup and one inc) -------------------------------------------

    def nacked(self, action: str, code: str, status: int) -> None:
        label = action if action in self.ack else OTHER
        self.nack[label].inc()
        child = self._nack_codes.get((label, code, str(status)))
        if child is None:  # a code/status pair we did not foresee: still a closed set (ours)
            child = self._nack_codes[(label, code, str(status))] = self.nacks.labels(
                label, code, str(status)
            )
        child.inc()

    def signature_failed(self, header: str, reason: str) -> None:
        child = self.signature.get((header, reason))
        if child is None:  # not a reason we know: counted, without a new label value
            child = self.signature_failures.labels(header, OTHER)
        child.inc()

    def callback_outcome(self, action: str, outcome: str) -> None:
        label = action if action in CALLBACK_ACTIONS else OTHER
        self.callback[(label, outcome)].inc()

    def delivered_after(self, action: str, seconds: float) -> None:
        label = action if action in CALLBACK_ACTIONS else OTHER
        self.delivery[label].observe(max(0.0, seconds))

    def processed_row(self, action: str, result: str) -> None:
        label = action if action in BPP_ACTIONS else OTHER
        self.process[(label, result)].inc()

    # -- exposition ----------------------------------------------------------------------------

    def render(self) -> tuple[bytes, str]:
        """The text exposition and its content type. In multiprocess mode the values of every
        worker (files in ``PROMETHEUS_MULTIPROC_DIR``) are merged."""
        directory = multiprocess_dir()
        if directory:
            from prometheus_client import multiprocess

            merged = CollectorRegistry()
            multiprocess.MultiProcessCollector(merged, path=directory)
            return generate_latest(merged), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def value(self, name: str, labels: dict[str, str] | None = None) -> float:
        """A sample's current value (0 when absent): for tests and the load report."""
        found = self.registry.get_sample_value(name, labels or {})
        return found if found is not None else 0.0
