"""A store's status (open, temporarily closed, disabled) set on its own: the admin API pushes
the provider with that store's new ``time.label``, and an incremental pull over the window of
the change answers that provider and that store only (not the stores left as they were)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ondc_adapter.catalogue import write
from ondc_adapter.catalogue.handler import handle_search
from ondc_adapter.catalogue.importer import import_file
from ondc_adapter.catalogue.tables import Location, Provider
from ondc_adapter.outbox import OutboxEntry
from ondc_adapter.protocol.catalog import OnSearchIncrementalMessage
from ondc_adapter.protocol.durations import format_timestamp
from ondc_adapter.storage import Database

from .helpers import (
    NOW,
    admin_client,
    deps,
    provider,
    records,
    search_request,
    write_jsonl,
)

LOADED = NOW - timedelta(hours=2)
CLOSED = NOW - timedelta(minutes=30)


def _second_store() -> dict[str, Any]:
    first = provider()["locations"][0]
    return {**first, "id": "L2", "street": "Godowlia", "gps": "25.309612,83.005836"}


async def _load(db: Database, tmp_path: Path) -> None:
    two_stores = provider(locations=[provider()["locations"][0], _second_store()])
    recs = [two_stores, *records()[1:]]
    report = await import_file(db, write_jsonl(tmp_path / "c.jsonl", recs), now=LOADED)
    assert report.ok, report.problems


def _pull(start: Any, end: Any) -> dict[str, Any]:
    return {"tags": [{"code": "catalog_inc", "list": [
        {"code": "start_time", "value": format_timestamp(start)},
        {"code": "end_time", "value": format_timestamp(end)}]}]}


async def test_set_location_status(pg_db: Database, tmp_path: Path) -> None:
    await _load(pg_db, tmp_path)
    async with pg_db.session() as s:
        assert await write.set_location_status(s, "P1", "L2", "close", CLOSED)
        assert not await write.set_location_status(s, "P1", "nope", "close", CLOSED)
        assert not await write.set_location_status(s, "P9", "L2", "close", CLOSED)
    async with pg_db.session() as s:
        store = await s.get(Location, ("P1", "L2"))
        seller = await s.get(Provider, "P1")
        other = await s.get(Location, ("P1", "L1"))
    assert store is not None and store.status == "close" and store.updated_at == CLOSED
    assert seller is not None and seller.updated_at == CLOSED  # readers see the store change
    assert other is not None and other.status == "enable" and other.updated_at == LOADED


async def test_a_pull_over_a_store_change_lists_that_store_only(
    pg_db: Database, tmp_path: Path
) -> None:
    await _load(pg_db, tmp_path)
    async with pg_db.session() as s:
        await write.set_location_status(s, "P1", "L2", "close", CLOSED)
    request = search_request(_pull(NOW - timedelta(hours=1), NOW), city="*")
    async with pg_db.session() as s:
        [answer] = await handle_search(request, s, deps())
    catalog = answer.payload["message"]["catalog"]
    OnSearchIncrementalMessage.model_validate(answer.payload["message"])
    [seller] = catalog["bpp/providers"]
    assert seller["id"] == "P1" and "items" not in seller  # no item changed
    assert [(loc["id"], loc["time"]["label"]) for loc in seller["locations"]] == [("L2", "close")]
    # the provider's tags name only the store it lists
    named = {e["value"] for t in seller["tags"] for e in t["list"] if e["code"] == "location"}
    assert named == {"L2"}


async def test_admin_closes_a_store_and_pushes_it(pg_db: Database, tmp_path: Path) -> None:
    await _load(pg_db, tmp_path)
    start = {"tags": [{"code": "catalog_inc", "list": [{"code": "mode", "value": "start"}]}]}
    async with pg_db.session() as s:
        assert await handle_search(search_request(start, city="*", transaction_id="sub-1"), s,
                                   deps()) == []
    headers = {"X-API-Key": "secret-key"}
    async with admin_client(pg_db) as client:
        url = "/admin/providers/P1/locations/L2/status"
        assert (await client.patch(url, json={"status": "close"})).status_code == 401
        bad = await client.patch(url, json={"status": "shut"}, headers=headers)
        assert bad.status_code == 422
        missing = await client.patch("/admin/providers/P1/locations/L9/status",
                                     json={"status": "close"}, headers=headers)
        assert missing.status_code == 404
        ok = await client.patch(url, json={"status": "close"}, headers=headers)
        assert ok.status_code == 200 and ok.json()["pushed"] == 1, ok.text
    async with pg_db.session() as s:
        [entry] = (await s.scalars(select(OutboxEntry))).all()
    pushed = json.loads(entry.body)
    assert pushed["context"]["transaction_id"] == "sub-1" and pushed["context"]["city"] == "*"
    [seller] = pushed["message"]["catalog"]["bpp/providers"]
    labels = {loc["id"]: loc["time"]["label"] for loc in seller["locations"]}
    assert labels["L2"] == "close"
