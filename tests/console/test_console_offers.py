"""The console's offer pages over HTTP: a seller lists, adds (one form per 1.2.5 type),
edits, switches off and deletes offers of their store; a bad form comes back with an error
summary naming the field, in Hindi too; another store's offers are out of reach."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from console_kit import sign_in, token

from ondc_adapter.catalogue import offer_store
from ondc_adapter.storage import Database

FORMS: dict[str, dict[str, str]] = {
    "discount": {"kind": "percent", "value": "60", "cap": "120", "min_value": "159",
                 "item_ids": "I1"},
    "delivery": {"kind": "percent", "value": "100", "cap": "75", "min_value": "299"},
    "slab": {"kind": "percent", "value": "10", "cap": "100", "item_count": "6",
             "item_count_upper": "9", "item_ids": "I1"},
    "combo": {"kind": "amount", "value": "50", "cap": "200", "item_ids": "I1",
              "secondary_ids": "I2"},
    "freebie": {"gift_item_id": "I2", "gift_count": "1", "gift_value": "349.50",
                "min_value": "598"},
    "buyXgetY": {"item_count": "2", "gift_item_id": "I1", "gift_count": "1",
                 "gift_value": "0", "item_ids": "I1"},
}


def form(csrf: str, kind: str, offer_id: str, **over: str) -> dict[str, str]:
    return {"csrf_token": csrf, "type": kind, "id": offer_id, "title": f"{kind} offer",
            "valid_from": "2026-10-18T00:00", "valid_to": "2026-11-02T23:59",
            "loc_0": "1", "auto": "1", "additive": "1", "enabled": "1",
            **FORMS[kind], **over}


async def test_add_every_type_then_list_edit_switch_and_delete(
    asha: httpx.AsyncClient, pg_db: Database
) -> None:
    listing = await asha.get("/console/offers")
    assert listing.status_code == 200 and "No offers yet." in listing.text
    csrf = token(listing.text)
    for n, kind in enumerate(FORMS):
        page = await asha.get(f"/console/offers/new?type={kind}")
        assert page.status_code == 200
        # only the fields of the type: a discount has no gift, a freebie no percent
        assert ('name="gift_item_id"' in page.text) == (kind in ("freebie", "buyXgetY"))
        assert ('name="value"' in page.text) == (kind not in ("freebie", "buyXgetY"))
        saved = await asha.post("/console/offers/new", data=form(csrf, kind, f"o{n}"))
        assert saved.status_code == 303, saved.text
        assert saved.headers["location"] == f"/console/offers/o{n}?saved=1"
    async with pg_db.session() as s:
        stored = await offer_store.list_offers(s, "P1")
    assert [x.offer.type.value for x in stored] == list(FORMS)
    discount = stored[0].offer
    assert discount.benefit.percent == 60 and discount.benefit.cap_paise == 12000
    assert discount.qualifier.min_value_paise == 15900
    assert discount.valid_from == datetime(2026, 10, 17, 18, 30, tzinfo=UTC)  # India time
    assert stored[4].offer.benefit.item_value_paise == 34950

    listing = await asha.get("/console/offers")
    assert "60% off, up to ₹120.00, on carts of ₹159.00 or more" in listing.text
    assert "Buy 2, get 1 of Handmade item I1 free" in listing.text
    assert "1 of Handmade item I2 free, on carts of ₹598.00 or more" in listing.text
    assert "Free delivery" not in listing.text  # capped at ₹75: "100% off delivery, up to"

    edit = await asha.get("/console/offers/o0")
    assert 'value="2026-10-18T00:00"' in edit.text and 'value="120"' in edit.text
    changed = await asha.post("/console/offers/o0",
                              data=form(csrf, "discount", "ignored", value="15", cap=""))
    assert changed.status_code == 303
    off = await asha.post("/console/offers/o1/enabled", data={"csrf_token": csrf, "enabled": "0"})
    assert off.status_code == 303
    confirm = await asha.get("/console/offers/o2/delete")
    assert confirm.status_code == 200 and "Yes, delete it" in confirm.text
    gone = await asha.post("/console/offers/o2/delete", data={"csrf_token": csrf})
    assert gone.status_code == 303
    async with pg_db.session() as s:
        o0 = await offer_store.get_offer(s, "P1", "o0")
        o1 = await offer_store.get_offer(s, "P1", "o1")
        assert await offer_store.get_offer(s, "P1", "o2") is None
    assert o0 is not None and o0.offer.benefit.percent == 15 and o0.offer.benefit.cap_paise is None
    assert o1 is not None and not o1.enabled


@pytest.mark.parametrize(
    ("kind", "over", "field", "reason"),
    [
        ("discount", {"item_ids": "J1"}, "f-item_ids", "Your store has no item &#39;J1&#39;."),
        ("discount", {"valid_to": "2026-10-01T00:00"}, "f-valid_to",
         "The end must be after the start."),
        ("discount", {"valid_from": "soon"}, "f-valid_from", "Enter a date and time."),
        ("slab", {"cap": ""}, "f-cap", "This kind of offer needs this field."),
        ("combo", {"secondary_ids": ""}, "f-secondary_ids",
         "Name the items that must be bought with it."),
        ("freebie", {"gift_value": "12.345"}, "f-gift_value", "Enter an amount in rupees"),
        ("buyXgetY", {"item_count": "two"}, "f-item_count", "Enter a whole number."),
        ("discount", {"id": "has space"}, "f-id", "Use up to 64 letters"),
        ("discount", {"value": "abc"}, "f-value", "Enter a number."),
    ],
)
async def test_a_bad_form_names_the_field(
    asha: httpx.AsyncClient, pg_db: Database, kind: str, over: dict[str, str], field: str,
    reason: str,
) -> None:
    csrf = token((await asha.get("/console/offers")).text)
    refused = await asha.post("/console/offers/new", data=form(csrf, kind, "bad", **over))
    assert refused.status_code == 422
    summary = refused.text.split('class="error-summary"')[1].split("</div>")[0]
    assert f'href="#{field}"' in summary and reason in summary, summary
    assert f'id="{field}"' in refused.text  # the link goes somewhere
    async with pg_db.session() as s:
        assert await offer_store.list_offers(s, "P1") == []


async def test_hindi_page_and_error(asha: httpx.AsyncClient) -> None:
    csrf = token((await asha.get("/console/offers")).text)
    await asha.post("/console/language", data={"csrf_token": csrf, "lang": "hi",
                                               "next": "/console/offers"})
    listing = await asha.get("/console/offers")
    assert 'lang="hi"' in listing.text and "ऑफ़र" in listing.text
    refused = await asha.post("/console/offers/new",
                              data=form(csrf, "discount", "x", valid_to="2026-10-01T00:00"))
    assert refused.status_code == 422 and "The end must be after the start." not in refused.text


async def test_an_existing_id_is_not_overwritten_by_a_new_offer(
    asha: httpx.AsyncClient, pg_db: Database
) -> None:
    csrf = token((await asha.get("/console/offers")).text)
    assert (await asha.post("/console/offers/new",
                            data=form(csrf, "discount", "d1"))).status_code == 303
    again = await asha.post("/console/offers/new", data=form(csrf, "delivery", "d1"))
    assert again.status_code == 422 and "An offer with this id already exists." in again.text


async def test_operator_works_on_the_store_asked_for(
    anon: httpx.AsyncClient, pg_db: Database
) -> None:
    assert (await sign_in(anon, "ops")).status_code == 303
    csrf = token((await anon.get("/console/offers?store=P2")).text)
    saved = await anon.post("/console/offers/new",
                            data={**form(csrf, "discount", "p2o", item_ids="J1"),
                                  "store": "P2", "loc_0": "1"})
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == "/console/offers/p2o?saved=1&store=P2"
    async with pg_db.session() as s:
        assert [o.id for o in (await offer_store.offers_for(
            s, ["P1", "P2"], datetime(2026, 10, 20, tzinfo=UTC))).get("P2", [])] == ["p2o"]
