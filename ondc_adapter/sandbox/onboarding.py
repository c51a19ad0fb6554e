"""Onboarding pieces shared by the sandbox parties and ``ondc-adapter registry subscribe``:
the /subscribe payload, the site-verification page and the on_subscribe answer.

The entity details (GST, PAN, signatory, contact) come from a small YAML/JSON file described in
``docs/onboarding.md``; keys and identity come from ``Settings``/``NodeKeys``.
"""

from __future__ import annotations

import html
import json
import re
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field, ValidationError

from ondc_adapter import encryption
from ondc_adapter.keys import NodeKeys
from ondc_adapter.protocol.durations import format_timestamp, utcnow
from ondc_adapter.sandbox.registry_messages import (
    Entity,
    Gst,
    KeyPair,
    NetworkParticipant,
    OnSubscribeRequest,
    Pan,
    SubscribeContext,
    SubscribeMessage,
    SubscribeRequest,
)
from ondc_adapter.signing import sign_message

SITE_VERIFICATION_PATH = "/ondc-site-verification.html"
_META = re.compile(
    r"""<meta\s+[^>]*name\s*=\s*["']ondc-site-verification["'][^>]*>""", re.IGNORECASE
)
_CONTENT = re.compile(r"""content\s*=\s*["']([^"']*)["']""", re.IGNORECASE)


class ParticipantConfig(BaseModel):
    domain: str
    type: str = "sellerApp"
    msn: bool = False
    city_code: list[str] = Field(default_factory=lambda: ["*"])
    subscriber_url: str | None = None  # default: Settings.path_prefix or "/"


class EntityConfig(BaseModel):
    """The business facts a registry wants (``entity.yaml``); see docs/onboarding.md."""

    legal_entity_name: str
    business_address: str
    gst_no: str
    city_code: list[str]
    pan_no: str
    name_as_per_pan: str
    date_of_incorporation: str  # DD/MM/YYYY
    name_of_authorised_signatory: str
    address_of_authorised_signatory: str
    email_id: str
    mobile_no: int
    country: str = "IND"
    callback_url: str = "/"
    ops_no: int = 2
    # one entry per domain; empty: every domain in Settings.domains as a sellerApp
    network_participant: list[ParticipantConfig] = Field(default_factory=list)


def load_entity_config(path: Path) -> EntityConfig:
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return EntityConfig.model_validate(data)


def build_subscribe_request(
    keys: NodeKeys,
    entity: EntityConfig,
    *,
    request_id: str | None = None,
    now: datetime | None = None,
    default_subscriber_url: str = "/",
    domains: list[str] | tuple[str, ...] = (),
) -> SubscribeRequest:
    """The /subscribe body; ``request_id`` is what the site-verification page must sign.
    ``domains`` stand in for an entity file that lists no network_participant."""
    participants = entity.network_participant or [
        ParticipantConfig(domain=d, type="sellerApp", city_code=entity.city_code) for d in domains
    ]
    if not participants:
        raise ValueError("no network_participant in the entity file and no domains configured")
    return SubscribeRequest(
        context=SubscribeContext.model_validate({"operation": {"ops_no": entity.ops_no}}),
        message=SubscribeMessage(
            request_id=request_id or str(uuid.uuid4()),
            timestamp=format_timestamp(now or utcnow()),
            entity=Entity(
                gst=Gst(
                    legal_entity_name=entity.legal_entity_name,
                    business_address=entity.business_address,
                    city_code=entity.city_code,
                    gst_no=entity.gst_no,
                ),
                pan=Pan(
                    name_as_per_pan=entity.name_as_per_pan,
                    pan_no=entity.pan_no,
                    date_of_incorporation=entity.date_of_incorporation,
                ),
                name_of_authorised_signatory=entity.name_of_authorised_signatory,
                address_of_authorised_signatory=entity.address_of_authorised_signatory,
                email_id=entity.email_id,
                mobile_no=entity.mobile_no,
                country=entity.country,
                subscriber_id=keys.subscriber_id,
                unique_key_id=keys.unique_key_id,
                callback_url=entity.callback_url,
                key_pair=KeyPair(
                    signing_public_key=keys.signing_public_key,
                    encryption_public_key=keys.encryption_public_key,
                    valid_from=keys.valid_from,
                    valid_until=keys.valid_until,
                ),
            ),
            network_participant=[
                NetworkParticipant(
                    subscriber_url=p.subscriber_url or default_subscriber_url,
                    domain=p.domain,
                    type=p.type,
                    msn=p.msn,
                    city_code=p.city_code,
                )
                for p in participants
            ],
        ),
    )


def site_verification_html(keys: NodeKeys, request_id: str) -> str:
    """The page ONDC fetches from ``https://<subscriber_id>/ondc-site-verification.html``."""
    signed = sign_message(keys.signing_key, request_id)
    return (
        "<html><head><meta name='ondc-site-verification' "
        f"content='{html.escape(signed, quote=True)}' /></head>"
        "<body>ONDC Site Verification Page</body></html>"
    )


def parse_site_verification(page: str) -> str | None:
    """The signed request_id from a verification page, or None when there is no meta tag."""
    tag = _META.search(page)
    if not tag:
        return None
    content = _CONTENT.search(tag.group(0))
    return html.unescape(content.group(1)) if content else None


def onboarding_router(
    keys: NodeKeys, *, request_id: str, registry_encryption_public_key: str
) -> APIRouter:
    """Site verification + on_subscribe for a sandbox party (the adapter has its own)."""
    router = APIRouter()
    page = site_verification_html(keys, request_id)

    @router.get(SITE_VERIFICATION_PATH, response_class=HTMLResponse, include_in_schema=False)
    async def site_verification() -> HTMLResponse:
        return HTMLResponse(page)

    @router.post("/on_subscribe")
    async def on_subscribe(request: Request) -> JSONResponse:
        try:
            body = OnSubscribeRequest.model_validate_json(await request.body())
            answer = encryption.decrypt_challenge(
                body.challenge, keys.encryption_private_key, registry_encryption_public_key
            )
        except (ValidationError, ValueError) as exc:
            return JSONResponse({"error": str(exc)[:300]}, status_code=400)
        return JSONResponse({"answer": answer})

    return router


def sample_entity(
    domains: list[str], *, participant_type: str = "sellerApp", subscriber_url: str = "/"
) -> EntityConfig:
    """Placeholder business facts for sandbox parties (never for a real network)."""
    ops = {"sellerApp": 2, "buyerApp": 1, "gateway": 2}[participant_type]
    return EntityConfig(
        legal_entity_name="Sandbox Test Entity",
        business_address="1 Test Street, Bengaluru",
        gst_no="29ABCDE1234F1Z5",
        city_code=["std:080"],
        pan_no="ABCDE1234F",
        name_as_per_pan="Sandbox Test Entity",
        date_of_incorporation="01/01/2020",
        name_of_authorised_signatory="Sandbox Tester",
        address_of_authorised_signatory="1 Test Street, Bengaluru",
        email_id="tester@example.com",
        mobile_no=9999999999,
        ops_no=ops,
        network_participant=[
            ParticipantConfig(
                domain=d, type=participant_type, city_code=["*"], subscriber_url=subscriber_url
            )
            for d in domains
        ],
    )


def subscribe_body(request: SubscribeRequest) -> bytes:
    return request.model_dump_json().encode()


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")
