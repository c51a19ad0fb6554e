"""Offers for the catalogue's offer tests: one definition per 1.2.5 type, over the items of
``helpers.records()`` (store P1: items I12, I16, I10 at location L1)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ondc_adapter.catalogue.importer import import_file
from ondc_adapter.storage import Database

from .helpers import NOW, records, write_jsonl

START = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
END = datetime(2026, 3, 31, 23, 59, tzinfo=UTC)
TIMES = {"valid_from": "2026-03-01T05:30:00+05:30", "valid_to": "2026-04-01T05:29:00+05:30"}

OFFERS: dict[str, dict[str, Any]] = {
    "discp60": {"type": "discount", **TIMES, "item_ids": ["I12"],
                "qualifier": {"min_value_paise": 15900},
                "benefit": {"percent": "60.00", "cap_paise": 12000},
                "additive": True, "auto": False, "title": "60% off up to ₹120"},
    "flat150": {"type": "discount", **TIMES, "qualifier": {"min_value_paise": 49900},
                "benefit": {"amount_paise": 15000}, "additive": True, "auto": True},
    "buy2get1": {"type": "buyXgetY", **TIMES, "item_ids": ["I16"],
                 "qualifier": {"item_count": 2},
                 "benefit": {"item_id": "I16", "item_count": 1, "item_value_paise": 0},
                 "additive": False, "auto": True},
    "gift": {"type": "freebie", **TIMES, "location_ids": ["L1"],
             "qualifier": {"min_value_paise": 59800},
             "benefit": {"item_id": "I10", "item_count": 1, "item_value_paise": 32000},
             "additive": True, "auto": True},
    "slab1": {"type": "slab", **TIMES, "item_ids": ["I16"],
              "qualifier": {"item_count": 6, "item_count_upper": 9},
              "benefit": {"percent": "10.00", "cap_paise": 10000}, "additive": False,
              "auto": True},
    "combo1": {"type": "combo", **TIMES, "item_ids": ["I12"],
               "qualifier": {"item_ids": ["I16", "I10"]},
               "benefit": {"percent": "50.00", "cap_paise": 20000}, "additive": False,
               "auto": True},
    "freeship": {"type": "delivery", **TIMES, "qualifier": {"min_value_paise": 29900},
                 "benefit": {"percent": "100.00", "cap_paise": 7500}, "additive": True,
                 "auto": True},
}


def offer(offer_id: str, **over: Any) -> dict[str, Any]:
    data = copy.deepcopy(OFFERS[offer_id])
    data["id"] = offer_id
    data.update(over)
    return data


async def load_catalogue(db: Database, tmp_path: Path) -> None:
    report = await import_file(db, write_jsonl(tmp_path / "c.jsonl", records()), now=NOW)
    assert report.ok, report.problems
