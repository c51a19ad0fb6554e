"""Inbox processor and callback dispatcher against PostgreSQL and the buyer double."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
from sqlalchemy import select
from transport_doubles import BuyerDouble, eventually, node_settings, request_body, served

from ondc_adapter import keys
from ondc_adapter.dispatcher import Dispatcher, classify
from ondc_adapter.exchange import InboundRequest, OutboundMessage, serialise
from ondc_adapter.handlers import default_handlers, not_supported_handlers
from ondc_adapter.inbox import FAILED, PROCESSED, Inbox, InboxEntry, InboxRecord, Recorded
from ondc_adapter.outbox import (
    DELIVERED,
    EXPIRED,
    NACKED,
    PENDING,
    OutboxAttempt,
    OutboxEntry,
    enqueue,
)
from ondc_adapter.processor import InboxProcessor, inbound_from_row
from ondc_adapter.protocol.context import BPP_ACTIONS
from ondc_adapter.protocol.messages import Envelope


@pytest.fixture
def settings(seller_keys_dir, pg_db):
    return node_settings(seller_keys_dir, "http://127.0.0.1:9", pg_db.url)


async def record_request(inbox: Inbox, bap, bap_uri: str, action: str = "search") -> bytes:
    body = request_body(
        action, bap=bap, bap_uri=bap_uri, bpp_id="seller.test", bpp_uri="https://seller.test/ondc"
    )
    ctx = orjson.loads(body)["context"]
    result = await inbox.record(
        InboxRecord(
            action,
            ctx["bap_id"],
            ctx["transaction_id"],
            ctx["message_id"],
            body,
            "buyer.test",
            None,
            datetime.now(UTC),
        )
    )
    assert result is Recorded.NEW
    return body


async def test_inbox_deduplicates_in_the_database_and_in_one_batch(pg_db, bap) -> None:
    inbox = Inbox(pg_db)
    body = request_body("search", bap=bap, bap_uri="https://buyer.test/")
    ctx = orjson.loads(body)["context"]
    entry = InboxRecord(
        "search",
        ctx["bap_id"],
        ctx["transaction_id"],
        ctx["message_id"],
        body,
        "buyer.test",
        None,
        datetime.now(UTC),
    )
    together = await asyncio.gather(*(inbox.record(entry) for _ in range(5)))
    later = await Inbox(pg_db).record(entry)  # another process: only the database knows
    assert sorted(together) == sorted([Recorded.NEW] + [Recorded.DUPLICATE] * 4)
    assert later is Recorded.DUPLICATE


async def test_redis_fast_path_only_remembers_committed_keys(
    pg_db, bap, redis_client, redis_prefix
) -> None:
    inbox = Inbox(pg_db, redis=redis_client, redis_prefix=redis_prefix)
    await record_request(inbox, bap, "https://buyer.test/")
    keys_in_redis = [k async for k in redis_client.scan_iter(f"{redis_prefix}inbox:*")]
    assert len(keys_in_redis) == 1
    async with pg_db.session() as s:
        row = (await s.execute(select(InboxEntry))).scalar_one()
    entry = InboxRecord(
        row.action,
        row.bap_id,
        row.transaction_id,
        row.message_id,
        row.body,
        row.signer,
        None,
        row.received_at,
    )
    assert await inbox.record(entry) is Recorded.DUPLICATE


async def test_failing_handler_is_retried_then_answered_with_31001(pg_db, settings, bap) -> None:
    calls = 0

    async def broken(request: InboundRequest, session, deps) -> list[OutboundMessage]:
        nonlocal calls
        calls += 1
        # a partial write that must vanish with the failure
        await enqueue(
            session,
            OutboundMessage.reply(
                request, {"partial": True}, settings=deps.settings, now=deps.now()
            ),
            now=deps.now(),
        )
        raise RuntimeError("database of products is on fire")

    processor = InboxProcessor(pg_db, settings, {"search": broken}, max_attempts=3, retry_delay=0)
    await record_request(Inbox(pg_db), bap, "https://buyer.test/")
    assert await processor.process_all() == 3
    assert calls == 3
    async with pg_db.session() as s:
        row = (await s.execute(select(InboxEntry))).scalar_one()
        outbox = (await s.execute(select(OutboxEntry))).scalars().all()
    assert (row.status, row.attempts) == (FAILED, 3)
    assert "on fire" in row.error
    assert len(outbox) == 1
    payload = orjson.loads(outbox[0].body)
    assert payload["error"]["code"] == "31001" and "partial" not in payload["message"]
    Envelope.model_validate(payload)


async def test_processors_in_parallel_process_each_row_once(pg_db, settings, bap) -> None:
    inbox = Inbox(pg_db)
    for _ in range(12):
        await record_request(inbox, bap, "https://buyer.test/")
    handlers = not_supported_handlers()
    one, two = (InboxProcessor(pg_db, settings, handlers) for _ in range(2))
    done = await asyncio.gather(one.process_all(), two.process_all())
    assert sum(done) == 12
    async with pg_db.session() as s:
        statuses = (await s.execute(select(InboxEntry.status))).scalars().all()
        outbox = (await s.execute(select(OutboxEntry.message_id))).scalars().all()
    assert statuses == [PROCESSED] * 12
    assert len(outbox) == len(set(outbox)) == 12


async def test_batches_process_each_row_once(each_db, settings, bap) -> None:
    """What is due is taken in batches, several processors side by side (PostgreSQL), and
    every row is processed exactly once."""
    t0 = datetime.now(UTC)
    for db in [each_db]:
        async with db.session() as s:
            for _ in range(20):
                body = request_body(
                    "search", bap=bap, bap_uri="https://buyer.test/", bpp_id="seller.test",
                    bpp_uri="https://seller.test/ondc",
                )
                ctx = orjson.loads(body)["context"]
                s.add(InboxEntry(**InboxRecord(
                    "search", ctx["bap_id"], ctx["transaction_id"], ctx["message_id"], body,
                    "buyer.test", None, t0,
                ).row()))
        later = t0 + timedelta(seconds=1)
        handlers = not_supported_handlers()
        workers = [
            InboxProcessor(db, settings, handlers, clock=lambda at=later: at)
            for _ in range(2 if db.is_postgres else 1)
        ]

        async def drain(p: InboxProcessor) -> list[int]:
            sizes = []
            while claimed := await p.process_batch(8):
                sizes.append(claimed)
            return sizes

        sizes = [n for batch in await asyncio.gather(*(drain(p) for p in workers)) for n in batch]
        assert sum(sizes) == 20
        assert max(sizes) > 1
        async with db.session() as s:
            statuses = (await s.execute(select(InboxEntry.status))).scalars().all()
            outbox = (await s.execute(select(OutboxEntry.message_id))).scalars().all()
        assert statuses == [PROCESSED] * 20
        assert len(outbox) == len(set(outbox)) == 20


def test_default_handlers_answer_every_action() -> None:
    from ondc_adapter.settings import Settings

    handlers = default_handlers(Settings(_env_file=None))  # type: ignore[call-arg]
    assert set(handlers) == set(BPP_ACTIONS)


async def test_not_supported_answer_is_a_valid_callback(pg_db, settings, bap) -> None:
    await record_request(Inbox(pg_db), bap, "https://buyer.test/", action="confirm")
    async with pg_db.session() as s:
        row = (await s.execute(select(InboxEntry))).scalar_one()
        request = inbound_from_row(row)
    from ondc_adapter.exchange import SellerDeps

    [reply] = await not_supported_handlers()["confirm"](
        request, None, SellerDeps(settings=settings, now=lambda: datetime.now(UTC))
    )
    envelope = Envelope.model_validate(reply.payload)
    assert envelope.context.action == "on_confirm"
    assert envelope.error is not None and envelope.error.code == "40001"
    assert reply.url == "https://buyer.test/on_confirm"


# -- dispatcher -----------------------------------------------------------------------------------


async def put_callback(pg_db, url: str, *, expires_in: float = 30.0) -> int:
    now = datetime.now(UTC)
    message = OutboundMessage(
        action="on_search",
        url=url,
        transaction_id="t-1",
        message_id=f"m-{now.timestamp()}",
        body=serialise({"context": {"bpp_id": "seller.test", "message_id": "m"}, "message": {}}),
        expires_at=now + timedelta(seconds=expires_in),
    )
    async with pg_db.session() as s:
        entry = await enqueue(s, message, now=now)
        await s.flush()
        return entry.id


async def outbox_row(pg_db, entry_id: int) -> tuple[OutboxEntry, list[OutboxAttempt]]:
    async with pg_db.session() as s:
        row = await s.get(OutboxEntry, entry_id)
        attempts = (
            (await s.execute(select(OutboxAttempt).where(OutboxAttempt.outbox_id == entry_id)))
            .scalars()
            .all()
        )
    return row, list(attempts)


@pytest.fixture
async def dispatcher(pg_db, settings, seller_keys_dir):
    async with httpx.AsyncClient() as http:
        yield Dispatcher(pg_db, settings, keys.load_keys(seller_keys_dir), http)


async def drain(dispatcher: Dispatcher, pg_db, entry_id: int) -> OutboxEntry:
    async def final() -> bool:
        await dispatcher.dispatch_once()
        row, _ = await outbox_row(pg_db, entry_id)
        return row.status != PENDING

    await eventually(final, what="a final outbox state")
    return (await outbox_row(pg_db, entry_id))[0]


async def test_nack_is_recorded_and_not_retried(pg_db, dispatcher, seller, buyer_socket) -> None:
    double = BuyerDouble(seller)
    double.answer = (
        200,
        b'{"message":{"ack":{"status":"NACK"}},"error":{"type":"DOMAIN-ERROR",'
        b'"code":"20006","message":"invalid response"}}',
    )
    async with served(double.app, buyer_socket) as url:
        entry_id = await put_callback(pg_db, f"{url}/protocol/on_search")
        row = await drain(dispatcher, pg_db, entry_id)
    _, attempts = await outbox_row(pg_db, entry_id)
    assert row.status == NACKED and len(double.received) == 1 and double.received[0].verified
    assert [(a.ack, a.error_code) for a in attempts] == [("NACK", "20006")]


async def test_retriable_nack_is_retried_until_ack(pg_db, dispatcher, seller, buyer_socket) -> None:
    double = BuyerDouble(seller)
    double.answer = (
        200,
        b'{"message":{"ack":{"status":"NACK"}},"error":{"type":"CORE-ERROR",'
        b'"code":"23001","message":"internal error"}}',
    )
    async with served(double.app, buyer_socket) as url:
        entry_id = await put_callback(pg_db, f"{url}/protocol/on_search")
        await dispatcher.dispatch_once()
        double.answer = None
        row = await drain(dispatcher, pg_db, entry_id)
    _, attempts = await outbox_row(pg_db, entry_id)
    assert row.status == DELIVERED
    assert next(a.ack for a in attempts) == "NACK" and attempts[-1].ack == "ACK"
    assert len({c.body for c in double.received}) == 1  # the same bytes every time


async def test_server_errors_are_retried_until_the_ttl_then_expired(
    pg_db, dispatcher, seller, buyer_socket
) -> None:
    double = BuyerDouble(seller)
    double.answer = (502, b"bad gateway")
    async with served(double.app, buyer_socket) as url:
        entry_id = await put_callback(pg_db, f"{url}/protocol/on_search", expires_in=3.0)
        row = await drain(dispatcher, pg_db, entry_id)
    _, attempts = await outbox_row(pg_db, entry_id)
    assert row.status == EXPIRED and len(attempts) >= 2
    assert all(a.http_status == 502 for a in attempts)


async def test_a_callback_too_close_to_its_ttl_expires_unsent(
    pg_db, dispatcher, seller, buyer_socket
) -> None:
    # Its signature would expire before the buyer app could check it: sending it would only
    # earn a NACK for a message the buyer never saw.
    double = BuyerDouble(seller)
    async with served(double.app, buyer_socket) as url:
        entry_id = await put_callback(pg_db, f"{url}/protocol/on_search", expires_in=0.3)
        row = await drain(dispatcher, pg_db, entry_id)
    _, attempts = await outbox_row(pg_db, entry_id)
    assert row.status == EXPIRED and attempts == [] and double.received == []


async def test_signature_expiry_never_exceeds_the_callback_expiry(dispatcher) -> None:
    from ondc_adapter.signing import parse_signature_header

    soon = datetime.now(UTC) + timedelta(seconds=20)
    header = parse_signature_header(dispatcher.sign(b"{}", soon))
    assert header.expires <= int(soon.timestamp())
    assert header.expires > header.created


async def test_a_crashed_claim_is_reclaimed_after_the_lease(
    pg_db, settings, seller_keys_dir
) -> None:
    node = keys.load_keys(seller_keys_dir)
    async with httpx.AsyncClient() as http:
        crashed = Dispatcher(pg_db, settings, node, http, lease_seconds=0.3)
        survivor = Dispatcher(pg_db, settings, node, http, lease_seconds=0.3)
        entry_id = await put_callback(pg_db, "http://127.0.0.1:9/on_search")
        assert [r.id for r in await crashed.claim()] == [entry_id]  # then "dies"
        assert await survivor.claim() == []

        async def reclaimed() -> bool:
            return [r.id for r in await survivor.claim()] == [entry_id]

        await eventually(reclaimed, what="lease expiry")


async def test_parallel_dispatchers_deliver_each_callback_once(
    pg_db, settings, seller, seller_keys_dir, buyer_socket
) -> None:
    double = BuyerDouble(seller)
    node = keys.load_keys(seller_keys_dir)
    async with served(double.app, buyer_socket) as url, httpx.AsyncClient() as http:
        ids = [await put_callback(pg_db, f"{url}/protocol/on_search") for _ in range(20)]
        workers = [Dispatcher(pg_db, settings, node, http, batch_size=3) for _ in range(3)]

        async def work(d: Dispatcher) -> None:
            while await d.dispatch_once():
                pass

        await asyncio.gather(*(work(d) for d in workers))
    assert len(double.received) == 20
    for entry_id in ids:
        row, attempts = await outbox_row(pg_db, entry_id)
        assert row.status == DELIVERED and len(attempts) == 1


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, b'{"message":{"ack":{"status":"ACK"}}}', ("ACK", None, False)),
        (
            200,
            b'{"message":{"ack":{"status":"NACK"}},"error":{"code":"31001"}}',
            ("NACK", "31001", True),
        ),
        (
            400,
            b'{"message":{"ack":{"status":"NACK"}},"error":{"code":"20000"}}',
            ("NACK", "20000", False),
        ),
        (503, b"", (None, None, True)),
        (429, b"", (None, None, True)),
        (404, b"not found", ("NACK", None, False)),
        (200, b"not json", ("NACK", None, False)),
    ],
)
def test_classify_answers(status: int, body: bytes, expected) -> None:
    ack, code, _detail, retry = classify(status, body)
    assert (ack, code, retry) == expected
