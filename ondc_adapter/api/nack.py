"""Turning a refusal into the synchronous NACK a peer receives (protocol.md 3.3).

Every step of the inbound pipeline refuses by raising ``Rejection``; the pipeline converts it to
an HTTP response in one place, so status codes and challenge headers stay consistent.
"""

from __future__ import annotations

import orjson
from starlette.responses import Response

from ondc_adapter.protocol.ack import Error
from ondc_adapter.protocol.errors import Code, ErrorType

JSON = "application/json"


class Rejection(Exception):
    """A request we will not accept: HTTP ``status``, the NACK ``error``, extra headers."""

    def __init__(self, status: int, error: Error, headers: dict[str, str] | None = None) -> None:
        super().__init__(error.message or error.code)
        self.status = status
        self.error = error
        self.headers = headers or {}

    def response(self) -> Response:
        return nack_response(self.status, self.error, self.headers)


def nack_body(error: Error) -> bytes:
    return orjson.dumps(
        {
            "message": {"ack": {"status": "NACK"}},
            "error": error.model_dump(mode="json", exclude_none=True),
        }
    )


def nack_response(status: int, error: Error, headers: dict[str, str] | None = None) -> Response:
    return Response(nack_body(error), status_code=status, headers=headers, media_type=JSON)


def invalid_request(message: str, path: str | None = None, status: int = 400) -> Rejection:
    """400 NACK 30000 JSON-SCHEMA-ERROR: the body breaks the API contract."""
    return Rejection(status, Error.of(Code.INVALID_REQUEST, message, path))


def internal_error(message: str) -> Rejection:
    """503 NACK 31001 CORE-ERROR: our side (database, registry) failed; the sender may retry.
    Never a 500: a peer must always get a protocol answer."""
    return Rejection(
        503,
        Error(type=ErrorType.CORE, code=Code.INTERNAL_ERROR.value, message=message),
        {"Retry-After": "1"},
    )
