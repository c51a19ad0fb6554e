"""ACK / NACK responses and the ``error`` object (protocol.md 3.3)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from ondc_adapter.protocol.errors import Code, ErrorType, error_type_for


class Error(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: ErrorType | str
    code: str
    path: str | None = None
    message: str | None = None

    @classmethod
    def of(cls, code: Code, message: str, path: str | None = None) -> Error:
        return cls(type=error_type_for(code), code=code.value, path=path, message=message)


class AckStatus(BaseModel):
    status: Literal["ACK", "NACK"]


class AckMessage(BaseModel):
    ack: AckStatus


class AckResponse(BaseModel):
    """The synchronous answer to every request and callback."""

    message: AckMessage
    error: Error | None = None

    @property
    def is_ack(self) -> bool:
        return self.message.ack.status == "ACK"


ACK_BODY: bytes = b'{"message":{"ack":{"status":"ACK"}}}'


def ack() -> AckResponse:
    return AckResponse(message=AckMessage(ack=AckStatus(status="ACK")))


def nack(error: Error) -> AckResponse:
    return AckResponse(message=AckMessage(ack=AckStatus(status="NACK")), error=error)
