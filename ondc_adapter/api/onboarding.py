"""Registry onboarding endpoints (protocol.md 2.2, 2.4): ``on_subscribe`` and the site
verification page. Both read the node keys from ``app.state.keys``."""

from __future__ import annotations

from html import escape

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError

from ondc_adapter.encryption import decrypt_challenge
from ondc_adapter.keys import NodeKeys
from ondc_adapter.logging import get_logger
from ondc_adapter.settings import Settings
from ondc_adapter.signing import sign_message

log = get_logger(__name__)

SITE_VERIFICATION_PATH = "/ondc-site-verification.html"


class OnSubscribeRequest(BaseModel):
    """What the registry POSTs to ``<subscriber_url>/on_subscribe``."""

    model_config = ConfigDict(extra="allow")

    subscriber_id: str
    challenge: str


class OnSubscribeAnswer(BaseModel):
    answer: str


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def site_verification_html(keys: NodeKeys, request_id: str) -> str:
    signed = escape(sign_message(keys.signing_key, request_id), quote=True)
    return (
        "<html><head><meta name='ondc-site-verification' content='"
        f"{signed}' /></head><body>ONDC Site Verification Page</body></html>"
    )


async def on_subscribe(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    keys: NodeKeys = request.app.state.keys
    raw = await request.body()
    try:
        body = OnSubscribeRequest.model_validate(orjson.loads(raw))
    except (orjson.JSONDecodeError, ValidationError) as exc:
        return _error(400, f"body must be {{subscriber_id, challenge}}: {exc}")
    if body.subscriber_id != settings.subscriber_id:
        return _error(400, f"subscriber_id {body.subscriber_id!r} is not this node")
    registry_key = settings.registry_public_key
    if not registry_key:
        return _error(
            503,
            "registry encryption public key is not configured "
            "(ONDC_REGISTRY_ENCRYPTION_PUBLIC_KEY)",
        )
    try:
        answer = decrypt_challenge(body.challenge, keys.encryption_private_key, registry_key)
    except ValueError as exc:
        log.warning("on_subscribe.bad_challenge", error=str(exc))
        return _error(400, f"challenge cannot be decrypted: {exc}")
    log.info("on_subscribe.answered", subscriber_id=body.subscriber_id)
    return JSONResponse(OnSubscribeAnswer(answer=answer).model_dump())


async def site_verification(request: Request) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    if not settings.site_verification_request_id:
        return HTMLResponse("site verification is not configured", status_code=404)
    html = site_verification_html(request.app.state.keys, settings.site_verification_request_id)
    return HTMLResponse(html)


def on_subscribe_path(settings: Settings) -> str:
    return f"{settings.path_prefix}/on_subscribe"


def add_routes(app: FastAPI, settings: Settings) -> None:
    """Added to the app itself (not through an included router) so the app factory can order
    ``on_subscribe`` ahead of the catch-all ``{prefix}/{action}`` protocol route."""
    app.add_api_route(
        on_subscribe_path(settings),
        on_subscribe,
        methods=["POST"],
        response_model=OnSubscribeAnswer,
        tags=["onboarding"],
    )
    paths = {SITE_VERIFICATION_PATH, f"{settings.path_prefix}{SITE_VERIFICATION_PATH}"}
    for path in sorted(paths):
        app.add_api_route(
            path,
            site_verification,
            methods=["GET"],
            response_class=HTMLResponse,
            tags=["onboarding"],
        )
