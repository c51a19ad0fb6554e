"""The envelope common to every request and callback, and the synchronous ACK/NACK."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from ondc_adapter.protocol.ack import AckResponse, Error
from ondc_adapter.protocol.context import Context


class Envelope(BaseModel):
    """``{"context": ..., "message": ...}``: what the HTTP edge validates before routing.
    ``error`` appears on callbacks that report a business error."""

    model_config = ConfigDict(extra="forbid")

    context: Context
    message: dict[str, Any]
    error: Error | None = None


SCHEMA_MODELS: dict[str, type[BaseModel]] = {
    "context": Context,
    "envelope": Envelope,
    "ack_response": AckResponse,
    "error": Error,
}
