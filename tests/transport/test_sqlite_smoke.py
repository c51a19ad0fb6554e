"""The whole path on SQLite without Redis (the zero-infrastructure default)."""

from __future__ import annotations

from sqlalchemy import func, select
from transport_doubles import eventually, request_body, served

from ondc_adapter.inbox import InboxEntry
from ondc_adapter.outbox import DELIVERED, OutboxEntry


async def test_sqlite_node_acks_dedupes_and_calls_back(
    start_node, sqlite_db, buyer, buyer_socket, bap, gateway, client
) -> None:
    double, bap_uri = buyer
    body = request_body("search", bap=bap, bap_uri=bap_uri)
    headers = {
        "Content-Type": "application/json",
        "Authorization": bap.sign(body),
        "X-Gateway-Authorization": gateway.sign(body),
    }
    async with served(double.app, buyer_socket), start_node(db=sqlite_db, redis=None) as (url, _):
        answers = [
            await client.post(f"{url}/search", content=body, headers=headers) for _ in range(2)
        ]

        async def delivered() -> bool:
            async with sqlite_db.session() as s:
                rows = (await s.execute(select(OutboxEntry.status))).scalars().all()
            return rows == [DELIVERED]

        await eventually(delivered, what="callback delivered from SQLite")
    assert [a.status_code for a in answers] == [200, 200]
    assert len(double.received) == 1 and double.received[0].verified
    async with sqlite_db.session() as s:
        assert (await s.execute(select(func.count()).select_from(InboxEntry))).scalar() == 1
