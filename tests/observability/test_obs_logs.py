"""Every log line of a request's handling, and of the processor and dispatcher work for that
message, carries transaction_id, message_id and action (structlog context variables)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import orjson
import pytest
import structlog
from transport_doubles import eventually, request_body

from ondc_adapter.logging import configure_logging


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("DEBUG", json=True, stream=stream)
    yield stream
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def parsed(stream: io.StringIO) -> list[dict]:
    return [orjson.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def headers(auth: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "Authorization": auth}


async def test_nack_and_callback_lines_carry_the_request_ids(
    start_node, buyer, bap, client, log_lines
) -> None:
    double, bap_uri = buyer
    good = request_body("search", bap=bap, bap_uri=bap_uri)
    bad = request_body("search", bap=bap, bap_uri=bap_uri)
    good_ctx, bad_ctx = orjson.loads(good)["context"], orjson.loads(bad)["context"]
    async with start_node() as (url, _app):
        tampered = bad.replace(b"Channapatna", b"Chennapatna")
        refused = await client.post(
            f"{url}/ondc/search", content=tampered, headers=headers(bap.sign(bad))
        )
        assert refused.status_code == 401
        # The same message again: the duplicate line carries the ids too.
        for _ in range(2):
            accepted = await client.post(
                f"{url}/ondc/search", content=good, headers=headers(bap.sign(good))
            )
            assert accepted.status_code == 200

        async def delivered() -> bool:
            return any(line["event"] == "callback.attempt" for line in parsed(log_lines))

        await eventually(delivered, what="the callback attempt log line")
    lines = parsed(log_lines)
    by_event: dict[str, list[dict]] = {}
    for line in lines:
        by_event.setdefault(line["event"], []).append(line)

    (nack,) = by_event["inbound.nack"]
    assert (nack["action"], nack["transaction_id"], nack["message_id"]) == (
        "search",
        bad_ctx["transaction_id"],
        bad_ctx["message_id"],
    )
    assert nack["code"] == "30016"
    ids = {"transaction_id": good_ctx["transaction_id"], "message_id": good_ctx["message_id"]}
    (duplicate,) = by_event["inbound.duplicate"]
    assert {k: duplicate[k] for k in ids} == ids and duplicate["action"] == "search"
    (processed,) = by_event["processor.processed"]
    assert {k: processed[k] for k in ids} == ids and processed["action"] == "search"
    (attempt,) = by_event["callback.attempt"]
    assert {k: attempt[k] for k in ids} == ids and attempt["action"] == "on_search"
    assert attempt["result"] == "delivered"
    # Nothing bound to one request leaks into lines about something else.
    for line in by_event.get("node.started", []) + by_event.get("node.stopped", []):
        assert "transaction_id" not in line and "message_id" not in line
    assert len(double.received) == 1


async def test_lines_before_the_body_is_parsed_carry_the_action(
    start_node, bap, client, log_lines
) -> None:
    async with start_node() as (url, _app):
        response = await client.post(
            f"{url}/ondc/confirm", content=b"[1, 2", headers=headers("Signature x")
        )
        assert response.status_code == 400
    (nack,) = [line for line in parsed(log_lines) if line["event"] == "inbound.nack"]
    assert nack["action"] == "confirm"
    assert "transaction_id" not in nack
