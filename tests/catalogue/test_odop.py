"""The shipped ODOP registry and the build script that makes it."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from ondc_adapter.catalogue import odop_build
from ondc_adapter.catalogue.odop import REGISTRY_FILE, find_product, load_registry


def test_shipped_registry_counts() -> None:
    rows = load_registry()
    assert len(rows) == 1241
    assert len({r.lgd_code for r in rows}) == 766
    assert len({r.state for r in rows}) == 36
    assert {r.rank for r in rows} == {"Primary", "Secondary", "Tertiary", "Others"}
    assert {r.sector for r in rows} == {"Agriculture", "Handicraft", "Manufacturing",
                                        "Food Processing", "Textile", "Handloom", "Marine",
                                        "Others", "Dairy"}
    assert sum(r.gi for r in rows) == 256


def test_shipped_registry_has_no_prose_or_photos() -> None:
    with REGISTRY_FILE.open(encoding="utf-8") as handle:
        header = next(csv.reader(handle))
        text = handle.read()
    assert header == list(odop_build.FIELDS)
    assert "drive.google" not in text and "Description" not in header


def test_find_product_is_keyed_on_lgd_code() -> None:
    silk = find_product("187", "silk products")
    assert silk is not None and silk.district == "Varanasi" and silk.gi
    assert find_product("188", "Silk Products") is None


SOURCE = (
    "State,Product,District,LGD Code,Category,Sector,Description,GI Status,Photo,"
    "Ministry/ Department\n"
    'Odisha,Silver\xa0Filigree ,Cuttack,350,primary,handicraft,"Fine\nwork \u2014 old",'
    "yes ,https://drive.google.com/x,DC handicraft\n"
    "Dadra & Nagar Haveli (UT)\nDaman & Diu (UT),Dhoti,Diu,999,Secondary ,handlooms,x,NO ,p,"
    "Minsitry of Textile\n"
)


def test_build_normalises_a_cp1252_source(tmp_path: Path) -> None:
    source = tmp_path / "odop.csv"
    # quote the multi-line state the way the official export does
    text = SOURCE.replace("Dadra & Nagar Haveli (UT)\nDaman & Diu (UT)",
                          '"Dadra & Nagar Haveli (UT)\nDaman & Diu (UT)"')
    source.write_bytes(text.encode("cp1252"))
    out = tmp_path / "registry.csv"
    assert odop_build.build(source, out) == 2
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert rows[0] == {
        "state": "Odisha", "district": "Cuttack", "lgd_code": "350",
        "product": "Silver Filigree", "rank": "Primary", "sector": "Handicraft", "gi": "yes",
        "nodal_department": "DC Handicrafts",
    }
    assert rows[1]["state"] == "Dadra and Nagar Haveli and Daman and Diu"
    assert (rows[1]["rank"], rows[1]["sector"], rows[1]["gi"]) == ("Secondary", "Handloom", "no")
    assert rows[1]["nodal_department"] == "Ministry of Textiles"


def test_build_rejects_a_bad_gi_value_and_leaves_output_alone(tmp_path: Path) -> None:
    source = tmp_path / "odop.csv"
    source.write_bytes(SOURCE.replace("yes ,", "maybe,").encode("cp1252"))
    out = tmp_path / "registry.csv"
    with pytest.raises(odop_build.OdopSourceError, match="GI Status"):
        odop_build.build(source, out)
    assert not out.exists()
