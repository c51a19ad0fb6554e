"""Which IGM action may follow which: pure functions over an issue's action history.

The respondent's view (this node answers a buyer app's complaint, IGM flow 1):

    buyer OPEN                -> we answer PROCESSING (at once, automatically)
    we    INFO_REQUESTED      -> buyer INFO_PROVIDED -> we answer PROCESSING
    we    RESOLUTION_PROPOSED -> buyer RESOLUTION_ACCEPTED | RESOLUTION_REJECTED
    buyer RESOLUTION_ACCEPTED -> we RESOLVED (after carrying the resolution out)
    buyer ESCALATED           -> level GRIEVANCE; our GRO answers PROCESSING and goes on
    buyer CLOSED              -> nothing more from anyone

A refusal is an ``IssueRefusal`` with the IGM error code the specification gives (IGM001 for a
request that does not fit, IGM007 for a wrong escalation, IGM008 for a duplicate complaint)
and a message naming what is wrong.
"""

from __future__ import annotations

from typing import Any

BUYER_CODES = frozenset(
    {
        "OPEN",
        "INFO_PROVIDED",
        "RESOLUTION_ACCEPTED",
        "RESOLUTION_REJECTED",
        "ESCALATED",
        "CLOSED",
        "CLOSE",
        "INFO_NOT_AVAILABLE",
    }
)
SELLER_ACTIONS = ("process", "ask-info", "propose", "resolve")
RESOLUTION_KINDS = ("REFUND", "REPLACEMENT", "RETURN", "CANCEL", "NO_ACTION")


class IssueRefusal(Exception):
    # A plain class, not a frozen dataclass: Python sets ``__traceback__`` on an exception
    # leaving an ``@asynccontextmanager`` (``Database.session()``), which a frozen (or slots)
    # dataclass refuses, turning every refusal raised inside a session into a TypeError.
    def __init__(self, code: str, message: str, path: str = "message.issue.actions") -> None:
        super().__init__(code, message, path)
        self.code = code  # IGM001 ... IGM009
        self.message = message
        self.path = path

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def _code(action: dict[str, Any]) -> str:
    return str((action.get("descriptor") or action.get("description") or {}).get("code", ""))


def last_code(actions: list[dict[str, Any]], *codes: str) -> str | None:
    """The code of the latest action among ``codes`` (None when none happened)."""
    for action in reversed(actions):
        if _code(action) in codes:
            return _code(action)
    return None


def outstanding_request(actions: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Our latest INFO_REQUESTED not yet answered by an INFO_PROVIDED / INFO_NOT_AVAILABLE."""
    for action in reversed(actions):
        code = _code(action)
        if code in ("INFO_PROVIDED", "INFO_NOT_AVAILABLE"):
            return None
        if code == "INFO_REQUESTED":
            return action
    return None


def outstanding_proposal(actions: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Our latest RESOLUTION_PROPOSED not yet accepted or rejected."""
    for action in reversed(actions):
        code = _code(action)
        if code in ("RESOLUTION_ACCEPTED", "RESOLUTION_REJECTED", "RESOLVED"):
            return None
        if code == "RESOLUTION_PROPOSED":
            return action
    return None


def accepted_resolution(actions: list[dict[str, Any]]) -> str | None:
    """The resolution id of an acceptance not yet followed by RESOLVED."""
    for action in reversed(actions):
        code = _code(action)
        if code == "RESOLVED":
            return None
        if code == "RESOLUTION_ACCEPTED":
            return str(action.get("ref_id") or "") or None
    return None


def new_actions(
    known: list[dict[str, Any]], incoming: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The actions ``incoming`` adds to ``known``. A buyer app sends the whole history each
    time (append only); one that drops or reorders what we already hold is refused."""
    known_ids = [(a.get("id"), _code(a)) for a in known]
    incoming_ids = [(a.get("id"), _code(a)) for a in incoming]
    if incoming_ids[: len(known_ids)] != known_ids:
        missing = [str(i) for i, code in known_ids if (i, code) not in incoming_ids]
        raise IssueRefusal(
            "IGM001",
            "actions must repeat the issue's history and append to it"
            + (
                f"; missing action(s) {', '.join(map(str, missing))}"
                if missing
                else "; the known actions are out of order"
            ),
        )
    added = incoming[len(known) :]
    if not added:
        raise IssueRefusal("IGM001", "the issue carries no new action")
    return added


def check_buyer_action(
    action: dict[str, Any],
    *,
    status: str,
    level: str,
    history: list[dict[str, Any]],
    resolution_ids: set[str],
) -> None:
    """May the buyer app take ``action`` now? Raises ``IssueRefusal`` when not."""
    code = _code(action)
    if code not in BUYER_CODES:
        raise IssueRefusal("IGM001", f"action code {code!r} is not one a complainant sends")
    if status == "CLOSED":
        raise IssueRefusal("IGM001", "the issue is closed")
    if code == "OPEN":
        raise IssueRefusal("IGM008", "this issue is already open; send a new issue id")
    if code in ("INFO_PROVIDED", "INFO_NOT_AVAILABLE"):
        if outstanding_request(history) is None:
            raise IssueRefusal("IGM001", f"{code} answers an INFO_REQUESTED; none is pending")
    elif code in ("RESOLUTION_ACCEPTED", "RESOLUTION_REJECTED"):
        if outstanding_proposal(history) is None:
            raise IssueRefusal("IGM001", f"{code} needs a proposed resolution; none is pending")
        ref = action.get("ref_id")
        if code == "RESOLUTION_ACCEPTED" and ref not in resolution_ids:
            raise IssueRefusal(
                "IGM001",
                f"ref_id {ref!r} is not a resolution proposed on this issue",
                "message.issue.actions.ref_id",
            )
    elif code == "ESCALATED" and level != "ISSUE":
        raise IssueRefusal(
            "IGM007", f"the issue is already a {level}; escalation beyond the GRO goes to ODR"
        )


def check_seller_action(action: str, *, status: str, history: list[dict[str, Any]]) -> None:
    """May the seller take ``action`` (process, ask-info, propose, resolve) now?"""
    if status in ("CLOSED", "RESOLVED"):
        raise IssueRefusal("IGM001", f"the issue is {status}")
    if action == "ask-info":
        if outstanding_request(history) is not None:
            raise IssueRefusal("IGM001", "an information request is already pending")
        if outstanding_proposal(history) is not None:
            raise IssueRefusal("IGM001", "a proposed resolution is awaiting the buyer's answer")
    elif action == "propose":
        if outstanding_request(history) is not None:
            raise IssueRefusal("IGM001", "wait for the information requested before proposing")
        if outstanding_proposal(history) is not None:
            raise IssueRefusal("IGM001", "a proposed resolution is awaiting the buyer's answer")
    elif action == "resolve" and accepted_resolution(history) is None:
        raise IssueRefusal("IGM001", "resolve follows the buyer's RESOLUTION_ACCEPTED")
    elif action == "process" and status != "OPEN":
        raise IssueRefusal("IGM001", "the issue is already being processed")


def status_after(code: str, current: str) -> str:
    """The issue status once an action with ``code`` is taken."""
    if code in ("CLOSED", "CLOSE"):
        return "CLOSED"
    if code == "RESOLVED":
        return "RESOLVED"
    if code == "OPEN":
        return "OPEN"
    if code == "ESCALATED":
        return "OPEN"  # a grievance starts afresh with the GRO
    return "PROCESSING"
