"""The answering path's batches and hand-offs, against PostgreSQL and the buyer double:
a batch of inbox rows shares one transaction (a failing handler costs only its own row), its
callbacks are written leased to this process's dispatcher and handed over in memory, and the
dispatcher streams sends so one slow buyer app holds up nobody else."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
from fastapi import FastAPI, Request, Response
from sqlalchemy import select
from test_workers import put_callback, record_request
from transport_doubles import ACK_BODY, BuyerDouble, eventually, node_settings, served

from ondc_adapter import keys
from ondc_adapter.dispatcher import Dispatcher
from ondc_adapter.exchange import InboundRequest, OutboundMessage
from ondc_adapter.inbox import PROCESSED, RECEIVED, Inbox, InboxEntry
from ondc_adapter.outbox import DELIVERED, PENDING, Callback, OutboxEntry, enqueue
from ondc_adapter.processor import InboxProcessor


@pytest.fixture
def settings(seller_keys_dir, pg_db):
    return node_settings(seller_keys_dir, "http://127.0.0.1:9", pg_db.url)


class ListSink:
    """A ``CallbackSink`` that keeps what it is handed."""

    def __init__(self, lease: timedelta) -> None:
        self.lease = lease
        self.adopted: list[Callback] = []

    def adopt(self, callbacks: Sequence[Callback]) -> None:
        self.adopted.extend(callbacks)


def later(seconds: float = 1.0):
    """A processor clock ahead of the rows: they look queued, so they are taken in a batch."""
    return lambda: datetime.now(UTC) + timedelta(seconds=seconds)


async def test_one_failing_handler_in_a_batch_costs_only_its_own_row(pg_db, settings, bap) -> None:
    inbox = Inbox(pg_db)
    bodies = [await record_request(inbox, bap, "https://buyer.test/") for _ in range(4)]
    doomed = orjson.loads(bodies[1])["context"]["message_id"]
    calls: dict[str, int] = {}

    async def handler(request: InboundRequest, session, deps) -> list[OutboundMessage]:
        mid = request.context.message_id
        calls[mid] = calls.get(mid, 0) + 1
        reply = OutboundMessage.reply(
            request, {"n": calls[mid]}, settings=deps.settings, now=deps.now()
        )
        await enqueue(session, reply, now=deps.now())  # a write that must vanish on failure
        if mid == doomed:
            raise RuntimeError("this one breaks")
        return [reply]

    processor = InboxProcessor(pg_db, settings, {"search": handler}, clock=later(), retry_delay=60)
    assert await processor.process_batch(16) == 4  # one batch, one transaction
    order = [orjson.loads(b)["context"]["message_id"] for b in bodies]
    # the row before the failing one ran twice (its first run was rolled back with the batch),
    # the failing one once, the rows after it once
    assert [calls.get(m, 0) for m in order] == [2, 1, 1, 1]
    async with pg_db.session() as s:
        rows = {r.message_id: r for r in (await s.execute(select(InboxEntry))).scalars()}
        outbox = (await s.execute(select(OutboxEntry))).scalars().all()
    assert rows[doomed].status == RECEIVED and rows[doomed].attempts == 1
    assert "this one breaks" in rows[doomed].error
    for mid in order:
        if mid != doomed:
            assert (rows[mid].status, rows[mid].attempts) == (PROCESSED, 1)
    # each good row: its enqueued write and its returned reply, from ONE run; nothing of the
    # failing row and nothing of the rolled-back first run survives
    per_message: dict[str, list[int]] = {}
    for entry in outbox:
        per_message.setdefault(entry.message_id, []).append(
            orjson.loads(entry.body)["message"]["n"]
        )
    assert doomed not in per_message
    assert per_message[order[0]] == [2, 2]
    assert per_message[order[2]] == [1, 1] and per_message[order[3]] == [1, 1]


async def test_callbacks_are_written_leased_and_handed_to_the_sink(
    pg_db, settings, seller_keys_dir, bap
) -> None:
    inbox = Inbox(pg_db)
    for _ in range(3):
        await record_request(inbox, bap, "https://buyer.test/")

    async def answer(request: InboundRequest, session, deps) -> list[OutboundMessage]:
        return [
            OutboundMessage.reply(request, {"catalog": {}}, settings=deps.settings, now=deps.now())
        ]

    sink = ListSink(timedelta(seconds=30))
    processor = InboxProcessor(pg_db, settings, {"search": answer}, clock=later(), sink=sink)
    before = datetime.now(UTC)
    assert await processor.process_batch(16) == 3
    async with pg_db.session() as s:
        rows = {r.id: r for r in (await s.execute(select(OutboxEntry))).scalars()}
    assert sorted(c.id for c in sink.adopted) == sorted(rows)
    for callback in sink.adopted:
        row = rows[callback.id]
        assert (callback.body, callback.url, callback.message_id) == (
            row.body,
            row.url,
            row.message_id,
        )
        assert row.status == PENDING and row.next_attempt_at == callback.leased_until
        assert callback.leased_until > before + timedelta(seconds=29)
    # leased to this process: another worker's dispatcher does not find them
    async with httpx.AsyncClient() as http:
        other = Dispatcher(pg_db, settings, keys.load_keys(seller_keys_dir), http)
        assert await other.claim() == []


async def test_without_a_sink_callbacks_are_due_at_once(
    pg_db, settings, seller_keys_dir, bap
) -> None:
    await record_request(Inbox(pg_db), bap, "https://buyer.test/")

    async def answer(request: InboundRequest, session, deps) -> list[OutboundMessage]:
        return [OutboundMessage.reply(request, {}, settings=deps.settings, now=deps.now())]

    woken: list[bool] = []
    processor = InboxProcessor(
        pg_db, settings, {"search": answer}, on_enqueued=lambda: woken.append(True)
    )
    assert await processor.process_all() == 1
    assert woken == [True]
    async with httpx.AsyncClient() as http:
        dispatcher = Dispatcher(pg_db, settings, keys.load_keys(seller_keys_dir), http)
        assert len(await dispatcher.claim()) == 1


async def leased_callback(pg_db, url: str, *, lease: float) -> Callback:
    entry_id = await put_callback(pg_db, url)
    async with pg_db.session() as s:
        entry = await s.get(OutboxEntry, entry_id)
        assert entry is not None
        entry.next_attempt_at = datetime.now(UTC) + timedelta(seconds=lease)
        await s.flush()
        return Callback.of(entry)


async def test_run_sends_adopted_callbacks_and_leaves_one_whose_lease_is_too_short(
    pg_db, settings, seller, seller_keys_dir, buyer_socket
) -> None:
    double = BuyerDouble(seller)
    node = keys.load_keys(seller_keys_dir)
    async with served(double.app, buyer_socket) as url, httpx.AsyncClient() as http:
        dispatcher = Dispatcher(pg_db, settings, node, http)
        good = await leased_callback(pg_db, f"{url}/protocol/on_search", lease=30)
        # less lease left than one attempt may take: another worker could take it mid-send
        short = await leased_callback(pg_db, f"{url}/protocol/on_search", lease=1)
        stop = asyncio.Event()
        running = asyncio.create_task(dispatcher.run(stop))
        dispatcher.adopt([good, short])

        async def good_delivered() -> bool:
            async with pg_db.session() as s:
                row = await s.get(OutboxEntry, good.id)
                return row is not None and row.status == DELIVERED

        await eventually(good_delivered, what="the adopted callback delivered")
        async with pg_db.session() as s:
            left = await s.get(OutboxEntry, short.id)
            assert left is not None and (left.status, left.attempts) == (PENDING, 0)

        # once its lease has run out it is claimed like any due row, and sent
        async def short_delivered() -> bool:
            async with pg_db.session() as s:
                row = await s.get(OutboxEntry, short.id)
                return row is not None and row.status == DELIVERED

        await eventually(short_delivered, what="the short-leased callback delivered later")
        stop.set()
        dispatcher.wake()
        await running
    assert len(double.received) == 2 and all(c.verified for c in double.received)


async def test_a_slow_buyer_app_holds_up_no_other_callback(
    pg_db, settings, seller_keys_dir, buyer_socket
) -> None:
    release = asyncio.Event()
    seen: dict[str, float] = {}
    app = FastAPI()

    @app.post("/{who}/on_search")
    async def on_search(who: str, request: Request) -> Response:
        await request.body()
        if who == "slow":
            await release.wait()
        seen[who] = time.monotonic()
        return Response(ACK_BODY, media_type="application/json")

    node = keys.load_keys(seller_keys_dir)
    async with served(app, buyer_socket) as url, httpx.AsyncClient() as http:
        dispatcher = Dispatcher(pg_db, settings, node, http)
        slow = await leased_callback(pg_db, f"{url}/slow/on_search", lease=30)
        quick = [
            await leased_callback(pg_db, f"{url}/quick{n}/on_search", lease=30) for n in range(3)
        ]
        stop = asyncio.Event()
        running = asyncio.create_task(dispatcher.run(stop))
        dispatcher.adopt([slow, *quick])

        async def quick_done() -> bool:
            async with pg_db.session() as s:
                rows = [await s.get(OutboxEntry, c.id) for c in quick]
            return all(r is not None and r.status == DELIVERED for r in rows)

        # delivered AND recorded while the slow buyer app still holds its request
        await eventually(quick_done, what="the quick callbacks recorded")
        assert "slow" not in seen
        release.set()
        stop.set()
        dispatcher.wake()
        await running
    async with pg_db.session() as s:
        row = await s.get(OutboxEntry, slow.id)
        assert row is not None and row.status == DELIVERED
