"""Replies keep the request's ids, carry our identity and are stamped strictly later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ondc_adapter.exchange import InboundRequest, OutboundMessage
from ondc_adapter.protocol.context import Context
from ondc_adapter.protocol.durations import parse_timestamp
from ondc_adapter.settings import Settings

SETTINGS = Settings(_env_file=None, subscriber_id="seller.example.in",
                    bpp_uri="https://seller.example.in/ondc")


def _request(sent: str) -> InboundRequest:
    ctx = Context(
        domain="ONDC:RET16", country="IND", city="std:080", action="select",
        core_version="1.2.0", bap_id="buyer.example.com", bap_uri="https://buyer.example.com/ondc/",
        bpp_id="seller.example.in", bpp_uri="https://seller.example.in/ondc",
        transaction_id="t-1", message_id="m-1", timestamp=sent, ttl="PT30S",
    )
    return InboundRequest(action="select", context=ctx, message={}, received_at=ctx.sent_at,
                          signer="buyer.example.com")


def test_reply_pairs_ids_and_targets_bap_uri() -> None:
    request = _request("2026-01-01T10:00:00.000Z")
    now = datetime(2026, 1, 1, 10, 0, 2, tzinfo=UTC)
    out = OutboundMessage.reply(request, {"order": {}}, settings=SETTINGS, now=now)
    ctx = out.payload["context"]
    assert (ctx["action"], ctx["message_id"], ctx["transaction_id"]) == ("on_select", "m-1", "t-1")
    assert ctx["bpp_id"] == "seller.example.in" and ctx["timestamp"] == "2026-01-01T10:00:02.000Z"
    assert out.url == "https://buyer.example.com/ondc/on_select"
    assert out.expires_at == request.context.sent_at + timedelta(seconds=30)


def test_reply_is_stamped_after_a_request_from_a_fast_clock() -> None:
    request = _request("2026-01-01T10:00:05.000Z")  # the buyer's clock runs 5 s ahead
    now = datetime(2026, 1, 1, 10, 0, 0, tzinfo=UTC)
    out = OutboundMessage.reply(request, {}, settings=SETTINGS, now=now)
    assert parse_timestamp(out.payload["context"]["timestamp"]) > request.context.sent_at


def test_unsolicited_gets_a_fresh_message_id() -> None:
    request = _request("2026-01-01T10:00:00.000Z")
    now = datetime(2026, 1, 1, 11, 0, tzinfo=UTC)
    a = OutboundMessage.unsolicited(request.context, "on_status", {}, settings=SETTINGS, now=now)
    b = OutboundMessage.unsolicited(request.context, "on_status", {}, settings=SETTINGS, now=now)
    assert a.message_id != b.message_id and "m-1" not in (a.message_id, b.message_id)
    assert a.transaction_id == "t-1" and not a.solicited


def test_body_is_the_serialised_payload_whether_message_is_text_or_object() -> None:
    import json

    from ondc_adapter.exchange import serialise
    from ondc_adapter.protocol.ack import Error
    from ondc_adapter.protocol.errors import Code

    ctx = _request("2026-03-01T10:00:00.000Z").context
    message = {"catalog": {"name": "बनारसी साड़ी ₹", "n": [1, 2.5, None, True]}}
    expires = datetime(2026, 3, 1, 10, 1, tzinfo=UTC)
    for error in (None, Error.of(Code.INVALID_REQUEST, "bad ₹", "message.catalog")):
        expected: dict = {"context": ctx.model_dump(exclude_none=True), "message": message}
        if error is not None:
            expected["error"] = error.model_dump(exclude_none=True, mode="json")
        as_object = OutboundMessage.build(ctx, message, error=error, expires_at=expires)
        as_text = OutboundMessage.build(
            ctx, json.dumps(message, ensure_ascii=False, separators=(",", ":")), error=error,
            expires_at=expires,
        )
        assert as_object.body == as_text.body == serialise(expected)
        assert as_object.payload == expected
