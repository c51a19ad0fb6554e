"""The node watching its issues against the times ONDC expects.

``DeadlineWatcher.run`` is a background task of the app (``api/app.py`` starts it beside the
processor and the dispatcher). Every ``ONDC_IGM_WATCH_SECONDS`` it runs one query
(``service.deadline_report``: the open issues, without their JSON) and

* sets ``ondc_igm_open_issues`` and ``ondc_igm_issues{deadline, state}`` (``metrics.py``);
* logs ``igm.deadline_near`` (warning) and ``igm.deadline_passed`` (error) once per issue and
  deadline when it enters that state (in this process: a restart, or each of several workers,
  logs a still-late issue once more). The lines carry ids and times only: the complaint's text
  and the complainant's contacts are personal data and stay in the database.

At start it checks that the seller named its support desk and its grievance redressal officer
(GRO): without a support desk every issue is answered with an error, and without a GRO a node
cannot go live on ONDC. That is a warning in the log, not a refusal to start: the officers can
be set at any time through the admin API or ``ondc-adapter issues officers set``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime

from pydantic import ValidationError

from ondc_adapter.igm import service
from ondc_adapter.igm.rules import IssueRefusal
from ondc_adapter.igm.wire import GRO, SUPPORT
from ondc_adapter.logging import get_logger
from ondc_adapter.metrics import NodeMetrics
from ondc_adapter.settings import Settings
from ondc_adapter.storage import Database

log = get_logger(__name__)

EVENTS = {"near": "igm.deadline_near", "overdue": "igm.deadline_passed"}
ROLE_NAMES = {SUPPORT: "support desk", GRO: "grievance redressal officer (GRO)"}


class DeadlineWatcher:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        metrics: NodeMetrics,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self.db = db
        self.settings = settings
        self.metrics = metrics
        self.clock = clock
        # (issue pk, deadline, state) already logged by this process; pruned every round to
        # what is still flagged, so it never holds more than the open issues
        self._logged: set[tuple[int, str, str]] = set()

    async def check_officers(self) -> dict[str, str]:
        """Log a warning for each officer the node lacks or cannot send; returns {role:
        problem} (empty when both are named)."""
        problems: dict[str, str] = {}
        async with self.db.session() as session:
            for role in (SUPPORT, GRO):
                try:
                    who = await service.officer(session, self.settings, role)
                    service.OfficerDetails(name=who.name, email=who.email, phone=who.phone)
                except IssueRefusal:
                    problems[role] = "not named"
                except ValidationError as exc:
                    fields = sorted({str(e["loc"][0]) for e in exc.errors(include_url=False)})
                    problems[role] = f"invalid {', '.join(fields)}"
        for role, problem in problems.items():
            log.warning(
                "igm.no_gro" if role == GRO else "igm.no_support_desk",
                problem=problem,
                consequence=(
                    "a node without a GRO cannot go live on ONDC"
                    if role == GRO
                    else "every issue is answered with an IGM001 error"
                ),
                fix=(
                    f"set ONDC_{'GRO' if role == GRO else 'IGM_SUPPORT'}_NAME/_EMAIL/_PHONE, "
                    f"or PUT /admin/issues/officers/{role}"
                ),
            )
        return problems

    async def check_once(self) -> service.DeadlineReport:
        now = self.clock()
        async with self.db.session() as session:
            report = await service.deadline_report(session, now, self.settings.igm_warn_fraction)
        counts = dict.fromkeys(self.metrics.igm_deadline, 0)
        flagged: set[tuple[int, str, str]] = set()
        for record, states in report.flagged:
            for deadline, state in states.items():
                if state not in EVENTS:
                    continue
                counts[(deadline, state)] += 1
                key = (record.id, deadline, state)
                flagged.add(key)
                if key in self._logged:
                    continue
                emit = log.warning if state == "near" else log.error
                emit(
                    EVENTS[state],
                    deadline=deadline,
                    issue_id=record.issue_id,
                    order_id=record.order_id,
                    bap_id=record.bap_id,
                    level=record.level,
                    status=record.status,
                    respond_by=record.respond_by.isoformat(),
                    resolve_by=record.resolve_by.isoformat(),
                )
        self._logged = flagged
        self.metrics.igm_open.set(report.open_issues)
        for key, n in counts.items():
            self.metrics.igm_deadline[key].set(n)
        return report

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await self.check_officers()
        except Exception as exc:  # the database may be down at start: the rounds retry
            log.warning("igm.officer_check_failed", error=repr(exc))
        while not stop.is_set():
            try:
                await self.check_once()
            except Exception as exc:  # a failed round is logged; the next one tries again
                log.warning("igm.watch_failed", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.settings.igm_watch_seconds)
