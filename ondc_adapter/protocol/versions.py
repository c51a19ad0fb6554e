"""The ONDC retail versions this code knows, and which one a message speaks (issue 16).

A node serves retail 1.2.0 and 1.2.5 side by side; each request names its version in
``context.core_version`` and is answered in it. ``Settings.core_versions`` says which of the
known versions a deployment serves (the edge NACKs the others, ``check_context``); a
transaction keeps the version of its first order step (``orders/``), so everything built for
it can branch on one ``RetailVersion``::

    version = retail_version(request.context)
    if version is RetailVersion.V1_2_5:
        ...

IGM messages (``issue``, ``on_issue``) carry either the retail version of their domain or
IGM's own, ``IGM_VERSION``.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import TYPE_CHECKING

from ondc_adapter.protocol.ack import Error
from ondc_adapter.protocol.errors import Code, ErrorType

if TYPE_CHECKING:  # context.py imports this module; the helpers only need the type
    from ondc_adapter.protocol.context import Context


class RetailVersion(StrEnum):
    """A retail ``core_version`` the code can render; a ``str``, so it compares and serialises
    as the wire value."""

    V1_2_0 = "1.2.0"
    V1_2_5 = "1.2.5"


KNOWN_RETAIL_VERSIONS: tuple[RetailVersion, ...] = tuple(RetailVersion)
# What a deployment serves unless told otherwise: 1.2.0 alone until 1.2.5's bodies are built
# (issue 16), because a 1.2.5 request must get a 1.2.5 answer.
DEFAULT_SERVED: tuple[RetailVersion, ...] = (RetailVersion.V1_2_0,)
IGM_VERSION = "2.0.0"
IGM_ACTIONS = ("issue", "on_issue")


def retail_version(context: Context) -> RetailVersion:
    """The retail version ``context`` speaks. Requests reach the seller logic only after
    ``check_context`` accepted their version, so a ``ValueError`` here is a programming error
    (e.g. an IGM context's "2.0.0" passed where a retail one was meant)."""
    return RetailVersion(context.core_version)


def parse_versions(value: str | Iterable[str]) -> tuple[RetailVersion, ...]:
    """``"1.2.0, 1.2.5"`` (or a list of names) as known versions, in the order given, each
    once; a name the code does not know, or none at all, is a ``ValueError`` naming the known
    ones (a typo must stop the node at start-up, not NACK every request)."""
    names = value.split(",") if isinstance(value, str) else list(value)
    out: list[RetailVersion] = []
    for raw in names:
        name = str(raw).strip()
        if not name:
            continue
        try:
            version = RetailVersion(name)
        except ValueError:
            raise ValueError(
                f"unknown retail version {name!r}; known: {', '.join(KNOWN_RETAIL_VERSIONS)}"
            ) from None
        if version not in out:
            out.append(version)
    if not out:
        raise ValueError(f"name at least one of {', '.join(KNOWN_RETAIL_VERSIONS)}")
    return tuple(out)


def accepted_versions(action: str, served: Iterable[str]) -> tuple[str, ...]:
    """The ``core_version`` values a request of ``action`` may carry on this node: the served
    retail versions, and for IGM actions IGM's own version too."""
    versions = tuple(str(v) for v in served)
    return (*versions, IGM_VERSION) if action in IGM_ACTIONS else versions


def not_served_message(core_version: str, accepted: Iterable[str]) -> str:
    """The NACK message of a version outside ``accepted``: it names what the node serves, so
    a buyer app knows what to send instead."""
    served = ", ".join(accepted)
    return f"core_version {core_version!r} is not served here; this node serves {served}"


def pinned_version_error(context: Context, pinned: str) -> Error | None:
    """The refusal of a request whose version is not the one its transaction started in
    (``pinned``, stored with the transaction's drafts and order); ``None`` when they agree.
    A context error on ``context.core_version`` with the edge's code for invalid context
    fields (30000), so a buyer app sees it as it would see a NACK of the version."""
    if context.core_version == pinned:
        return None
    return Error(
        type=ErrorType.CONTEXT,
        code=Code.INVALID_REQUEST.value,
        path="context.core_version",
        message=(
            f"core_version {context.core_version!r} differs from this transaction's: it "
            f"started in {pinned} and keeps that version"
        ),
    )
