"""Inbound body steps: size limit, content type, JSON parsing with a nesting limit.

The raw bytes are read exactly once and kept: signatures are verified over them and the inbox
stores them, so nothing downstream ever re-serialises what the peer signed.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.types import Receive

from ondc_adapter.api.nack import Rejection, invalid_request
from ondc_adapter.protocol.ack import Error
from ondc_adapter.protocol.errors import Code, ErrorType


def too_large(limit: int) -> Rejection:
    return invalid_request(f"request body exceeds {limit} bytes", status=413)


async def read_body(receive: Receive, limit: int, declared: str | None = None) -> bytes:
    """The exact body bytes from the ASGI ``receive`` channel, refusing (413) as soon as more
    than ``limit`` arrive (``declared``: the Content-Length header, checked before reading)."""
    if declared is not None:
        try:
            if int(declared) > limit:
                raise too_large(limit)
        except ValueError:
            raise invalid_request("Content-Length is not a number") from None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: nothing to accept
            raise invalid_request("client disconnected before the body was complete")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def check_content_type(value: str | None) -> None:
    """``application/json`` with optional parameters (``; charset=utf-8``), else 415."""
    media = (value or "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise Rejection(
            415,
            Error(
                type=ErrorType.JSON_SCHEMA,
                code=Code.INVALID_REQUEST.value,
                message=f"Content-Type must be application/json, got {value or 'nothing'!r}",
            ),
        )


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """True when containers nest deeper than ``limit`` (iterative: no recursion on hostile
    input)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def nul_path(value: Any) -> str | None:
    """JSON path of the first string (key or value) holding U+0000, else None. No text field
    of the protocol can carry it, and PostgreSQL cannot store it in text or JSONB: refusing it
    here names the field, where storing it later would fail the whole request."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:
                return path or "body"
        elif isinstance(node, dict):
            for key, child in node.items():
                child_path = f"{path}.{key}" if path else str(key)
                if "\x00" in key:
                    return child_path
                stack.append((child, child_path))
        elif isinstance(node, list):
            stack.extend((child, f"{path}[{n}]") for n, child in enumerate(node))
    return None


# orjson reads an integer wider than 64 bits as a float, silently rounded; the standard library
# keeps it exact. Only a body with a run of 19 digits can hold one, so only such a (rare) body
# is read again, by ``json`` (orjson has already found it strict JSON: no NaN, no Infinity).
# The run is looked for with every digit mapped to "0" and every other byte to " ": a C-speed
# translate and substring search, ~2.5 us a KB where the regex [0-9]{19} takes ~20.
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_RUN = b"0" * 19


def parse_json(raw: bytes, *, max_depth: int) -> dict[str, Any]:
    """A JSON object from ``raw``; 400 NACK 30000 naming the problem otherwise."""
    if not raw.strip():
        raise invalid_request("request body is empty; expected a JSON object")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise invalid_request(
            f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(data, dict):
        raise invalid_request(f"body must be a JSON object, got {type(data).__name__}")
    if _LONG_RUN in raw.translate(_DIGITS_AS_ZERO):
        data = json.loads(raw)
    # Nesting depth cannot exceed the number of opening brackets (counted in C); only bodies
    # with more brackets than the limit need the walk.
    if raw.count(b"{") + raw.count(b"[") > max_depth and json_depth_exceeds(data, max_depth):
        raise invalid_request(f"JSON nests deeper than {max_depth} levels")
    # Only the escape can put a NUL in a string (a raw one is invalid JSON): bodies without
    # it (all real ones) skip the walk. "\\u0000" (an escaped backslash) also matches and is
    # cleared by the walk.
    if b"\\u0000" in raw:
        path = nul_path(data)
        if path is not None:
            raise invalid_request(f"{path}: the NUL character (U+0000) is not allowed", path)
    return data
