"""Sandbox test wiring: one httpx transport routing host names to ASGI apps, a registry
harness, and subscriber nodes that serve site verification + on_subscribe."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ondc_adapter.keys import NodeKeys, new_keys
from ondc_adapter.sandbox.onboarding import onboarding_router
from ondc_adapter.sandbox.registry import RegistryConfig, RegistryStore, create_registry_app
from ondc_adapter.sandbox.transcript import Transcript, recording_client


class HostRouter(httpx.AsyncBaseTransport):
    """Routes by host name to ASGI apps; unknown hosts fail like an unreachable server."""

    def __init__(self, apps: dict[str, Any] | None = None) -> None:
        self.apps: dict[str, httpx.ASGITransport] = {}
        for host, app in (apps or {}).items():
            self.add(host, app)

    def add(self, host: str, app: Any) -> None:
        self.apps[host] = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self.apps.get(request.url.host)
        if transport is None:
            raise httpx.ConnectError(f"no route to {request.url.host}", request=request)
        return await transport.handle_async_request(request)


def node_app(keys: NodeKeys, request_id: str, registry_public_key: str) -> FastAPI:
    app = FastAPI()
    app.include_router(
        onboarding_router(
            keys, request_id=request_id, registry_encryption_public_key=registry_public_key
        )
    )
    return app


class RegistryHarness:
    def __init__(self) -> None:
        self.router = HostRouter()
        self.transcript = Transcript()
        self.registry_keys = new_keys("registry.test", "r1")
        self.store = RegistryStore()
        self.config = RegistryConfig(keys=self.registry_keys, site_urls={})
        self.http = recording_client(self.transcript, "registry", inner=self.router)
        self.app = create_registry_app(self.config, self.store, self.http)
        self.router.add("registry.test", self.app)
        self.client = recording_client(self.transcript, "tester", inner=self.router)

    def add_node(self, subscriber_id: str, app: Any) -> None:
        host = subscriber_id.replace(".", "-") + ".node"
        self.config.site_urls[subscriber_id] = f"http://{host}"
        self.router.add(host, app)

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.client.aclose()


@pytest.fixture
async def harness() -> AsyncIterator[RegistryHarness]:
    h = RegistryHarness()
    yield h
    await h.aclose()
