"""The seller node through real HTTP: signed requests in, ACK/NACK, signed callbacks out.

The node runs under uvicorn on a loopback port with PostgreSQL and Redis; the registry and the
buyer app are doubles served the same way."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
from sqlalchemy import func, select
from transport_doubles import Participant, eventually, request_body, served

from ondc_adapter.inbox import PROCESSED, InboxEntry
from ondc_adapter.outbox import DELIVERED, OutboxAttempt, OutboxEntry
from ondc_adapter.storage import Database


def headers(auth: str | None, gateway: str | None = None) -> dict[str, str]:
    out = {"Content-Type": "application/json"}
    if auth is not None:
        out["Authorization"] = auth
    if gateway is not None:
        out["X-Gateway-Authorization"] = gateway
    return out


def nack(response: httpx.Response) -> dict:
    data = response.json()
    assert data["message"]["ack"]["status"] == "NACK", data
    return data["error"]


def assert_signature_nack(response: httpx.Response, *, proxy: bool = False) -> dict:
    assert response.status_code == 401, response.text
    error = nack(response)
    assert (error["code"], error["type"]) == ("30016", "POLICY-ERROR")
    challenge = response.headers["Proxy-Authenticate" if proxy else "WWW-Authenticate"]
    assert challenge == 'Signature realm="seller.test",headers="(created) (expires) digest"'
    return error


async def count(db: Database, model: type) -> int:
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


async def test_signed_search_is_acked_and_answered_with_a_verified_callback(
    start_node, buyer, buyer_socket, bap, gateway, client, pg_db
) -> None:
    double, bap_uri = buyer
    body = request_body("search", bap=bap, bap_uri=bap_uri)
    async with served(double.app, buyer_socket), start_node() as (url, _app):
        response = await client.post(
            f"{url}/search", content=body, headers=headers(bap.sign(body), gateway.sign(body))
        )
        assert response.status_code == 200
        assert response.json() == {"message": {"ack": {"status": "ACK"}}}
        await eventually(lambda: _received(double, 1), what="on_search")
    callback = double.received[0]
    assert callback.verified, callback.problem
    assert callback.action == "on_search"
    sent = orjson.loads(body)["context"]
    ctx = callback.payload["context"]
    assert ctx["action"] == "on_search"
    assert (ctx["transaction_id"], ctx["message_id"]) == (
        sent["transaction_id"],
        sent["message_id"],
    )
    assert (ctx["bpp_id"], ctx["bpp_uri"]) == ("seller.test", "https://seller.test/ondc")
    assert callback.payload["error"]["code"] == "40001"
    async with pg_db.session() as s:
        row = (await s.execute(select(InboxEntry))).scalar_one()
        assert row.body == body  # the exact bytes, not a re-serialisation
        assert (row.signer, row.gateway) == ("buyer.test", "gateway.test")
    await eventually(lambda: _outbox_status(pg_db, DELIVERED), what="delivered outbox row")


async def _received(double, n: int) -> bool:
    return len(double.received) >= n


async def _outbox_status(db: Database, status: str) -> bool:
    async with db.session() as s:
        rows = (await s.execute(select(OutboxEntry.status))).scalars().all()
    return bool(rows) and all(r == status for r in rows)


async def test_peer_to_peer_select_is_acked(start_node, buyer, bap, client) -> None:
    _, bap_uri = buyer
    body = request_body(
        "select",
        bap=bap,
        bap_uri=bap_uri,
        bpp_id="seller.test",
        bpp_uri="https://seller.test/ondc",
    )
    async with start_node() as (url, _):
        response = await client.post(f"{url}/select", content=body, headers=headers(bap.sign(body)))
    assert response.status_code == 200, response.text


async def test_tampered_body_is_refused(start_node, buyer, bap, client) -> None:
    body = request_body("search", bap=bap, bap_uri=buyer[1])
    tampered = body.replace(b"Channapatna", b"Chennapatna")
    async with start_node() as (url, _):
        response = await client.post(
            f"{url}/search", content=tampered, headers=headers(bap.sign(body))
        )
    assert "does not verify" in assert_signature_nack(response)["message"]


async def test_tampered_header_is_refused(start_node, buyer, bap, client) -> None:
    body = request_body("search", bap=bap, bap_uri=buyer[1])
    auth = bap.sign(body)
    created = auth.split('created="')[1].split('"')[0]
    forged = auth.replace(f'created="{created}"', f'created="{int(created) - 1}"')
    async with start_node() as (url, _):
        response = await client.post(f"{url}/search", content=body, headers=headers(forged))
        garbage = await client.post(
            f"{url}/search", content=body, headers=headers("Signature keyId=broken")
        )
        missing = await client.post(f"{url}/search", content=body, headers=headers(None))
    assert_signature_nack(response)
    assert "missing parameter" in assert_signature_nack(garbage)["message"]
    assert "missing" in assert_signature_nack(missing)["message"]


async def test_signature_by_another_key_is_refused(start_node, buyer, bap, client) -> None:
    body = request_body("search", bap=bap, bap_uri=buyer[1])
    impostor = Participant(bap.subscriber_id, bap.ukid, "BAP")  # same keyId, different key
    async with start_node() as (url, _):
        response = await client.post(
            f"{url}/search", content=body, headers=headers(impostor.sign(body))
        )
    assert_signature_nack(response)


async def test_expired_signature_is_refused(start_node, buyer, bap, client) -> None:
    body = request_body("search", bap=bap, bap_uri=buyer[1])
    past = int(time.time()) - 600
    async with start_node() as (url, _):
        response = await client.post(
            f"{url}/search",
            content=body,
            headers=headers(bap.sign(body, created=past, expires=past + 300)),
        )
    assert "expired" in assert_signature_nack(response)["message"]


async def test_created_in_the_future_beyond_skew_is_refused(start_node, buyer, bap, client):
    body = request_body("search", bap=bap, bap_uri=buyer[1])
    future = int(time.time()) + 60
    async with start_node() as (url, _):
        within = await client.post(
            f"{url}/search",
            content=body,
            headers=headers(bap.sign(body, created=int(time.time()) + 2)),
        )
        beyond = await client.post(
            f"{url}/search", content=body, headers=headers(bap.sign(body, created=future))
        )
    assert within.status_code == 200, within.text  # inside the 5 s allowance
    assert "future" in assert_signature_nack(beyond)["message"]


async def test_signer_must_be_the_bap_in_the_context(
    start_node, buyer, bap, other_bap, client
) -> None:
    body = request_body("search", bap=bap, bap_uri=buyer[1])
    async with start_node() as (url, _):
        response = await client.post(
            f"{url}/search", content=body, headers=headers(other_bap.sign(body))
        )
    error = assert_signature_nack(response)
    assert "other-buyer.test" in error["message"] and "buyer.test" in error["message"]


async def test_gateway_header_is_required_on_search_when_configured(
    start_node, buyer, bap, gateway, client
) -> None:
    body = request_body("search", bap=bap, bap_uri=buyer[1])
    async with start_node(search_requires_gateway=True) as (url, _):
        without = await client.post(f"{url}/search", content=body, headers=headers(bap.sign(body)))
        with_gateway = await client.post(
            f"{url}/search", content=body, headers=headers(bap.sign(body), gateway.sign(body))
        )
    assert "X-Gateway-Authorization" in assert_signature_nack(without, proxy=True)["message"]
    assert with_gateway.status_code == 200, with_gateway.text


async def test_gateway_header_from_a_non_gateway_is_refused(
    start_node, buyer, bap, other_bap, gateway, client
) -> None:
    body = request_body("search", bap=bap, bap_uri=buyer[1])
    tampered_gateway = gateway.sign(body.replace(b"toys", b"tops"))
    async with start_node() as (url, _):
        not_a_gateway = await client.post(
            f"{url}/search", content=body, headers=headers(bap.sign(body), other_bap.sign(body))
        )
        bad_gateway_sig = await client.post(
            f"{url}/search", content=body, headers=headers(bap.sign(body), tampered_gateway)
        )
    assert "not as a gateway" in assert_signature_nack(not_a_gateway, proxy=True)["message"]
    assert_signature_nack(bad_gateway_sig, proxy=True)


async def test_unknown_ukid_is_refused(start_node, buyer, bap, client, registry) -> None:
    body = request_body("search", bap=bap, bap_uri=buyer[1])
    stranger = Participant(bap.subscriber_id, "never-registered", "BAP")
    async with start_node() as (url, _):
        response = await client.post(
            f"{url}/search", content=body, headers=headers(stranger.sign(body))
        )
    assert "unknown key" in assert_signature_nack(response)["message"]
    assert registry[0].unsigned_v2_calls == 0  # our lookups are signed


async def test_key_rotation_is_picked_up_by_one_refetch(
    start_node, buyer, bap, client, registry
) -> None:
    async with start_node() as (url, _):
        first = request_body("search", bap=bap, bap_uri=buyer[1])
        ok = await client.post(f"{url}/search", content=first, headers=headers(bap.sign(first)))
        # same ukId, new key
        rotated = Participant(bap.subscriber_id, bap.ukid, "BAP", subscriber_url=bap.subscriber_url)
        registry[0].add(rotated)
        second = request_body("search", bap=bap, bap_uri=buyer[1])
        again = await client.post(
            f"{url}/search", content=second, headers=headers(rotated.sign(second))
        )
    assert ok.status_code == 200 and again.status_code == 200, again.text


async def test_registry_down_gives_a_retryable_nack_not_a_crash(
    start_node, buyer, bap, client, registry
) -> None:
    body = request_body("search", bap=bap, bap_uri=buyer[1])
    registry[0].failures_left = 10
    async with start_node() as (url, _):
        down = await client.post(f"{url}/search", content=body, headers=headers(bap.sign(body)))
        registry[0].failures_left = 0
        up = await client.post(f"{url}/search", content=body, headers=headers(bap.sign(body)))
    assert down.status_code == 503 and down.headers["Retry-After"]
    error = nack(down)
    assert (error["code"], error["type"]) == ("31001", "CORE-ERROR")
    assert registry[0].calls >= 2  # the first failure was retried
    assert up.status_code == 200, up.text


async def test_registry_unreachable_gives_a_retryable_nack(
    start_node, buyer, bap, client, buyer_socket
) -> None:
    body = request_body("search", bap=bap, bap_uri=buyer[1])
    # The buyer socket is bound but not listening: a refused connection, like a dead registry.
    unreachable = f"http://127.0.0.1:{buyer_socket.getsockname()[1]}"
    async with start_node(registry_url=unreachable) as (url, _):
        response = await client.post(f"{url}/search", content=body, headers=headers(bap.sign(body)))
    assert response.status_code == 503
    assert nack(response)["code"] == "31001"


async def test_malformed_json_is_refused_naming_the_problem(start_node, bap, client) -> None:
    body = b'{"context": {"action": "search",}'
    async with start_node() as (url, _):
        response = await client.post(f"{url}/search", content=body, headers=headers(bap.sign(body)))
        deep = b'{"a":' * 40 + b"1" + b"}" * 40
        too_deep = await client.post(f"{url}/search", content=deep, headers=headers(bap.sign(deep)))
        array = await client.post(f"{url}/search", content=b"[]", headers=headers(bap.sign(b"[]")))
    assert response.status_code == 400
    error = nack(response)
    assert error["code"] == "30000" and "malformed JSON" in error["message"]
    assert "line 1" in error["message"]
    assert "deeper than 32" in nack(too_deep)["message"]
    assert "JSON object" in nack(array)["message"]


async def test_wrong_content_type_is_refused(start_node, buyer, bap, client) -> None:
    body = request_body("search", bap=bap, bap_uri=buyer[1])
    async with start_node() as (url, _):
        response = await client.post(
            f"{url}/search",
            content=body,
            headers={"Content-Type": "text/plain", "Authorization": bap.sign(body)},
        )
        with_charset = await client.post(
            f"{url}/search",
            content=body,
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Authorization": bap.sign(body),
            },
        )
    assert response.status_code == 415
    assert "text/plain" in nack(response)["message"]
    assert with_charset.status_code == 200, with_charset.text


async def test_oversize_body_is_refused_with_413(start_node, buyer, bap, client) -> None:
    body = request_body(
        "search", bap=bap, bap_uri=buyer[1], message={"intent": {"pad": "x" * 5000}}
    )

    async def chunks():  # no Content-Length: the limit must hold while streaming too
        for i in range(0, len(body), 1000):
            yield body[i : i + 1000]

    async with start_node(max_body_bytes=4096) as (url, _):
        declared = await client.post(f"{url}/search", content=body, headers=headers(bap.sign(body)))
        streamed = await client.post(
            f"{url}/search", content=chunks(), headers=headers(bap.sign(body))
        )
    for response in (declared, streamed):
        assert response.status_code == 413
        assert "4096" in nack(response)["message"]


async def test_schema_and_context_errors_name_the_field(start_node, buyer, bap, client) -> None:
    cases = {
        "context.timestamp": {"timestamp": "yesterday"},
        "context.core_version": {"core_version": "1.1.0"},
        "context.domain": {"domain": "ONDC:RET99"},
        "context.bpp_id": {"bpp_id": "someone-else.test", "bpp_uri": "https://x.test"},
        "context.bap_uri": {"bap_uri": "not a url"},
        "context.ttl": {"ttl": "30 seconds"},
        "context.action": {"action": "select"},
    }
    async with start_node() as (url, _):
        for path, override in cases.items():
            body = request_body("search", bap=bap, bap_uri=buyer[1], context=override)
            response = await client.post(
                f"{url}/search", content=body, headers=headers(bap.sign(body))
            )
            assert response.status_code == 400, (path, response.text)
            error = nack(response)
            assert error["path"] == path, (path, error)
            assert error["message"], error
        stale = request_body(
            "search", bap=bap, bap_uri=buyer[1], now=datetime.now(UTC) - timedelta(minutes=5)
        )
        response = await client.post(
            f"{url}/search", content=stale, headers=headers(bap.sign(stale))
        )
        assert nack(response)["code"] == "30022"
        missing = b'{"context":{"bap_id":"buyer.test"}}'
        response = await client.post(
            f"{url}/search", content=missing, headers=headers(bap.sign(missing))
        )
        assert nack(response)["path"] == "context.domain"


async def test_post_search_requests_must_name_our_bpp_uri_and_ttl_is_bounded(
    start_node, buyer, bap, client
) -> None:
    async with start_node() as (url, app):
        ours = app.state.settings
        elsewhere = request_body("select", bap=bap, bap_uri=buyer[1],
                                 bpp_id=ours.subscriber_id, bpp_uri="https://evil.test/x")
        response = await client.post(
            f"{url}/select", content=elsewhere, headers=headers(bap.sign(elsewhere))
        )
        assert response.status_code == 400
        assert nack(response)["path"] == "context.bpp_uri"
        # a month-long ttl does not keep a 20-day-old request fresh (ONDC_MAX_REQUEST_TTL_SECONDS)
        old = request_body("search", bap=bap, bap_uri=buyer[1],
                           now=datetime.now(UTC) - timedelta(days=20), context={"ttl": "P1M"})
        response = await client.post(f"{url}/search", content=old, headers=headers(bap.sign(old)))
        assert nack(response)["code"] == "30022"


async def test_unknown_action_is_404_nack(start_node, bap, client) -> None:
    async with start_node() as (url, _):
        response = await client.post(f"{url}/on_search", content=b"{}", headers=headers("x"))
    assert response.status_code == 404
    assert "on_search" in nack(response)["message"]


async def test_duplicate_message_gets_one_callback_only(
    start_node, buyer, buyer_socket, bap, client, pg_db
) -> None:
    double, bap_uri = buyer
    body = request_body("search", bap=bap, bap_uri=bap_uri)
    async with served(double.app, buyer_socket), start_node() as (url, app):
        answers = [
            await client.post(f"{url}/search", content=body, headers=headers(bap.sign(body)))
            for _ in range(3)
        ]
        await eventually(lambda: _outbox_status(pg_db, DELIVERED), what="delivery")
        # Drain anything still due, so a second callback would have been sent by now.
        assert await app.state.processor.process_all() == 0
        assert await app.state.dispatcher.dispatch_once() == 0
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert all(a.json()["message"]["ack"]["status"] == "ACK" for a in answers)
    assert await count(pg_db, InboxEntry) == 1
    assert await count(pg_db, OutboxEntry) == 1
    assert len(double.received) == 1


async def test_duplicates_sent_to_several_workers_at_once_get_one_callback(
    start_node, buyer, buyer_socket, bap, client, pg_db
) -> None:
    # Three served workers on one PostgreSQL and Redis, the same signed request to each of
    # them at the same moment (a buyer app retrying through a load balancer).
    double, bap_uri = buyer
    body = request_body("search", bap=bap, bap_uri=bap_uri)
    async with (
        served(double.app, buyer_socket),
        start_node() as (url_a, app_a),
        start_node() as (url_b, app_b),
        start_node() as (url_c, app_c),
    ):
        answers = await asyncio.gather(*(
            client.post(f"{url}/search", content=body, headers=headers(bap.sign(body)))
            for url in (url_a, url_b, url_c, url_a, url_b, url_c)
        ))
        await eventually(lambda: _outbox_status(pg_db, DELIVERED), what="delivery")
        for app in (app_a, app_b, app_c):  # nothing left for any worker to send
            assert await app.state.processor.process_all() == 0
            assert await app.state.dispatcher.dispatch_once() == 0
    assert [a.status_code for a in answers] == [200] * 6
    assert await count(pg_db, InboxEntry) == 1
    assert await count(pg_db, OutboxEntry) == 1
    assert len(double.received) == 1


async def test_buyer_app_down_for_a_while_then_up_gets_the_callback(
    start_node, buyer, buyer_socket, bap, client, pg_db
) -> None:
    double, bap_uri = buyer
    body = request_body("search", bap=bap, bap_uri=bap_uri)
    async with start_node() as (url, _):
        response = await client.post(f"{url}/search", content=body, headers=headers(bap.sign(body)))
        assert response.status_code == 200

        async def failed_attempts() -> bool:
            return await count(pg_db, OutboxAttempt) >= 2

        await eventually(failed_attempts, what="failed delivery attempts")
        async with served(double.app, buyer_socket):
            await eventually(lambda: _received(double, 1), what="callback after recovery")
            await eventually(lambda: _outbox_status(pg_db, DELIVERED), what="delivered")
    assert len(double.received) == 1 and double.received[0].verified
    async with pg_db.session() as s:
        attempts = (await s.execute(select(OutboxAttempt).order_by(OutboxAttempt.id))).scalars()
        attempts = list(attempts)
    assert attempts[0].http_status is None and "Connect" in attempts[0].detail
    assert attempts[-1].ack == "ACK"


async def test_inbox_rows_are_processed(start_node, buyer, bap, client, pg_db) -> None:
    body = request_body("search", bap=bap, bap_uri=buyer[1])
    async with start_node() as (url, _):
        await client.post(f"{url}/search", content=body, headers=headers(bap.sign(body)))

        async def processed() -> bool:
            async with pg_db.session() as s:
                return (await s.execute(select(InboxEntry.status))).scalar() == PROCESSED

        await eventually(processed, what="processed inbox row")


def test_nul_in_any_string_is_refused_naming_the_field() -> None:
    from ondc_adapter.api.body import parse_json
    from ondc_adapter.api.nack import Rejection

    body = b'{"context":{},"message":{"order":{"billing":{"name":"Asha\\u0000Devi"}}}}'
    with pytest.raises(Rejection) as refused:
        parse_json(body, max_depth=32)
    assert refused.value.status == 400
    assert refused.value.error.path == "message.order.billing.name"
    key = b'{"message":{"a\\u0000":1}}'
    with pytest.raises(Rejection) as refused:
        parse_json(key, max_depth=32)
    assert refused.value.error.path == "message.a\x00"
    # an escaped backslash followed by "u0000" is plain text, not a NUL
    assert parse_json(b'{"note":"C:\\\\u0000"}', max_depth=32) == {"note": "C:\\u0000"}
