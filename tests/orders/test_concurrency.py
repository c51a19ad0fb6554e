"""Stock never goes negative and every confirm gets an answer under concurrent confirms."""

from __future__ import annotations

import asyncio

from order_flowkit import Buyer, Clock, seed, stock_of
from sqlalchemy import func, select

from ondc_adapter.orders.tables import OrderRecord


async def test_64_concurrent_confirms_for_10_units(pg_db) -> None:
    await seed(pg_db, items={"I1": {"price": "250.00", "stock": 10, "max": 10}})
    clock = Clock()
    buyers = [Buyer(pg_db, clock) for _ in range(64)]
    for buyer in buyers:
        sel = await buyer.select([("I1", 1)])
        assert sel.error is None
        ini = await buyer.init()
        assert ini.error is None

    # 64 transactions, 64 sessions, all at once
    results = await asyncio.gather(*(buyer.confirm() for buyer in buyers))

    ok = [r for r in results if r.error is None]
    refused = [r for r in results if r.error is not None]
    assert len(ok) == 10
    assert len(refused) == 54
    assert {r.error["code"] for r in refused} == {"40002"}
    assert all(r.reply["context"]["action"] == "on_confirm" for r in results)
    assert all(r.order["state"] == "Accepted" for r in ok)
    assert await stock_of(pg_db, "I1") == 0
    async with pg_db.session() as s:
        assert await s.scalar(select(func.count()).select_from(OrderRecord)) == 10


async def test_duplicate_confirms_of_one_transaction_reserve_once(pg_db) -> None:
    await seed(pg_db, items={"I1": {"price": "250.00", "stock": 10}})
    buyer = Buyer(pg_db, Clock())
    await buyer.select([("I1", 3)])
    await buyer.init()
    order = buyer.confirm_order()
    results = await asyncio.gather(*(buyer.confirm(order) for _ in range(8)))
    assert all(r.error is None for r in results)
    assert {r.order["id"] for r in results} == {buyer.order_id}
    assert len({str(r.order["quote"]) for r in results}) == 1
    assert await stock_of(pg_db, "I1") == 7


async def test_confirm_with_another_order_id_is_refused(pg_db) -> None:
    await seed(pg_db)
    buyer = Buyer(pg_db, Clock())
    await buyer.select([("I1", 1)])
    await buyer.init()
    first = await buyer.confirm()
    assert first.error is None
    other = buyer.confirm_order()
    other["id"] = "ANOTHER1"
    second = await buyer.confirm(other)
    assert second.error["code"] == "30018"
    assert await stock_of(pg_db, "I1") == 19
