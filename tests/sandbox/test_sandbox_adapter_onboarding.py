"""The sandbox registry's /subscribe against the adapter's REAL onboarding endpoints
(``ondc_adapter/api/onboarding.py`` inside ``create_app``), both served on loopback: the
verification page and ``on_subscribe`` are the ones ``ondc-adapter serve`` would expose, not the
sandbox's stand-in (``conftest.node_app``). Then ``ondc-adapter registry subscribe`` for real
(not --dry-run) against the same registry."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ondc_adapter.api.app import create_app
from ondc_adapter.keys import NodeKeys, new_keys, write_keys
from ondc_adapter.sandbox.network import SubscribeFailed, subscribe
from ondc_adapter.sandbox.onboarding import sample_entity
from ondc_adapter.sandbox.registry import RegistryConfig, RegistryStore, create_registry_app
from ondc_adapter.sandbox.servers import RunningServer, start_server
from ondc_adapter.settings import Settings
from ondc_adapter.storage import Database

SELLER = "seller.onboarding.test"
PREFIX = "/ondc"
DOMAINS = ["ONDC:RET16"]
ENTITY_FILE = Path(__file__).parents[2] / "docs" / "entity.example.yaml"


@dataclass
class Registry:
    url: str
    config: RegistryConfig
    store: RegistryStore
    keys: NodeKeys
    http: httpx.AsyncClient


@contextlib.asynccontextmanager
async def running_registry() -> AsyncIterator[Registry]:
    keys = new_keys("registry.onboarding.test", "r1")
    config, store = RegistryConfig(keys=keys), RegistryStore()
    async with httpx.AsyncClient(timeout=5, trust_env=False) as http:
        server = await start_server("registry", create_registry_app(config, store, http))
        try:
            yield Registry(server.url, config, store, keys, http)
        finally:
            await server.stop()


@contextlib.asynccontextmanager
async def running_adapter(
    tmp_path: Path, keys: NodeKeys, *, request_id: str | None, registry_public_key: str
) -> AsyncIterator[RunningServer]:
    """The adapter app as `serve` builds it (keys from ONDC_KEYS_DIR, the verification page for
    ONDC_SITE_VERIFICATION_REQUEST_ID), on its own SQLite file, no background workers."""
    write_keys(keys, tmp_path / "keys")
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        subscriber_id=keys.subscriber_id,
        unique_key_id=keys.unique_key_id,
        keys_dir=tmp_path / "keys",
        path_prefix=PREFIX,
        registry_env="local",
        registry_encryption_public_key=registry_public_key,
        site_verification_request_id=request_id,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'adapter.db'}",
    )
    db = Database(settings.database_url)
    await db.migrate()
    server = await start_server("adapter", create_app(settings, db=db, run_workers=False))
    try:
        yield server
    finally:
        await server.stop()
        await db.dispose()


async def _subscribe(registry: Registry, keys: NodeKeys, request_id: str) -> None:
    entity = sample_entity(DOMAINS, participant_type="sellerApp", subscriber_url=PREFIX)
    entity = entity.model_copy(update={"callback_url": PREFIX})
    await subscribe(registry.http, registry.url, keys, entity, request_id=request_id,
                    default_subscriber_url=PREFIX)


async def test_correctly_configured_adapter_subscribes(tmp_path: Path) -> None:
    keys, rid = new_keys(SELLER, "uk-1"), str(uuid.uuid4())
    async with running_registry() as registry, running_adapter(
        tmp_path, keys, request_id=rid, registry_public_key=registry.keys.encryption_public_key
    ) as adapter:
        registry.config.site_urls[SELLER] = adapter.url
        await _subscribe(registry, keys, rid)
        records = list(registry.store.records.values())
        assert [(r.subscriber_id, r.status, r.domain) for r in records] == [
            (SELLER, "SUBSCRIBED", "ONDC:RET16")
        ]
        assert records[0].signing_public_key == keys.signing_public_key
        assert records[0].subscriber_url == adapter.url + PREFIX


async def test_wrong_signing_key_fails_domain_verification(tmp_path: Path) -> None:
    """The adapter signs its page with its keys; /subscribe carries another signing key."""
    served, sent, rid = new_keys(SELLER, "uk-1"), new_keys(SELLER, "uk-1"), str(uuid.uuid4())
    async with running_registry() as registry, running_adapter(
        tmp_path, served, request_id=rid, registry_public_key=registry.keys.encryption_public_key
    ) as adapter:
        registry.config.site_urls[SELLER] = adapter.url
        with pytest.raises(SubscribeFailed) as exc:
            await _subscribe(registry, sent, rid)
        assert "'code': '132'" in str(exc.value)
        assert "Domain verification is failed" in str(exc.value)
        assert registry.store.records == {}


async def test_bad_verification_page_fails(tmp_path: Path) -> None:
    keys = new_keys(SELLER, "uk-1")
    # No ONDC_SITE_VERIFICATION_REQUEST_ID: the adapter serves no page (404).
    async with running_registry() as registry, running_adapter(
        tmp_path / "none", keys, request_id=None,
        registry_public_key=registry.keys.encryption_public_key,
    ) as adapter:
        registry.config.site_urls[SELLER] = adapter.url
        with pytest.raises(SubscribeFailed) as exc:
            await _subscribe(registry, keys, str(uuid.uuid4()))
        assert "ondc-site-verification file is not found" in str(exc.value)
    # A page signed for another request id (the adapter was not restarted after a change).
    async with running_registry() as registry, running_adapter(
        tmp_path / "stale", keys, request_id="an-older-request-id",
        registry_public_key=registry.keys.encryption_public_key,
    ) as adapter:
        registry.config.site_urls[SELLER] = adapter.url
        with pytest.raises(SubscribeFailed) as exc:
            await _subscribe(registry, keys, str(uuid.uuid4()))
        assert "Domain verification is failed" in str(exc.value)
        assert registry.store.records == {}


async def test_wrong_challenge_answer_fails(tmp_path: Path) -> None:
    """The adapter is configured with another registry's X25519 key (ONDC_REGISTRY_ENV or
    ONDC_REGISTRY_ENCRYPTION_PUBLIC_KEY wrong): it cannot answer the challenge."""
    keys, rid = new_keys(SELLER, "uk-1"), str(uuid.uuid4())
    other_registry = new_keys("elsewhere.test", "x")
    async with running_registry() as registry, running_adapter(
        tmp_path, keys, request_id=rid, registry_public_key=other_registry.encryption_public_key
    ) as adapter:
        registry.config.site_urls[SELLER] = adapter.url
        with pytest.raises(SubscribeFailed) as exc:
            await _subscribe(registry, keys, rid)
        message = str(exc.value)
        assert "'code': '132'" in message
        assert f"{adapter.url}{PREFIX}/on_subscribe : Encryption verification is failed" in (
            message
        )
        assert registry.store.records == {}


async def test_registry_subscribe_command_for_real(tmp_path: Path) -> None:
    """`ondc-adapter registry subscribe --env local --registry-url ...` (no --dry-run) builds,
    signs and sends the payload; the registry checks the running adapter and ACKs."""
    keys, rid = new_keys(SELLER, "uk-1"), str(uuid.uuid4())
    async with running_registry() as registry, running_adapter(
        tmp_path, keys, request_id=rid, registry_public_key=registry.keys.encryption_public_key
    ) as adapter:
        registry.config.site_urls[SELLER] = adapter.url
        env = {k: v for k, v in os.environ.items() if not k.startswith("ONDC_")}
        env.update(
            ONDC_KEYS_DIR=str(tmp_path / "keys"),
            ONDC_SUBSCRIBER_ID=SELLER,
            ONDC_UNIQUE_KEY_ID="uk-1",
            ONDC_PATH_PREFIX=PREFIX,
            ONDC_DOMAINS='["ONDC:RET16"]',
            ONDC_SITE_VERIFICATION_REQUEST_ID=rid,
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ondc_adapter.cli", "registry", "subscribe", "--env", "local",
            "--registry-url", registry.url, "--entity", str(ENTITY_FILE),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
            cwd=tmp_path,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        assert proc.returncode == 0, (out + err).decode()
        assert b'"ACK"' in out
        records = list(registry.store.records.values())
        assert {(r.subscriber_id, r.domain, r.type) for r in records} == {
            (SELLER, "ONDC:RET16", "BPP")
        }
        assert all(r.signing_public_key == keys.signing_public_key for r in records)
        # and a second run with the wrong request id is refused with the registry's error
        env["ONDC_SITE_VERIFICATION_REQUEST_ID"] = "not-what-the-page-signs"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ondc_adapter.cli", "registry", "subscribe", "--env", "local",
            "--registry-url", registry.url, "--entity", str(ENTITY_FILE),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
            cwd=tmp_path,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        assert proc.returncode == 1, (out + err).decode()
        assert b"Domain verification is failed" in out
