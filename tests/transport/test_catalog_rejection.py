"""POST /catalog_rejection over HTTP: verified like every request, ACKed, stored once, linked
to the provider and item its path names; malformed ones get a NACK naming the field."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from transport_doubles import eventually, request_body

from ondc_adapter.catalogue.rejections import (
    CatalogueRejection,
    ids_in_path,
    needs_positions,
    resolve,
)
from ondc_adapter.storage import Database


def rejection(bap, bap_uri: str, errors: list[dict]) -> bytes:
    body = orjson.loads(request_body("catalog_rejection", bap=bap, bap_uri=bap_uri,
                                     bpp_id="seller.test", bpp_uri="https://seller.test/ondc"))
    body.pop("message")
    body["errors"] = errors
    return orjson.dumps(body)


async def stored(db: Database) -> list[CatalogueRejection]:
    async with db.session() as session:
        return list((await session.scalars(
            select(CatalogueRejection).order_by(CatalogueRejection.position))).all())


async def test_a_rejection_is_acked_stored_once_and_linked(
    start_node, buyer, bap, client, pg_db
) -> None:
    errors = [
        {"code": "91003", "type": "ITEM-ERROR", "message": "No Images found",
         "path": "message.catalog['bpp/providers'][?(@.id=='P1')].items[?(@.id=='I7')]"},
        {"code": "90014", "type": "PROVIDER-ERROR", "message": "Invalid Latitude",
         "path": "message/catalog/bpp/providers[id=P2]/locations[0]/gps"},
    ]
    body = rejection(bap, buyer[1], errors)
    async with start_node() as (url, app):
        headers = {"Content-Type": "application/json", "Authorization": bap.sign(body)}
        first = await client.post(f"{url}/catalog_rejection", content=body, headers=headers)
        again = await client.post(f"{url}/catalog_rejection", content=body, headers=headers)
        assert first.json() == again.json() == {"message": {"ack": {"status": "ACK"}}}

        async def two() -> bool:
            return len(await stored(pg_db)) == 2

        await eventually(two, what="both errors stored")
        await app.state.processor.process_all()
    rows = await stored(pg_db)
    assert [(r.code, r.provider_id, r.item_id) for r in rows] == [
        ("91003", "P1", "I7"), ("90014", "P2", None)]
    async with pg_db.session() as session:  # no on_catalog_rejection is sent
        from ondc_adapter.outbox import OutboxEntry

        assert await session.scalar(select(func.count()).select_from(OutboxEntry)) == 0


async def test_a_malformed_rejection_gets_a_nack_naming_the_field(
    start_node, buyer, bap, client, pg_db
) -> None:
    async with start_node() as (url, _app):
        for errors, path in (
            ([{"code": "9100", "type": "ITEM-ERROR", "path": "x", "message": "m"}],
             "errors[0].code"),
            ([{"code": "91003", "type": "NOT-A-TYPE", "path": "x", "message": "m"}],
             "errors[0].type"),
            ([], "errors"),
        ):
            body = rejection(bap, buyer[1], errors)
            response = await client.post(
                f"{url}/catalog_rejection", content=body,
                headers={"Content-Type": "application/json", "Authorization": bap.sign(body)})
            assert response.status_code == 400, response.text
            assert response.json()["error"]["path"] == path
    assert await stored(pg_db) == []


def test_paths_name_providers_and_items_by_id_or_position() -> None:
    assert ids_in_path("message.catalog.bpp/providers[id=P1].items[id=I9]")[:2] == ("P1", "I9")
    assert ids_in_path("message.catalog['bpp/providers'][0].items[3].price")[2:] == ("0", "3")
    assert ids_in_path("message/catalog/bpp/providers/1/items/2")[2:] == ("1", "2")
    assert ids_in_path("context.city") == (None, None, None, None)


@given(st.text(max_size=200))
def test_path_parsing_never_fails(path: str) -> None:
    ids_in_path(path)
    ids_in_path("message.catalog.bpp/providers[" + path + "]")


def test_positions_are_read_in_the_on_search_that_was_sent() -> None:
    sent = [{"id": "P1", "items": [{"id": "I1"}]},
            {"id": "P2", "items": [{"id": "J1"}, {"id": "J2"}]}]
    named = ids_in_path("message.catalog['bpp/providers'][1].items[1].price")
    assert needs_positions(named) and resolve(named, sent) == ("P2", "J2")
    by_id = ids_in_path("message.catalog.bpp/providers[id=P1].items[id=I1]")
    assert not needs_positions(by_id) and resolve(by_id, []) == ("P1", "I1")
    assert resolve(ids_in_path("bpp/providers[7].items[0]"), sent) == (None, None)
