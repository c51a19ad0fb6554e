"""Pydantic models of the retail 1.2.0 order messages (protocol.md 4.4-4.11), as whole
payloads: each action's ``message`` in its envelope (``{"context", "message", "error"?}``).

The models themselves live by what they are:

* ``protocol.money``            amounts: ``Decimal`` inside, "170.00" on the wire
* ``protocol.order_objects``    the ``order`` object and its parts, and ``OndcModel``, the base
                                of every order model (the conventions are there)
* ``protocol.order_requests``   what the buyer app sends: select ... support
                                (``REQUEST_MESSAGES``)
* ``protocol.order_callbacks``  what we send back: on_select ... on_support
                                (``CALLBACK_MESSAGES``)

``PAYLOADS`` are published as ``schemas/order_<action>.schema.json`` (``SCHEMA_MODELS``, read by
``protocol.schemas``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ondc_adapter.protocol.context import Context
from ondc_adapter.protocol.order_callbacks import CALLBACK_MESSAGES, EmptyMessage
from ondc_adapter.protocol.order_objects import OndcModel
from ondc_adapter.protocol.order_requests import REQUEST_MESSAGES


def _envelope(name: str, message: Any) -> type[BaseModel]:
    """A whole-payload model ``{"context", "message", "error"?}`` for one action."""
    from pydantic import create_model

    from ondc_adapter.protocol.ack import Error

    return create_model(  # type: ignore[call-overload, no-any-return]
        name,
        __base__=OndcModel,
        context=(Context, ...),
        message=(message, ...),
        error=(Error | None, None),
    )


# Whole payloads (context + message + optional error), one per action; the schema files are
# named after the action so a test can validate any payload by its context.action.
PAYLOADS: dict[str, type[BaseModel]] = {
    **{
        action: _envelope(f"{action.title()}Payload", model)
        for action, model in REQUEST_MESSAGES.items()
    },
    **{
        action: _envelope(f"{action.title().replace('_', '')}Payload", model | EmptyMessage)
        for action, model in CALLBACK_MESSAGES.items()
    },
}

SCHEMA_MODELS: dict[str, type[BaseModel]] = {
    f"order_{action}": model for action, model in PAYLOADS.items()
}
