"""Admission control (admission.py): with a backlog older than a request's budget the node
answers 503 NACK 31001 with Retry-After and records nothing; searches are refused first, order
actions last; once the backlog clears, requests are ACKed again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update
from transport_doubles import Participant, node_settings, request_body, served

from ondc_adapter.admission import Backlog, Limits, decide
from ondc_adapter.api.app import create_app
from ondc_adapter.handlers import not_supported_handlers
from ondc_adapter.inbox import PROCESSED, InboxEntry
from ondc_adapter.registry import StaticKeyResolver, SubscriberRecord
from ondc_adapter.storage import Database

LIMITS = Limits(search_seconds=10.0, order_seconds=25.0, max_pending=100)


@pytest.mark.parametrize(
    ("action", "ttl", "age", "pending", "refused"),
    [
        ("search", 30, 0, 0, False),
        ("search", 30, 9, 10, False),
        ("search", 30, 11, 10, True),  # past the 10 s search limit
        ("search", 10, 6, 10, True),  # past half of a 10 s ttl
        ("search", 30, 1, 100, True),  # too deep
        ("select", 30, 11, 10, False),  # order actions go on...
        ("confirm", 30, 23, 150, False),
        ("confirm", 30, 25, 10, True),  # ...until 80 % of their ttl
        ("init", 30, 1, 200, True),  # or twice the search depth
    ],
)
def test_searches_are_refused_first_and_order_actions_last(
    action: str, ttl: float, age: float, pending: int, refused: bool
) -> None:
    assert (decide(action, ttl, Backlog(pending, age), LIMITS) is not None) is refused


async def _stale_row(db: Database, bap: Participant, seconds: float) -> None:
    at = datetime.now(UTC) - timedelta(seconds=seconds)
    async with db.session() as session:
        session.add(InboxEntry(
            action="search", bap_id=bap.subscriber_id, transaction_id="t-old",
            message_id="m-old", body=b"{}", signer=bap.subscriber_id, gateway=None,
            received_at=at, status="received", attempts=0, next_attempt_at=at,
        ))


async def _rows(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(InboxEntry)) or 0)


async def test_a_stale_backlog_sheds_searches_not_orders_and_recovers(
    seller_keys_dir: Path, pg_db: Database, bap: Participant
) -> None:
    bap.subscriber_url = "https://buyer.test/protocol/"
    resolver = StaticKeyResolver([SubscriberRecord.from_lookup(bap.lookup_record())])
    settings = node_settings(seller_keys_dir, "http://127.0.0.1:9", pg_db.url)
    app = create_app(settings, db=pg_db, key_resolver=resolver, run_workers=False,
                     handlers=not_supported_handlers())
    await _stale_row(pg_db, bap, seconds=20)  # the seller logic is 20 s behind
    async with served(app) as url, httpx.AsyncClient(timeout=10) as client:
        async def post(action: str) -> httpx.Response:
            body = request_body(action, bap=bap, bap_uri=bap.subscriber_url,
                                bpp_id="seller.test", bpp_uri="https://seller.test/ondc")
            return await client.post(
                f"{url}/ondc/{action}", content=body,
                headers={"Content-Type": "application/json", "Authorization": bap.sign(body)})

        shed = await post("search")
        assert shed.status_code == 503, shed.text
        assert shed.json()["error"]["code"] == "31001" and int(shed.headers["Retry-After"]) >= 1
        assert "busy" in shed.json()["error"]["message"]
        assert await _rows(pg_db) == 1  # a refused request leaves no row
        order = await post("select")  # 20 s is within an order action's 24 s budget
        assert order.json() == {"message": {"ack": {"status": "ACK"}}}, order.text
        metrics = (await client.get(f"{url}/metrics")).text
        assert 'ondc_inbound_shed_total{action="search"} 1.0' in metrics

        async with pg_db.session() as session:  # the backlog clears
            await session.execute(update(InboxEntry).values(status=PROCESSED))
        await asyncio.sleep(app.state.pipeline.admission.interval + 0.05)
        again = await post("search")
        assert again.json() == {"message": {"ack": {"status": "ACK"}}}, again.text


def test_a_draining_queue_is_judged_by_the_wait_of_a_new_request() -> None:
    """After a flood the oldest waiting row is old while the queue drains fast: a new request
    would wait only the queue's length at the answering rate, so it is admitted."""
    draining = Backlog(pending=20, oldest_age=12.0, expected_wait=0.4)
    assert decide("search", 30, draining, LIMITS) is None
    assert decide("search", 30, Backlog(pending=20, oldest_age=12.0), LIMITS) is not None
    growing = Backlog(pending=90, oldest_age=3.0, expected_wait=11.0)
    assert decide("search", 30, growing, LIMITS) is not None


def test_the_answering_rate_comes_from_arrivals_and_what_still_waits(monkeypatch) -> None:
    from ondc_adapter import admission as module
    from ondc_adapter.metrics import NodeMetrics

    control = module.AdmissionControl(
        None, LIMITS, clock=lambda: datetime.now(UTC), metrics=NodeMetrics()  # type: ignore[arg-type]
    )
    t = [100.0]
    monkeypatch.setattr(module.time, "monotonic", lambda: t[0])
    assert control._answering_rate(pending=50, newest_id=1000) is None  # one sample: unknown
    t[0] += 1.0
    # 100 arrived (ids 1001-1100), 50 still wait: 100 were taken up in a second
    assert control._answering_rate(pending=50, newest_id=1100) == pytest.approx(100.0)
    t[0] += 1.0
    assert control._answering_rate(pending=0, newest_id=1100) == pytest.approx(75.0)
