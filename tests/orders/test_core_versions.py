"""A transaction keeps the retail version it started in (issue 16): its first order step
fixes ``core_version`` on the drafts and the order; a later request in another version is
refused in its callback (CONTEXT-ERROR 30000 on ``context.core_version``, naming the
transaction's version) and changes nothing; callbacks echo the request's version, and the
seller's pushes speak the order's."""

from __future__ import annotations

from typing import Any

from order_flowkit import Buyer, Clock, Seller, order_row, seed
from sqlalchemy import select

from ondc_adapter.orders.tables import OrderDraft
from ondc_adapter.protocol.versions import RetailVersion
from ondc_adapter.storage import Database


def refusal(pinned: str, sent: str) -> dict[str, Any]:
    return {
        "type": "CONTEXT-ERROR",
        "code": "30000",
        "path": "context.core_version",
        "message": (
            f"core_version '{sent}' differs from this transaction's: it started in {pinned} "
            "and keeps that version"
        ),
    }


async def drafts(db: Database, transaction_id: str) -> dict[str, tuple[str, str]]:
    """stage -> (core_version, message_id) of the transaction's drafts."""
    async with db.session() as s:
        rows = await s.execute(
            select(OrderDraft.stage, OrderDraft.core_version, OrderDraft.message_id).where(
                OrderDraft.transaction_id == transaction_id
            )
        )
        return {stage: (version, mid) for stage, version, mid in rows}


async def test_a_select_in_another_version_is_refused_and_changes_nothing(each_db) -> None:
    await seed(each_db)
    buyer = Buyer(each_db, Clock())
    first = await buyer.select([("I1", 1)])
    assert first.error is None and first.reply["context"]["core_version"] == "1.2.0"
    kept = await drafts(each_db, buyer.transaction_id)

    buyer.core_version = "1.2.5"
    again = await buyer.select([("I1", 3)])
    assert again.error == refusal("1.2.0", "1.2.5")
    assert again.reply["message"] == {}
    # the refusal itself is in the request's version, as every callback is
    assert again.reply["context"]["core_version"] == "1.2.5"
    assert await drafts(each_db, buyer.transaction_id) == kept  # the 1.2.0 quote stands

    # init in 1.2.5 too: the select draft came first (the other-stage path), nothing is kept
    buyer.on_select = first.reply
    ini = await buyer.init()
    assert ini.error == refusal("1.2.0", "1.2.5")
    assert set(await drafts(each_db, buyer.transaction_id)) == {"select"}

    buyer.core_version = "1.2.0"
    ini = await buyer.init()
    assert ini.error is None and ini.reply["context"]["core_version"] == "1.2.0"
    buyer.core_version = "1.2.5"
    con = await buyer.confirm()
    assert con.error == refusal("1.2.0", "1.2.5") and con.reply["message"] == {}
    buyer.core_version = "1.2.0"
    con = await buyer.confirm()
    assert con.error is None
    assert (await order_row(each_db, buyer.order_id)).core_version == "1.2.0"

    buyer.core_version = "1.2.5"
    for ex in (await buyer.status(), await buyer.track(), await buyer.cancel("003"),
               await buyer.confirm(), await buyer.support()):
        assert ex.error == refusal("1.2.0", "1.2.5"), ex.request["context"]["action"]
    rated = await buyer.rate("Provider", "P1", 5)
    assert rated.error == refusal("1.2.0", "1.2.5")
    assert rated.reply["message"] == {"feedback_ack": False, "rating_ack": False}
    assert (await order_row(each_db, buyer.order_id)).state == "Accepted"  # not cancelled


async def test_init_without_select_fixes_the_version(pg_db) -> None:
    await seed(pg_db)
    clock = Clock()
    probe = Buyer(pg_db, clock)
    probe.on_select = (await probe.select([("I1", 1)])).reply
    buyer = Buyer(pg_db, clock)
    buyer.on_select = probe.on_select  # the kit builds init from an on_select
    buyer.core_version = "1.2.5"
    ini = await buyer.init()
    assert ini.error is None and ini.reply["context"]["core_version"] == "1.2.5"
    buyer.core_version = "1.2.0"
    sel = await buyer.select([("I1", 1)])
    assert sel.error == refusal("1.2.5", "1.2.0")
    assert await drafts(pg_db, buyer.transaction_id) == {
        "init": ("1.2.5", ini.request["context"]["message_id"])
    }


async def test_callbacks_and_pushes_speak_the_transaction_version(each_db) -> None:
    await seed(each_db)
    clock = Clock()
    buyer = Buyer(each_db, clock)
    buyer.core_version = "1.2.5"
    for step in (buyer.select([("I1", 2)]), buyer.init(), buyer.confirm(), buyer.status()):
        ex = await step
        assert ex.error is None, ex.error
        assert ex.reply["context"]["core_version"] == "1.2.5", ex.reply["context"]
    record = await order_row(each_db, buyer.order_id)
    assert record.core_version == "1.2.5" and record.retail_version is RetailVersion.V1_2_5

    seller = Seller(each_db, clock)
    for push in (await seller.advance(buyer.order_id, "Packed"),
                 await seller.cancel(buyer.order_id, "002")):
        assert push["context"]["core_version"] == "1.2.5", push["context"]

    # a 1.2.0 order's pushes stay in 1.2.0 on the same node
    other = Buyer(each_db, clock)
    await other.select([("I1", 1)])
    await other.init()
    await other.confirm()
    push = await seller.advance(other.order_id, "Packed")
    assert push["context"]["core_version"] == "1.2.0"
