"""Several workers on one PostgreSQL + Redis: no inbox row is processed twice and no callback is
delivered twice (``FOR UPDATE SKIP LOCKED``), whether the workers race on the tables directly or
run as whole apps that each receive copies of the same requests."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
from sqlalchemy import func, select
from transport_doubles import eventually, node_settings, request_body

from ondc_adapter import keys
from ondc_adapter.dispatcher import Dispatcher
from ondc_adapter.exchange import OutboundMessage, serialise
from ondc_adapter.handlers import not_supported_handlers
from ondc_adapter.inbox import PROCESSED, Inbox, InboxEntry, InboxRecord
from ondc_adapter.outbox import DELIVERED, OutboxAttempt, OutboxEntry, enqueue
from ondc_adapter.processor import InboxProcessor
from ondc_adapter.storage import Database

ROWS = 40


@pytest.fixture
async def second_db(pg_database_url: str):
    """Another engine (its own pool) on the same database: a second worker process's view."""
    db = Database(pg_database_url)
    yield db
    await db.dispose()


async def count(db: Database, query) -> int:
    async with db.session() as s:
        return (await s.execute(query)).scalar_one()


async def test_two_processors_never_process_one_inbox_row_twice(
    pg_db, second_db, seller_keys_dir, bap
) -> None:
    settings = node_settings(seller_keys_dir, "http://127.0.0.1:9", pg_db.url)
    inbox = Inbox(pg_db)
    now = datetime.now(UTC)
    for _ in range(ROWS):
        body = request_body("search", bap=bap, bap_uri="https://buyer.test/protocol/")
        ctx = orjson.loads(body)["context"]
        await inbox.record(
            InboxRecord(
                "search",
                ctx["bap_id"],
                ctx["transaction_id"],
                ctx["message_id"],
                body,
                "buyer.test",
                None,
                now,
            )
        )
    handled: Counter[str] = Counter()
    base = not_supported_handlers()["search"]

    async def counting(request, session, deps):
        handled[request.context.message_id] += 1
        await asyncio.sleep(0)  # let the other worker run while this row is held
        return await base(request, session, deps)

    workers = [InboxProcessor(db, settings, {"search": counting}) for db in (pg_db, second_db)]

    async def drain(worker: InboxProcessor) -> int:
        done = 0
        while await worker.process_one():
            done += 1
        return done

    done = await asyncio.gather(*(drain(w) for w in workers))
    assert sum(done) == ROWS
    assert len(handled) == ROWS and set(handled.values()) == {1}
    assert (
        await count(
            pg_db,
            select(func.count()).select_from(InboxEntry).where(InboxEntry.status == PROCESSED),
        )
        == ROWS
    )
    ids = await _scalars(pg_db, select(OutboxEntry.message_id))
    assert len(ids) == ROWS and len(set(ids)) == ROWS  # one callback per request


async def _scalars(db: Database, query) -> list:
    async with db.session() as s:
        return list((await s.execute(query)).scalars())


async def test_two_dispatchers_never_deliver_one_callback_twice(
    pg_db, second_db, seller_keys_dir, buyer
) -> None:
    double, bap_uri = buyer
    settings = node_settings(seller_keys_dir, "http://127.0.0.1:9", pg_db.url)
    node = keys.load_keys(seller_keys_dir)
    now = datetime.now(UTC)
    async with pg_db.session() as session:
        for _ in range(ROWS):
            tx, msg = str(uuid.uuid4()), str(uuid.uuid4())
            payload = {
                "context": {
                    "action": "on_search",
                    "bpp_id": "seller.test",
                    "transaction_id": tx,
                    "message_id": msg,
                },
                "message": {},
            }
            await enqueue(
                session,
                OutboundMessage(
                    action="on_search",
                    url=bap_uri + "on_search",
                    transaction_id=tx,
                    message_id=msg,
                    body=serialise(payload),
                    expires_at=now + timedelta(minutes=5),
                ),
                now=now,
            )
    async with httpx.AsyncClient() as http:
        dispatchers = [
            Dispatcher(db, settings, node, http, batch_size=4) for db in (pg_db, second_db)
        ]

        async def drain(dispatcher: Dispatcher) -> int:
            sent = 0
            while n := await dispatcher.dispatch_once():
                sent += n
            return sent

        sent = await asyncio.gather(*(drain(d) for d in dispatchers))
    assert sum(sent) == ROWS
    received = Counter(c.message_id for c in double.received)
    assert len(received) == ROWS and set(received.values()) == {1}
    assert all(c.verified for c in double.received)
    assert await count(pg_db, select(func.count()).select_from(OutboxAttempt)) == ROWS
    assert (
        await count(
            pg_db,
            select(func.count()).select_from(OutboxEntry).where(OutboxEntry.status == DELIVERED),
        )
        == ROWS
    )


async def test_two_apps_sharing_postgres_and_redis_answer_each_request_once(
    start_node, second_db, buyer, bap, gateway, client, pg_db
) -> None:
    """Every request is sent to both nodes (a retrying gateway, a load balancer that moved the
    connection): one inbox row, one callback, delivered once."""
    double, bap_uri = buyer
    bodies = [request_body("search", bap=bap, bap_uri=bap_uri) for _ in range(20)]
    async with start_node() as (url_a, _a), start_node(db=second_db) as (url_b, _b):

        async def send(url: str, body: bytes) -> int:
            response = await client.post(
                f"{url}/ondc/search",
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "Authorization": bap.sign(body),
                    "X-Gateway-Authorization": gateway.sign(body),
                },
            )
            return response.status_code

        statuses = await asyncio.gather(
            *(send(url, body) for body in bodies for url in (url_a, url_b))
        )
        assert set(statuses) == {200}

        async def all_delivered() -> bool:
            pending = await count(
                pg_db,
                select(func.count())
                .select_from(OutboxEntry)
                .where(OutboxEntry.status != DELIVERED),
            )
            total = await count(pg_db, select(func.count()).select_from(OutboxEntry))
            return total == len(bodies) and pending == 0

        await eventually(all_delivered, what="every callback delivered")
    received = Counter(c.message_id for c in double.received)
    sent = {orjson.loads(b)["context"]["message_id"] for b in bodies}
    assert set(received) == sent
    assert set(received.values()) == {1}
    assert await count(pg_db, select(func.count()).select_from(InboxEntry)) == len(bodies)
