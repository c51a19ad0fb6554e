"""Fixtures for the console tests: two stores (P1 and P2) with items and a confirmed order
each, an account per store and an operator, and the node app served in-process (PostgreSQL).
``issues`` adds a buyer's complaint (IGM 2.0.0) about each store's order."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "orders"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "igm"))

from console_kit import PASSWORD, USERS, sign_in
from igm_kit import OFFICERS, Complainant
from order_flowkit import Buyer, Clock, node_settings, seed

from ondc_adapter import keys
from ondc_adapter.api.app import create_app
from ondc_adapter.console import accounts
from ondc_adapter.igm import service
from ondc_adapter.registry import StaticKeyResolver
from ondc_adapter.storage import Database


@pytest.fixture
async def buyers(pg_db: Database) -> dict[str, Buyer]:
    """P1 (items I1, I2) and P2 (items J1, J2), one confirmed order each, and the console's
    accounts; -> {store: the buyer app's side of its order}."""
    await seed(pg_db, provider_id="P1", location_id="L1")
    await seed(pg_db, provider_id="P2", location_id="L2",
               items={"J1": {"price": "250.00", "stock": 5}, "J2": {"price": "99.00", "stock": 9}})
    buyers = {}
    for store, location, item in (("P1", "L1", "I1"), ("P2", "L2", "J1")):
        buyer = Buyer(pg_db, Clock(), provider_id=store, location_id=location)
        await buyer.select([(item, 1)])
        await buyer.init()
        confirmed = await buyer.confirm()
        assert confirmed.error is None, confirmed.reply
        buyers[store] = buyer
    now = datetime.now(UTC)
    async with pg_db.session() as session:
        for name, store in USERS.items():
            await accounts.add_user(session, username=name, password=PASSWORD,
                                    provider_id=store, operator=False, now=now)
        await accounts.add_user(session, username="ops", password=PASSWORD, provider_id=None,
                                operator=True, now=now)
    return buyers


@pytest.fixture
def stores(buyers: dict[str, Buyer]) -> dict[str, str]:
    """{store: its confirmed order's id}."""
    return {store: buyer.order_id for store, buyer in buyers.items()}


@pytest.fixture
async def issues(pg_db: Database, buyers: dict[str, Buyer]) -> dict[str, Complainant]:
    """The seller's support desk and GRO named, and a buyer's complaint (ITM004, with a photo)
    about each store's order, answered PROCESSING; -> {store: the buyer app's side of it}."""
    async with pg_db.session() as session:
        for role, prefix in (("support", "igm_support"), ("gro", "gro")):
            await service.set_officer(
                session, role, name=OFFICERS[f"{prefix}_name"],
                email=OFFICERS[f"{prefix}_email"], phone=OFFICERS[f"{prefix}_phone"],
                now=datetime.now(UTC),
            )
    out = {}
    for store, buyer in buyers.items():
        complaint = Complainant(pg_db, buyer)
        [reply] = await complaint.open()
        assert reply["message"]["issue"]["status"] == "PROCESSING", reply
        out[store] = complaint
    return out


@pytest.fixture
def console_app(pg_db: Database, tmp_path: Path, stores: dict[str, str]) -> Any:
    settings = node_settings().model_copy(update={"keys_dir": tmp_path / "keys",
                                                  "unique_key_id": "k1"})
    keys.write_keys(keys.new_keys(settings.subscriber_id, "k1"), tmp_path / "keys")
    return create_app(settings, db=pg_db, redis=None, key_resolver=StaticKeyResolver(),
                      run_workers=False)


@pytest.fixture
async def anon(console_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        console_app.router.lifespan_context(console_app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=console_app),
                          base_url="http://node.test") as client,
    ):
        yield client


@pytest.fixture
async def asha(anon: httpx.AsyncClient) -> httpx.AsyncClient:
    response = await sign_in(anon, "asha")
    assert response.status_code == 303, response.text
    return anon
