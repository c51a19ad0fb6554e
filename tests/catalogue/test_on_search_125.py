"""Retail 1.2.5 on_search (issue 16): the sample catalogues pass the ported 1.2.5 rules, offers
are published with their tags only while valid, Self-Pickup timings only for stores that
offer it, 1.2.0 answers unchanged, and no cache serves one version's answer to the other."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ondc_adapter.catalogue import offer_store, on_search, on_search_offers
from ondc_adapter.catalogue.handler import handle_search, push_incremental, search_pages
from ondc_adapter.catalogue.importer import import_file
from ondc_adapter.catalogue.on_search_cache import OnSearchCache
from ondc_adapter.catalogue.reply_cache import ReplyCache
from ondc_adapter.catalogue.sample import generate
from ondc_adapter.catalogue.search import SearchIndex
from ondc_adapter.lvu import validate_bundle
from ondc_adapter.lvu.findings import Finding
from ondc_adapter.offers import load_offer
from ondc_adapter.offers.render import parse_catalog_offer
from ondc_adapter.protocol.durations import format_timestamp
from ondc_adapter.protocol.versions import RetailVersion
from ondc_adapter.storage import Database

from .helpers import (
    NOW,
    deps,
    provider,
    records,
    ret12_item,
    search_request,
    settings,
    write_jsonl,
)
from .offer_kit import END, OFFERS, START, offer

V125 = RetailVersion.V1_2_5
# Findings of ONDC's 1.2.5 checker that no truthful catalogue of these stores can avoid
# (docs/retail-1.2.5/rules.md; the module notes of lvu.catalogue_rules_125): the sample's
# stores only deliver, and a country's stores are not one city's answer
KNOWN = {"on_search.self_pickup", "on_search.area_code"}


def bundle_of(message: dict[str, Any], domain: str, now: datetime, flow: str = "8"
              ) -> dict[str, Any]:
    context = {
        "domain": domain, "country": "IND", "city": "std:080", "action": "on_search",
        "core_version": "1.2.5", "bap_id": "buyer.example.com",
        "bap_uri": "https://buyer.example.com/ondc", "bpp_id": "seller.example.com",
        "bpp_uri": "https://seller.example.com/ondc", "transaction_id": "t-1",
        "message_id": "m-1", "timestamp": format_timestamp(now), "ttl": "PT30S",
    }
    search = {k: v for k, v in context.items() if k not in ("bpp_id", "bpp_uri")}
    terms = [
        {"code": "static_terms", "value": "https://buyer.example.com/terms/1.pdf"},
        {"code": "static_terms_new", "value": "https://buyer.example.com/terms/2.pdf"},
        {"code": "effective_date", "value": format_timestamp(datetime.now(UTC)
                                                            + timedelta(days=365))},
    ]
    intent = {"payment": {"@ondc/org/buyer_app_finder_fee_type": "percent",
                          "@ondc/org/buyer_app_finder_fee_amount": "3"},
              "tags": [{"code": "bap_terms", "list": terms}]}
    return {
        "domain": domain, "version": "1.2.5", "flow": flow, "bap_id": "buyer.example.com",
        "bpp_id": "seller.example.com",
        "payload": {
            "search_full_catalog_refresh": {"context": {**search, "action": "search"},
                                            "message": {"intent": intent}},
            "on_search_full_catalog_refresh": {"context": context, "message": message},
        },
    }


def ported(message: dict[str, Any], domain: str, now: datetime) -> list[Finding]:
    return [f for f in validate_bundle(bundle_of(message, domain, now))
            if f.rule not in KNOWN and not f.rule.startswith("bundle.")]


@pytest.mark.parametrize("domain", ["ONDC:RET10", "ONDC:RET12", "ONDC:RET16"])
async def test_the_sample_catalogue_in_1_2_5_passes_the_ported_1_2_5_rules(
    sqlite_db: Database, tmp_path: Path, domain: str
) -> None:
    sample = tmp_path / "sample.jsonl"
    generate(sample, items=600, seed=11)
    now = datetime.now(UTC)
    assert (await import_file(sqlite_db, sample, now=now)).ok
    async with sqlite_db.session() as session:
        pages = await on_search.build_pages(
            session, profile=on_search.BppProfile(), max_bytes=50_000_000, now=now,
            domain=domain, version=V125,
        )
    findings = [f for page in pages for f in ported(page.message(), domain, now)]
    assert sum(len(p.message()["catalog"]["bpp/providers"]) for p in pages) > 3
    assert findings == [], "\n".join(map(str, findings[:20]))


async def load(db: Database, tmp_path: Path, *extra: dict[str, Any]) -> None:
    report = await import_file(db, write_jsonl(tmp_path / "c.jsonl", records(*extra)), now=NOW)
    assert report.ok, report.problems


async def publish(db: Database, *ids: str) -> None:
    async with db.session() as s:
        for oid in ids:
            await offer_store.put_offer(s, await offer_store.check_offer(s, "P1", offer(oid)),
                                        now=NOW)


def providers_of(pages: list[on_search.Page]) -> dict[str, dict[str, Any]]:
    return {p["id"]: p for page in pages for p in page.message()["catalog"]["bpp/providers"]}


async def pages_at(db: Database, at: datetime, version: RetailVersion = V125,
                   **kwargs: Any) -> list[on_search.Page]:
    async with db.session() as s:
        return await on_search.build_pages(
            s, profile=on_search.BppProfile(), max_bytes=5_000_000, now=at, version=version,
            **kwargs,
        )


async def test_published_offers_carry_their_tags_while_valid(
    each_db: Database, tmp_path: Path
) -> None:
    await load(each_db, tmp_path)
    await publish(each_db, *OFFERS)
    shown = providers_of(await pages_at(each_db, NOW, domain="ONDC:RET12"))["P1"]["offers"]
    assert [o["id"] for o in shown] == list(OFFERS)  # the seller's order
    for wire in shown:
        # what the seller defined, read back from the wire (tags, ids and times)
        back = parse_catalog_offer(wire, "P1", title=OFFERS[wire["id"]].get("title", ""))
        defined = load_offer({**offer(wire["id"]), "provider_id": "P1"})
        assert back.type == defined.type and back.benefit == defined.benefit
        assert back.valid_from == defined.valid_from and back.valid_to == defined.valid_to
        assert {t["code"] for t in wire["tags"]} == {"qualifier", "benefit", "meta"}
        # an offer on every item / store lists them (ONDC's checker wants both lists)
        assert wire["location_ids"] == list(defined.location_ids or ["L1"])
        assert wire["item_ids"] == list(defined.item_ids or ["I10", "I12", "I16"])
    flat = next(o for o in shown if o["id"] == "flat150")
    assert {"code": "value", "value": "-150.00"} in flat["tags"][1]["list"]
    # the same answer by item ids (a name search) shows the same offers, byte for byte
    by_ids = await pages_at(each_db, NOW, domain="ONDC:RET12", item_ids=["I12"])
    assert providers_of(by_ids)["P1"]["offers"] == shown
    message = (await pages_at(each_db, NOW, domain="ONDC:RET12"))[0].message()
    assert [f for f in ported(message, "ONDC:RET12", NOW) if f.rule == "on_search.offers"] == []


async def test_offers_are_shown_only_within_their_validity(
    each_db: Database, tmp_path: Path
) -> None:
    await load(each_db, tmp_path)
    await publish(each_db, "discp60")
    for at, shown in ((START - timedelta(seconds=1), False), (START, True), (END, True),
                      (END + timedelta(seconds=1), False)):
        head = providers_of(await pages_at(each_db, at, domain="ONDC:RET12"))["P1"]
        assert ("offers" in head) is shown, at
    async with each_db.session() as s:
        await offer_store.set_enabled(s, "P1", "discp60", False, now=NOW)
    assert "offers" not in providers_of(await pages_at(each_db, NOW, domain="ONDC:RET12"))["P1"]


async def test_a_1_2_0_answer_has_no_1_2_5_members(each_db: Database, tmp_path: Path) -> None:
    both = provider("P2", fulfillments=[{"id": "F1", "type": "Delivery"},
                                        {"id": "F2", "type": "Self-Pickup"}],
                    locations=[{**provider()["locations"][0], "id": "L2"}])
    await load(each_db, tmp_path, both, ret12_item("I22", provider_id="P2", location_id="L2"))
    await publish(each_db, "discp60")
    old = await pages_at(each_db, NOW, RetailVersion.V1_2_0, domain="ONDC:RET12")
    assert [p.text for p in old] == [p.text for p in await pages_at_default(each_db)]
    for head in providers_of(old).values():
        assert "offers" not in head
        assert all("tags" not in f for f in head["fulfillments"])
        kinds = {e["value"] for t in head["tags"] if t["code"] == "timing"
                 for e in t["list"] if e["code"] == "type"}
        assert kinds == {"Order", "Delivery"}


async def pages_at_default(db: Database) -> list[on_search.Page]:
    async with db.session() as s:  # no version given: what every caller got before issue 16
        return await on_search.build_pages(
            s, profile=on_search.BppProfile(), max_bytes=5_000_000, now=NOW, domain="ONDC:RET12")


async def test_self_pickup_timings_only_for_stores_that_offer_it(
    each_db: Database, tmp_path: Path
) -> None:
    both = provider("P2", fulfillments=[{"id": "F1", "type": "Delivery"},
                                        {"id": "F2", "type": "Self-Pickup"}],
                    locations=[{**provider()["locations"][0], "id": "L2"}])
    pickup = provider("P3", fulfillments=[{"id": "F2", "type": "Self-Pickup"}],
                      locations=[{**provider()["locations"][0], "id": "L3"}])
    await load(each_db, tmp_path, both, pickup,
               ret12_item("I22", provider_id="P2", location_id="L2"),
               ret12_item("I32", provider_id="P3", location_id="L3", fulfillment_id="F2"))
    heads = providers_of(await pages_at(each_db, NOW, domain="ONDC:RET12"))

    def kinds(head: dict[str, Any]) -> list[str]:
        return [e["value"] for t in head["tags"] if t["code"] == "timing"
                for e in t["list"] if e["code"] == "type"]

    assert kinds(heads["P1"]) == ["Order", "Delivery"]
    assert kinds(heads["P2"]) == ["Order", "Delivery", "Self-Pickup"]
    assert kinds(heads["P3"]) == ["Order", "Self-Pickup"]  # no delivery hours it does not keep
    assert all("tags" not in f for f in heads["P1"]["fulfillments"])
    for pid, store in (("P2", "L2"), ("P3", "L3")):
        for fulfillment in heads[pid]["fulfillments"]:
            (tag,) = fulfillment["tags"]
            assert {e["code"]: e["value"] for e in tag["list"]} == {
                "type": "Self-Pickup", "location": store, "day_from": "1", "day_to": "6",
                "time_from": "0900", "time_to": "2000"}
    message = (await pages_at(each_db, NOW, domain="ONDC:RET12"))[0].message()
    found = validate_bundle(bundle_of(message, "ONDC:RET12", NOW))
    pickup_findings = [f for f in found if f.rule == "on_search.self_pickup"]
    # only the store that delivers alone is flagged (the checker's bug: docs/retail-1.2.5)
    assert pickup_findings and all("Provider[0]" in f.message for f in pickup_findings)


async def test_no_cache_serves_one_version_to_the_other(
    each_db: Database, tmp_path: Path
) -> None:
    both = provider("P2", fulfillments=[{"id": "F1", "type": "Delivery"},
                                        {"id": "F2", "type": "Self-Pickup"}],
                    locations=[{**provider()["locations"][0], "id": "L2"}])
    await load(each_db, tmp_path, both, ret12_item("I22", provider_id="P2", location_id="L2"))
    await publish(each_db, "discp60")
    index, replies, cache = SearchIndex(), ReplyCache(seconds=30), OnSearchCache()
    intent = {"item": {"descriptor": {"name": "katan saree"}}}

    async def answer(version: RetailVersion, at: datetime = NOW) -> list[str]:
        async with each_db.session() as s:
            pages = await search_pages(
                s, intent=intent, domain="ONDC:RET12", city="std:0542", index=index,
                profile=on_search.BppProfile(), max_bytes=5_000_000, now=at, cache=cache,
                replies=replies, version=version,
            )
            return [p.text async for p in pages]

    old, new = await answer(RetailVersion.V1_2_0), await answer(V125)
    assert '"offers"' not in old[0] and '"offers"' in new[0] and '"Self-Pickup"' in new[0]
    hits = replies.hits
    assert await answer(RetailVersion.V1_2_0) == old and await answer(V125) == new
    assert replies.hits == hits + 2  # each version served its own kept answer
    # once the offer has ended the kept 1.2.5 answer is not replayed
    after = await answer(V125, END + timedelta(seconds=1))
    assert '"offers"' not in after[0] and replies.hits == hits + 2
    # and a fresh answer (no caches at all) is byte for byte the cached path's
    async with each_db.session() as s:
        fresh = await search_pages(
            s, intent=intent, domain="ONDC:RET12", city="std:0542", index=SearchIndex(),
            profile=on_search.BppProfile(), max_bytes=5_000_000, now=NOW, version=V125,
        )
        assert [p.text async for p in fresh] == new


async def test_pushes_go_to_each_subscriber_in_its_version(
    each_db: Database, tmp_path: Path
) -> None:
    await load(each_db, tmp_path)
    await publish(each_db, "discp60")
    start = {"tags": [{"code": "catalog_inc", "list": [{"code": "mode", "value": "start"}]}]}
    for tid, version in (("sub-120", "1.2.0"), ("sub-125", "1.2.5")):
        # two buyer apps (one subscription each), one per version
        request = search_request(start, city="*", transaction_id=tid)
        request = dataclasses.replace(request, context=request.context.model_copy(
            update={"core_version": version, "bap_id": f"{tid}.example.com"}))
        async with each_db.session() as s:
            assert await handle_search(request, s, deps()) == []
    async with each_db.session() as s:
        sent = await push_incremental(s, settings=settings(), now=NOW, provider_ids=["P1"])
    by_version = {m.payload["context"]["core_version"]: m.payload for m in sent}
    assert set(by_version) == {"1.2.0", "1.2.5"}
    heads = {v: body["message"]["catalog"]["bpp/providers"][0]
             for v, body in by_version.items()}
    assert "offers" not in heads["1.2.0"]
    assert [o["id"] for o in heads["1.2.5"]["offers"]] == ["discp60"]


async def test_offers_are_read_once_per_transaction(
    each_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await load(each_db, tmp_path)
    await publish(each_db, "discp60", "flat150")
    reads: list[list[str]] = []
    real = on_search_offers._read

    async def counted(session: Any, memo: Any, provider_ids: list[str], pg: bool) -> None:
        reads.append(provider_ids)
        await real(session, memo, provider_ids, pg)

    monkeypatch.setattr(on_search_offers, "_read", counted)
    async with each_db.session() as s:  # a processor batch: searches at successive instants
        first = await on_search_offers.read_offers(s, ["P1"], START)
        again = await on_search_offers.read_offers(s, ["P1", "P9"], END)
        ended = await on_search_offers.read_offers(s, ["P1"], END + timedelta(seconds=1))
    assert reads == [["P1"], ["P9"]]  # each store once in the transaction
    assert [o.id for o in first.by_provider["P1"]] == ["discp60", "flat150"]
    assert again.key == first.key and ended.key == ()  # validity judged at each instant
    assert first.items["P1"] == ("I10", "I12", "I16")  # flat150 covers every item
    async with each_db.session() as s:  # the next transaction reads again
        await on_search_offers.read_offers(s, ["P1"], START)
    assert reads == [["P1"], ["P9"], ["P1"]]
