"""The sandbox registry: ``/subscribe`` with ONDC's onboarding checks, ``/lookup`` (v1),
``/v2.0/lookup`` (signed) and ``/vlookup`` (signed search parameters). Participants may also be
seeded from a JSON file.

/subscribe checks, in the registry's order (protocol.md 2.2-2.3): schema (JSON-SCHEMA-ERROR
151), whitelist, timestamp, participant types, an existing subscriber_id with other keys
(POLICY-ERROR 132 "Subscriber id already exists", unless ops_no 6, key rotation, which replaces
them), site verification page signed with the payload's signing key (POLICY-ERROR 132), then the
on_subscribe challenge encrypted to the payload's X25519 key (POLICY-ERROR 132 "Encryption
verification is failed"). Only then are records stored.

/vlookup (protocol.md 2.5): ``search_parameters`` signed by ``sender_subscriber_id`` over
``country|domain|type|city|subscriber_id``; the answer is the /lookup array. A missing or bad
signature, or an unknown sender, is 401 with error code 1020 (as /v2.0/lookup); a malformed body
400 with code 1001.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from ondc_adapter import encryption
from ondc_adapter.keys import NodeKeys
from ondc_adapter.outbound import is_localhost_name
from ondc_adapter.protocol.durations import format_timestamp, parse_timestamp, utcnow
from ondc_adapter.sandbox.onboarding import SITE_VERIFICATION_PATH, parse_site_verification
from ondc_adapter.sandbox.registry_messages import (
    KEY_ROTATION_OPS,
    OPS_TYPES,
    TYPE_TO_LOOKUP,
    LookupRecord,
    LookupRequest,
    OnSubscribeResponse,
    SubscribeRequest,
    VLookupRequest,
)
from ondc_adapter.signing import (
    SignatureError,
    parse_signature_header,
    verify_message,
    verify_request,
)

SUBSCRIBE_TIMESTAMP_SKEW = timedelta(minutes=5)


@dataclass
class RegistryStore:
    """Records by (subscriber_id, ukId, type, domain, city): what /lookup answers from."""

    records: dict[tuple[str, str, str, str, str], LookupRecord] = field(default_factory=dict)

    def put(self, record: LookupRecord) -> None:
        key = (record.subscriber_id, record.ukId, record.type, record.domain, record.city)
        self.records[key] = record

    def remove_subscriber(self, subscriber_id: str) -> None:
        for key in [k for k in self.records if k[0] == subscriber_id]:
            del self.records[key]

    def find(self, query: LookupRequest) -> list[LookupRecord]:
        return [r for r in self.records.values() if r.matches(query)]

    def signing_key(self, subscriber_id: str, ukid: str) -> str | None:
        for record in self.records.values():
            if (
                record.subscriber_id == subscriber_id
                and record.ukId == ukid
                and record.status == "SUBSCRIBED"
            ):
                return record.signing_public_key
        return None

    def keys_of(self, subscriber_id: str) -> set[tuple[str, str, str | None]]:
        """(ukId, signing key, encryption key) of every record of ``subscriber_id``."""
        return {
            (r.ukId, r.signing_public_key, r.encr_public_key)
            for r in self.records.values()
            if r.subscriber_id == subscriber_id
        }

    def signing_keys_of(self, subscriber_id: str) -> list[str]:
        """The signing keys a subscribed ``subscriber_id`` may sign with (any ukId)."""
        keys = {
            r.signing_public_key
            for r in self.records.values()
            if r.subscriber_id == subscriber_id and r.status == "SUBSCRIBED"
        }
        return sorted(keys)

    def seed_file(self, path: Path) -> int:
        """Load a JSON array of lookup records (protocol.md 2.5 shape); returns the count."""
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a JSON array of registry records")
        for item in data:
            self.put(LookupRecord.model_validate(item))
        return len(data)


@dataclass
class RegistryConfig:
    keys: NodeKeys  # the registry's own X25519 pair encrypts on_subscribe challenges
    # subscriber_id -> base URL used instead of https://<subscriber_id> (loopback sandbox).
    site_urls: dict[str, str] = field(default_factory=dict)
    whitelist: set[str] | None = None  # None: anyone may subscribe (sandbox default)
    created_skew_seconds: int = 5
    allow_site_registration: bool = False  # POST /sandbox/site (a running `sandbox up`)
    clock: Callable[[], datetime] = utcnow


class SubscribeRefused(Exception):
    def __init__(self, error_type: str, code: str, message: str, status: int = 200) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.code = code
        self.message = message
        self.status = status


def _nack(exc: SubscribeRefused) -> JSONResponse:
    return JSONResponse(
        {
            "message": {"ack": {"status": "NACK"}},
            "error": {
                "type": exc.error_type, "code": exc.code, "path": None, "message": exc.message
            },
        },
        status_code=exc.status,
    )


def _ack() -> JSONResponse:
    return JSONResponse(
        {
            "message": {"ack": {"status": "ACK"}},
            "error": {"type": None, "code": None, "path": None, "message": None},
        }
    )


def _lookup_error(code: str, message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _policy(message: str) -> SubscribeRefused:
    return SubscribeRefused("POLICY-ERROR", "132", message)


def create_registry_app(
    config: RegistryConfig, store: RegistryStore, http_client: httpx.AsyncClient
) -> FastAPI:
    app = FastAPI(title="ONDC sandbox registry", docs_url=None, redoc_url=None)
    app.state.store = store
    app.state.config = config

    def base_url(subscriber_id: str) -> str:
        return config.site_urls.get(subscriber_id, f"https://{subscriber_id}").rstrip("/")

    async def check_site(req: SubscribeRequest) -> None:
        entity = req.message.entity
        url = base_url(entity.subscriber_id) + SITE_VERIFICATION_PATH
        try:
            response = await http_client.get(url)
        except httpx.HTTPError:
            raise _policy("ondc-site-verification file is not found") from None
        if response.status_code != 200:
            raise _policy("ondc-site-verification file is not found")
        signed = parse_site_verification(response.text)
        if not signed or not verify_message(
            entity.key_pair.signing_public_key, req.message.request_id, signed
        ):
            raise _policy("Domain verification is failed")

    async def check_challenge(req: SubscribeRequest) -> None:
        entity = req.message.entity
        callback = entity.callback_url or "/"
        url = base_url(entity.subscriber_id) + "/" + callback.strip("/")
        url = url.rstrip("/") + "/on_subscribe"
        answer = secrets.token_hex(18)
        try:
            challenge = encryption.encrypt_challenge(
                answer,
                config.keys.encryption_private_key,
                entity.key_pair.encryption_public_key,
            )
        except ValueError:
            raise _policy(f"{url} : Encryption verification is failed") from None
        try:
            response = await http_client.post(
                url, json={"subscriber_id": entity.subscriber_id, "challenge": challenge}
            )
            got = OnSubscribeResponse.model_validate_json(response.content).answer
        except (httpx.HTTPError, ValidationError):
            raise _policy(f"{url} : Encryption verification is failed") from None
        if response.status_code != 200 or not secrets.compare_digest(got, answer):
            raise _policy(f"{url} : Encryption verification is failed")

    def validate(req: SubscribeRequest) -> None:
        msg = req.message
        sid = msg.entity.subscriber_id
        if config.whitelist is not None and sid not in config.whitelist:
            raise _policy("Subscriber Id is not whitelisted")
        try:
            sent = parse_timestamp(msg.timestamp)
        except ValueError:
            raise _policy("Timestamp is invalid") from None
        if abs(config.clock() - sent) > SUBSCRIBE_TIMESTAMP_SKEW:
            raise _policy("Timestamp is invalid")
        allowed = OPS_TYPES.get(req.context.operation.ops_no)
        for i, participant in enumerate(msg.network_participant):
            # A gateway is onboarded by the network operator; the sandbox lets it self-register.
            ok = participant.type == "gateway" or (
                allowed is not None and participant.type in allowed
            )
            if not ok:
                raise _policy(f"Please provide valid Network Participant [{i}] Type")
        try:
            encryption.load_x25519_public_key(msg.entity.key_pair.encryption_public_key)
        except ValueError:
            raise SubscribeRefused(
                "JSON-SCHEMA-ERROR", "151", "encryption_public_key is not X25519 SPKI", 400
            ) from None

    def check_existing(req: SubscribeRequest) -> None:
        """One subscriber_id has one set of keys: re-subscribing with the same keys (e.g. to add
        a domain) is fine, other keys need ops_no 6 (key rotation), which needs a subscriber."""
        entity = req.message.entity
        known = store.keys_of(entity.subscriber_id)
        if req.context.operation.ops_no == KEY_ROTATION_OPS:
            if not known:
                raise _policy("Subscriber id does not exist: key rotation needs a subscriber")
            return
        sent = (
            entity.unique_key_id,
            entity.key_pair.signing_public_key,
            entity.key_pair.encryption_public_key,
        )
        if known and known != {sent}:
            raise _policy("Subscriber id already exists")

    def store_records(req: SubscribeRequest) -> list[LookupRecord]:
        msg = req.message
        entity = msg.entity
        now = format_timestamp(config.clock())
        base = base_url(entity.subscriber_id)
        store.remove_subscriber(entity.subscriber_id)
        out = []
        for participant in msg.network_participant:
            path = participant.subscriber_url
            url = path if path.startswith("http") else base + "/" + path.strip("/")
            for city in participant.city_code:
                record = LookupRecord(
                    subscriber_id=entity.subscriber_id,
                    status="SUBSCRIBED",
                    ukId=entity.unique_key_id,
                    subscriber_url=url.rstrip("/"),
                    country=entity.country,
                    domain=participant.domain,
                    valid_from=entity.key_pair.valid_from,
                    valid_until=entity.key_pair.valid_until,
                    type=TYPE_TO_LOOKUP[participant.type],
                    signing_public_key=entity.key_pair.signing_public_key,
                    encr_public_key=entity.key_pair.encryption_public_key,
                    created=now,
                    updated=now,
                    br_id=msg.request_id,
                    city=city,
                )
                store.put(record)
                out.append(record)
        return out

    @app.post("/subscribe")
    async def subscribe(request: Request) -> JSONResponse:
        raw = await request.body()
        try:
            req = SubscribeRequest.model_validate_json(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            path = ".".join(str(p) for p in first["loc"])
            return _nack(
                SubscribeRefused("JSON-SCHEMA-ERROR", "151", f"{path}: {first['msg']}", 400)
            )
        try:
            validate(req)
            check_existing(req)
            await check_site(req)
            await check_challenge(req)
        except SubscribeRefused as exc:
            return _nack(exc)
        store_records(req)
        return _ack()

    def parse_lookup(raw: bytes) -> LookupRequest | JSONResponse:
        try:
            return LookupRequest.model_validate_json(raw or b"{}")
        except ValidationError as exc:
            return _lookup_error("1001", f"invalid lookup request: {exc.errors()[0]['msg']}", 400)

    @app.post("/lookup")
    async def lookup_v1(request: Request) -> JSONResponse:
        query = parse_lookup(await request.body())
        if isinstance(query, JSONResponse):
            return query
        return JSONResponse([r.model_dump() for r in store.find(query)])

    @app.post("/v2.0/lookup")
    async def lookup_v2(request: Request) -> JSONResponse:
        raw = await request.body()
        header = request.headers.get("authorization")
        if not header:
            return _lookup_error("1020", "The auth header not found", 401)
        try:
            parsed = parse_signature_header(header)
            public_key = store.signing_key(parsed.subscriber_id, parsed.unique_key_id)
            if public_key is None:
                return _lookup_error(
                    "1020", f"Subscriber {parsed.subscriber_id} is not subscribed", 401
                )
            verify_request(
                raw,
                parsed,
                public_key,
                now=config.clock().timestamp(),
                created_skew=config.created_skew_seconds,
            )
        except SignatureError as exc:
            return _lookup_error("1020", f"Invalid auth header: {exc.message}", 401)
        query = parse_lookup(raw)
        if isinstance(query, JSONResponse):
            return query
        return JSONResponse([r.model_dump() for r in store.find(query)])

    @app.post("/vlookup")
    async def vlookup(request: Request) -> JSONResponse:
        try:
            query = VLookupRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            return _lookup_error("1001", f"invalid vlookup request: {where}: {first['msg']}", 400)
        sender = query.search_parameters
        keys = store.signing_keys_of(query.sender_subscriber_id)
        if not keys:
            return _lookup_error(
                "1020", f"Subscriber {query.sender_subscriber_id} is not subscribed", 401
            )
        signed = any(
            verify_message(key, text, query.signature)
            for key in keys
            for text in sender.signing_strings()
        )
        if not signed:
            return _lookup_error(
                "1020",
                "Invalid signature: expected Ed25519 by sender_subscriber_id over "
                "country|domain|type|city|subscriber_id",
                401,
            )
        return JSONResponse([r.model_dump() for r in store.find(sender.lookup())])

    if config.allow_site_registration:

        @app.post("/sandbox/site")
        async def register_site(request: Request) -> JSONResponse:
            """Sandbox only: where ``subscriber_id``'s site lives, for a party that joins a
            running sandbox (``sandbox run --url``). Loopback URLs only."""
            try:
                data = json.loads(await request.body())
                sid, url = str(data["subscriber_id"]), str(data["base_url"]).rstrip("/")
            except (ValueError, KeyError, TypeError):
                return _lookup_error("1001", "body must be {subscriber_id, base_url}", 400)
            host = httpx.URL(url).host
            if not (host in ("127.0.0.1", "::1") or is_localhost_name(host)):
                return _lookup_error("1001", "only loopback sites can be registered", 400)
            config.site_urls[sid] = url
            return JSONResponse({"subscriber_id": sid, "base_url": url})

    @app.get("/participants")
    async def participants() -> list[dict[str, Any]]:
        """Everything registered (a sandbox convenience; real registries have no such call)."""
        return [r.model_dump() for r in store.records.values()]

    return app
