"""The protocol route's direct entry (NodeApp) answers exactly as the normal FastAPI stack does,
and steps aside when a deployer adds middleware."""

from __future__ import annotations

from pathlib import Path

import httpx
from starlette.middleware.base import BaseHTTPMiddleware

from ondc_adapter import keys
from ondc_adapter.api.app import create_app
from ondc_adapter.registry import StaticKeyResolver
from ondc_adapter.settings import Settings
from ondc_adapter.storage import Database


async def _post(app, body: bytes) -> httpx.Response:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
            return await client.post(
                "/ondc/search", content=body, headers={"Content-Type": "application/json"}
            )


async def test_direct_route_and_middleware_fallback_agree(tmp_path: Path) -> None:
    node_keys = keys.new_keys("seller.example.in", "uk1")
    keys.write_keys(node_keys, tmp_path / "keys")
    settings = Settings(
        _env_file=None, subscriber_id="seller.example.in", unique_key_id="uk1",
        keys_dir=tmp_path / "keys", path_prefix="/ondc",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'n.db'}",
    )
    body = b'{"context":{},"message":{}}'  # unsigned: a 401 NACK either way

    def build():
        return create_app(
            settings, db=Database(settings.database_url), key_resolver=StaticKeyResolver([]),
            run_workers=False,
        )

    direct = await _post(build(), body)

    seen: list[str] = []

    async def mark(request, call_next):
        seen.append(request.url.path)
        response = await call_next(request)
        response.headers["X-Deployer"] = "yes"
        return response

    wrapped_app = build()
    wrapped_app.add_middleware(BaseHTTPMiddleware, dispatch=mark)
    wrapped = await _post(wrapped_app, body)

    assert direct.status_code == wrapped.status_code == 401
    assert direct.json() == wrapped.json()
    assert direct.json()["error"]["code"] == "30016"
    assert seen == ["/ondc/search"] and wrapped.headers["X-Deployer"] == "yes"
    assert "X-Deployer" not in direct.headers
