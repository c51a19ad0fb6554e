"""The full-catalogue on_search of the default sample (2,000 items, every domain) passes the
ported rules of ONDC's log validator (``ondc_adapter.lvu``): no duplicate location ids, stock
shown as 99/0, fulfillment types from the enumeration, statutory blocks, prices, GPS..."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ondc_adapter.catalogue import on_search
from ondc_adapter.catalogue.importer import import_file
from ondc_adapter.catalogue.sample import generate
from ondc_adapter.lvu import validate_bundle
from ondc_adapter.protocol.durations import format_timestamp
from ondc_adapter.storage import Database


@pytest.mark.parametrize("domain", ["ONDC:RET10", "ONDC:RET12", "ONDC:RET16"])
async def test_the_full_sample_catalogue_passes_the_ported_rules(
    sqlite_db: Database, tmp_path: Path, domain: str
) -> None:
    sample = tmp_path / "sample.jsonl"
    generate(sample, items=2000, seed=11)
    now = datetime.now(UTC)
    assert (await import_file(sqlite_db, sample, now=now)).ok
    async with sqlite_db.session() as session:
        pages = await on_search.build_pages(
            session, profile=on_search.BppProfile(), max_bytes=50_000_000, now=now, domain=domain
        )
    context = {
        "domain": domain, "country": "IND", "city": "std:080", "action": "on_search",
        "core_version": "1.2.0", "bap_id": "buyer.example.com",
        "bap_uri": "https://buyer.example.com/ondc", "bpp_id": "seller.example.com",
        "bpp_uri": "https://seller.example.com/ondc", "transaction_id": "t-1",
        "message_id": "m-1", "timestamp": format_timestamp(now), "ttl": "PT30S",
    }
    search = {k: v for k, v in context.items() if k not in ("bpp_id", "bpp_uri")}
    findings = []
    for page in pages:
        bundle = {
            "domain": domain, "version": "1.2.0", "flow": "8", "bap_id": "buyer.example.com",
            "bpp_id": "seller.example.com",
            "payload": {
                "search_full_catalog_refresh": {"context": {**search, "action": "search"},
                                                "message": {}},
                "on_search_full_catalog_refresh": {"context": context, "message": page.message()},
            },
        }
        # a country's stores are not one city's answer: the sandbox's bundles check that
        findings += [f for f in validate_bundle(bundle) if f.rule != "on_search.area_code"]
    assert sum(len(p.message()["catalog"]["bpp/providers"]) for p in pages) > 10
    assert findings == [], "\n".join(map(str, findings[:20]))
