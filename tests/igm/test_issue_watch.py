"""The deadline watcher (igm/watch.py) on PostgreSQL, with a controlled clock: gauges, one log
line per issue and deadline as it nears or passes (ids and times only, never the complaint or
the complainant), and the start-up warning when the seller named no GRO."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import orjson
import pytest
import structlog
from igm_kit import Complainant, confirmed_order, igm_settings
from order_flowkit import Clock, node_settings
from sqlalchemy import text
from sqlalchemy.exc import InvalidRequestError

from ondc_adapter.igm import service
from ondc_adapter.igm.watch import DeadlineWatcher
from ondc_adapter.logging import configure_logging
from ondc_adapter.metrics import NodeMetrics
from ondc_adapter.protocol.durations import parse_timestamp
from ondc_adapter.storage import Database

PERSONAL = ("Asha", "9886098860", "asha@example.com", "damaged", "product quality",
            "torn-saree", "9886012345")


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("DEBUG", json=True, stream=stream)
    yield stream
    structlog.reset_defaults()


def events(stream: io.StringIO, *names: str) -> list[dict[str, Any]]:
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    return [line for line in lines if line["event"] in names]


def gauges(metrics: NodeMetrics) -> dict[str, float]:
    out = {"open": metrics.value("ondc_igm_open_issues")}
    for d in ("response", "resolution"):
        for s in ("near", "overdue"):
            out[f"{d}/{s}"] = metrics.value("ondc_igm_issues", {"deadline": d, "state": s})
    return out


async def test_deadlines_set_gauges_and_log_once_without_personal_data(
    pg_db: Database, log_lines: io.StringIO
) -> None:
    clock = Clock()
    settings = igm_settings(igm_response_time="PT1H", igm_resolution_time="PT10H",
                            igm_warn_fraction=0.25)
    buyer = await confirmed_order(pg_db, clock, settings)
    c = Complainant(pg_db, buyer)
    await c.open()
    created = parse_timestamp(c.last["created_at"])
    metrics = NodeMetrics()
    watcher = DeadlineWatcher(pg_db, settings, metrics, clock=clock)
    watched = ("igm.deadline_near", "igm.deadline_passed")

    clock.t = created + timedelta(hours=1)
    report = await watcher.check_once()
    assert report.open_issues == 1 and report.flagged == []
    assert gauges(metrics) == {"open": 1, "response/near": 0, "response/overdue": 0,
                               "resolution/near": 0, "resolution/overdue": 0}

    clock.t = created + timedelta(hours=8)  # 2 h of 10 left: under a quarter
    for _ in range(2):
        await watcher.check_once()
    assert gauges(metrics)["resolution/near"] == 1
    [near] = events(log_lines, *watched)
    assert near["event"] == "igm.deadline_near" and near["level"] == "warning"
    assert (near["issue_id"], near["order_id"], near["deadline"]) == (
        c.issue_id, buyer.order_id, "resolution")
    assert parse_timestamp(near["resolve_by"]) == created + timedelta(hours=10)

    clock.t = created + timedelta(hours=11)
    for _ in range(2):
        await watcher.check_once()
    assert gauges(metrics) == {"open": 1, "response/near": 0, "response/overdue": 0,
                               "resolution/near": 0, "resolution/overdue": 1}
    [_, passed] = events(log_lines, *watched)
    assert passed["event"] == "igm.deadline_passed" and passed["level"] == "error"
    for line in (near, passed):
        logged = orjson.dumps(line).decode()
        assert not [p for p in PERSONAL if p in logged], logged

    # the rows come without their JSON (the watcher's one query stays small)
    async with pg_db.session() as s:
        [(record, states)] = await service.deadlines(s, clock.t, 0.25)
        assert states == {"response": "met", "resolution": "overdue"}
        with pytest.raises(InvalidRequestError):
            _ = record.issue

    # an issue the node raised itself (flow 2) is the buyer app's to answer: not watched here
    async with pg_db.session() as s:
        await s.execute(text("UPDATE igm_issues SET role = 'complainant'"))
    assert (await watcher.check_once()).open_issues == 0
    async with pg_db.session() as s:
        await s.execute(text("UPDATE igm_issues SET role = 'respondent'"))

    # the buyer closes it: nothing open, nothing flagged
    await c.act("CLOSED", "ok")
    await watcher.check_once()
    assert set(gauges(metrics).values()) == {0}


async def test_no_gro_is_a_start_up_warning(pg_db: Database, log_lines: io.StringIO) -> None:
    clock = Clock()
    bare = DeadlineWatcher(pg_db, node_settings(), NodeMetrics(), clock=clock)
    assert await bare.check_officers() == {"support": "not named", "gro": "not named"}
    [gro] = events(log_lines, "igm.no_gro")
    assert "cannot go live" in gro["consequence"] and gro["level"] == "warning"
    assert "/admin/issues/officers/gro" in gro["fix"]
    assert len(events(log_lines, "igm.no_support_desk")) == 1

    async with pg_db.session() as s:
        await service.set_officer(s, "gro", name="Lakshmi Rao", email="gro@seller.example.in",
                                  phone="9000000001", now=clock())
    assert await bare.check_officers() == {"support": "not named"}
    assert await DeadlineWatcher(pg_db, igm_settings(), NodeMetrics(), clock=clock
                                 ).check_officers() == {}
    # named in the settings, but with a phone ONDC's validator refuses
    odd = igm_settings(igm_support_phone="+91 98765 00001")
    assert await DeadlineWatcher(pg_db, odd, NodeMetrics(), clock=clock).check_officers() == {
        "support": "invalid phone"}
