"""Seller side through the admin HTTP API and the CLI; the order flow also runs on SQLite."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
from fastapi import FastAPI
from order_flowkit import Buyer, Clock, node_settings, payloads, seed
from pydantic import SecretStr
from sqlalchemy import select
from typer.testing import CliRunner

from ondc_adapter.cli import app as cli_app
from ondc_adapter.orders.admin import router
from ondc_adapter.outbox import OutboxEntry
from ondc_adapter.storage import Database

KEY = "test-admin-key"


def admin_app(db: Database) -> FastAPI:
    app = FastAPI()
    app.state.settings = node_settings().model_copy(update={"admin_api_key": SecretStr(KEY)})
    app.state.db = db
    app.include_router(router)
    return app


async def test_admin_api_moves_an_order_and_queues_callbacks(pg_db) -> None:
    await seed(pg_db)
    buyer = Buyer(pg_db, Clock())
    await buyer.select([("I1", 2), ("I2", 1)])
    await buyer.init()
    await buyer.confirm()
    transport = httpx.ASGITransport(app=admin_app(pg_db))
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        assert (await client.get("/admin/orders")).status_code == 401
        h = {"X-API-Key": KEY}
        listed = (await client.get("/admin/orders", headers=h)).json()["orders"]
        assert [o["order_id"] for o in listed] == [buyer.order_id]
        assert (await client.get("/admin/orders/NOPE", headers=h)).status_code == 404

        part = await client.post(
            f"/admin/orders/{buyer.order_id}/part-cancel", headers=h, json={"items": {"I2": 1}}
        )
        assert part.status_code == 200, part.text
        assert part.json()["sent"][0]["action"] == "on_update"
        bad = await client.post(
            f"/admin/orders/{buyer.order_id}/advance", headers=h,
            json={"state": "Order-delivered"},
        )
        assert bad.status_code == 409
        assert "cannot go from Pending to Order-delivered" in bad.json()["detail"]["reason"]
        junk = await client.post(
            f"/admin/orders/{buyer.order_id}/advance", headers=h, json={"state": 7}
        )
        assert junk.status_code == 422
        ok = await client.post(
            f"/admin/orders/{buyer.order_id}/advance", headers=h,
            json={"state": "Packed", "agent_name": "Ravi", "agent_phone": "9000000000"},
        )
        assert ok.status_code == 200
        assert ok.json()["order"]["state"] == "In-progress"
        wrong = await client.post(
            f"/admin/orders/{buyer.order_id}/cancel", headers=h, json={"reason_code": "001"}
        )
        assert wrong.status_code == 409 and wrong.json()["detail"]["code"] == "30012"
        gone = await client.post(
            f"/admin/orders/{buyer.order_id}/cancel", headers=h, json={"reason_code": "005"}
        )
        assert gone.status_code == 200
        assert gone.json()["sent"][0]["action"] == "on_cancel"
        shown = (await client.get(f"/admin/orders/{buyer.order_id}", headers=h)).json()
        assert shown["order"]["state"] == "Cancelled"
        assert [t["to"] for t in shown["transitions"]][-2:] == ["Cancelled", "Cancelled"]
    async with pg_db.session() as s:
        rows = (
            await s.scalars(select(OutboxEntry).where(OutboxEntry.solicited.is_(False)))
        ).all()
    bodies = [json.loads(r.body) for r in rows]
    assert [b["context"]["action"] for b in bodies] == ["on_update", "on_status", "on_cancel"]
    assert len({b["context"]["message_id"] for b in bodies}) == 3
    assert all(b["context"]["transaction_id"] == buyer.transaction_id for b in bodies)


def test_cli_lists_and_moves_orders_on_sqlite(tmp_path: Path, monkeypatch) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}"
    monkeypatch.setenv("ONDC_DATABASE_URL", url)
    monkeypatch.setenv("ONDC_SUBSCRIBER_ID", "seller.example.com")
    monkeypatch.setenv("ONDC_BPP_URI", "https://seller.example.com/ondc")

    async def prepare() -> str:
        db = Database(url)
        await db.migrate()
        await seed(db)
        buyer = Buyer(db, Clock())
        sel = await buyer.select([("I1", 1)])
        assert sel.error is None
        await buyer.init()
        con = await buyer.confirm()
        assert con.error is None
        await db.dispose()
        return buyer.order_id

    order_id = asyncio.run(prepare())
    runner = CliRunner()
    listed = runner.invoke(cli_app, ["orders", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output)[0]["order_id"] == order_id
    adv = runner.invoke(cli_app, ["orders", "advance", order_id, "Packed"])
    assert adv.exit_code == 0, adv.output
    assert "fulfillment Packed" in adv.output and "on_status" in adv.output
    bad = runner.invoke(cli_app, ["orders", "advance", order_id, "Pending"])
    assert bad.exit_code == 3
    cancel = runner.invoke(cli_app, ["orders", "cancel", order_id, "005"])
    assert cancel.exit_code == 0, cancel.output
    shown = runner.invoke(cli_app, ["orders", "show", order_id])
    body = json.loads(shown.output)
    assert body["order"]["state"] == "Cancelled"
    assert runner.invoke(cli_app, ["orders", "show", "NOPE"]).exit_code == 1


async def test_flow_on_sqlite_matches_postgres_rules(sqlite_db) -> None:
    await seed(sqlite_db, items={"I1": {"price": "99.99", "stock": 1}})
    a, b = Buyer(sqlite_db, Clock()), Buyer(sqlite_db, Clock())
    for buyer in (a, b):
        await buyer.select([("I1", 1)])
        await buyer.init()
    first, second = await a.confirm(), await b.confirm()
    assert first.error is None and second.error["code"] == "40002"
    again = await a.confirm()
    assert again.order["id"] == a.order_id
    payloads([])  # the kit validates every payload; nothing else to send here
