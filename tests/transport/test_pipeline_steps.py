"""The inbound pipeline's steps, one at a time (the HTTP tests cover them wired together)."""

from __future__ import annotations

import base64
import json

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ondc_adapter.api.auth import parse_header
from ondc_adapter.api.body import check_content_type, json_depth_exceeds, parse_json, read_body
from ondc_adapter.api.nack import Rejection
from ondc_adapter.api.pipeline import InboundHeaders, json_path, validate_envelope
from ondc_adapter.signing import (
    SignatureError,
    SignatureHeader,
    parse_signature_header,
)

# -- body -----------------------------------------------------------------------------------------


def receiver(chunks: list[bytes], *, disconnect: bool = False):
    messages = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    if disconnect:
        messages[-1]["more_body"] = True
        messages.append({"type": "http.disconnect"})

    async def receive():
        return messages.pop(0)

    return receive


async def test_read_body_keeps_exact_bytes_and_enforces_the_limit() -> None:
    assert await read_body(receiver([b"ab", b"c"]), 3) == b"abc"
    with pytest.raises(Rejection) as streamed:
        await read_body(receiver([b"ab", b"cd"]), 3)
    with pytest.raises(Rejection) as declared:
        await read_body(receiver([b""]), 3, "4")
    with pytest.raises(Rejection) as bogus:
        await read_body(receiver([b""]), 3, "lots")
    with pytest.raises(Rejection) as gone:
        await read_body(receiver([b"a"], disconnect=True), 3)
    assert streamed.value.status == declared.value.status == 413
    assert bogus.value.status == gone.value.status == 400


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("Application/JSON", True),
        ("text/plain", False),
        ("application/jsonx", False),
        (None, False),
    ],
)
def test_content_type(value: str | None, ok: bool) -> None:
    if ok:
        check_content_type(value)
    else:
        with pytest.raises(Rejection) as refused:
            check_content_type(value)
        assert refused.value.status == 415


def _nested(depth: int) -> object:
    value: object = 1
    for i in range(depth):
        value = {"k": value} if i % 2 else [value]
    return value


@given(st.integers(min_value=0, max_value=60), st.integers(min_value=1, max_value=40))
def test_depth_limit_matches_the_real_depth(depth: int, limit: int) -> None:
    assert json_depth_exceeds(_nested(depth), limit) == (depth > limit)
    raw = orjson.dumps({"x": _nested(depth)})
    if depth + 1 > limit:
        with pytest.raises(Rejection, match="deeper"):
            parse_json(raw, max_depth=limit)
    else:
        assert parse_json(raw, max_depth=limit) == {"x": _nested(depth)}


@given(st.binary(max_size=200))
def test_parse_json_never_raises_anything_but_a_rejection(raw: bytes) -> None:
    try:
        result = parse_json(raw, max_depth=32)
    except Rejection as exc:
        assert exc.status == 400 and exc.error.code == "30000" and exc.error.message
    else:
        assert isinstance(result, dict)


@given(st.integers(), st.floats(allow_nan=False, allow_infinity=False))
def test_parse_json_keeps_every_integer_exact(n: int, x: float) -> None:
    """orjson alone would turn an integer wider than 64 bits into a rounded float."""
    raw = b'{"n": %d, "x": %s, "s": "%d"}' % (n, repr(x).encode(), n)
    assert parse_json(raw, max_depth=32) == {"n": n, "x": x, "s": str(n)}


# -- headers --------------------------------------------------------------------------------------


def test_headers_are_read_from_the_scope_in_one_pass() -> None:
    scope = {
        "headers": [
            (b"content-type", b"application/json"),
            (b"authorization", b"Signature a"),
            (b"proxy-authorization", b"Signature legacy"),
            (b"content-length", b"12"),
        ]
    }
    headers = InboundHeaders.of(scope)
    assert headers.authorization == "Signature a"
    assert headers.gateway == "Signature legacy"  # the legacy name still counts
    assert (headers.content_type, headers.content_length) == ("application/json", "12")
    scope["headers"].append((b"x-gateway-authorization", b"Signature new"))
    assert InboundHeaders.of(scope).gateway == "Signature new"


_ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-_", min_size=1, max_size=40)
_b64 = st.binary(min_size=1, max_size=64).map(lambda b: base64.b64encode(b).decode())


@given(_ids, _ids, st.integers(0, 2**40), st.integers(0, 2**40), _b64)
def test_fast_header_parser_agrees_with_the_tolerant_one(
    subscriber: str, ukid: str, created: int, expires: int, signature: str
) -> None:
    header = SignatureHeader(subscriber, ukid, "ed25519", created, expires, signature)
    value = header.to_header()
    assert parse_header(value) == parse_signature_header(value) == header


@given(st.text(max_size=300))
def test_fast_header_parser_fails_like_the_tolerant_one(value: str) -> None:
    try:
        expected = parse_signature_header(value)
    except SignatureError:
        with pytest.raises(SignatureError):
            parse_header(value)
    else:
        assert parse_header(value) == expected


# -- envelope -------------------------------------------------------------------------------------


def test_json_path_rendering() -> None:
    assert json_path(("context", "timestamp")) == "context.timestamp"
    assert json_path(("message", "order", "items", 0, "id")) == "message.order.items[0].id"
    assert json_path(()) == ""


def test_envelope_errors_name_the_first_bad_field() -> None:
    with pytest.raises(Rejection) as missing:
        validate_envelope({"context": {}, "message": {}})
    assert missing.value.error.path == "context.domain"
    with pytest.raises(Rejection) as extra:
        validate_envelope(json.loads('{"context": {}, "message": {}, "surprise": 1}'))
    assert extra.value.error.path in ("context.domain", "surprise")
