"""Build the shipped ODOP registry (``ondc_adapter/data/odop_products.csv``) from the official
"One District One Product" list (DPIIT / Invest India export, e.g.
``20250707_ODOP_Products_V31.csv``).

    ondc-adapter catalogue build-odop SOURCE.csv [--out ondc_adapter/data/odop_products.csv]
    python -m ondc_adapter.catalogue.odop_build SOURCE.csv

What it does to each row (so a newer list loads the same way):

* decodes Windows-1252 (the official export is not UTF-8), turns NBSP/newlines into spaces,
  strips and collapses whitespace;
* keeps the LGD district code as the district key (the same code appears under several district
  spellings; every spelling is kept per row, search indexes them all);
* normalises casing of the rank (``Category`` column: Primary/Secondary/Tertiary/Others), the
  sector (``handlooms`` -> ``Handloom``) and GI status (``yes ``/``NO `` -> bool);
* normalises the nodal department's spelling (``Minsitry of Textile`` -> ``Ministry of Textiles``);
* drops the Description prose and the photo links (not ours to redistribute).

Output columns: state, district, lgd_code, product, rank, sector, gi, nodal_department.
"""

from __future__ import annotations

import argparse
import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "data" / "odop_products.csv"
FIELDS = ("state", "district", "lgd_code", "product", "rank", "sector", "gi", "nodal_department")

RANKS = {"primary": "Primary", "secondary": "Secondary", "tertiary": "Tertiary", "others": "Others"}
SECTORS = {
    "agriculture": "Agriculture",
    "handicraft": "Handicraft",
    "handicrafts": "Handicraft",
    "manufacturing": "Manufacturing",
    "food processing": "Food Processing",
    "textile": "Textile",
    "textiles": "Textile",
    "handloom": "Handloom",
    "handlooms": "Handloom",
    "marine": "Marine",
    "dairy": "Dairy",
    "others": "Others",
}
# Spelling variants of the same nodal body in the official list -> one name.
DEPARTMENTS = {
    "ministry of agriculture & farmers welfare": "Ministry of Agriculture & Farmers' Welfare",
    "dc handicraft": "DC Handicrafts",
    "dc handicrafts": "DC Handicrafts",
    "dc handloom": "DC Handlooms",
    "dc handlooms": "DC Handlooms",
    "msme": "Ministry of MSME",
    "ministry of msme": "Ministry of MSME",
    "ministry of textile": "Ministry of Textiles",
    "minsitry of textile": "Ministry of Textiles",
    "ministry of food processing": "Ministry of Food Processing Industries",
    "department of fisheries": "Department of Fisheries",
    "minstry of heavy industries": "Ministry of Heavy Industries",
    "ministry of mines": "Ministry of Mines",
    "department of geology": "Department of Geology",
}
# States whose name in the list is not the current official one.
STATES = {
    "Dadra & Nagar Haveli (UT) Daman & Diu (UT)": "Dadra and Nagar Haveli and Daman and Diu",
}
_SPACE = re.compile(r"\s+")


class OdopSourceError(ValueError):
    """The source file does not look like the official ODOP list."""


@dataclass(frozen=True, slots=True)
class OdopRow:
    state: str
    district: str
    lgd_code: str
    product: str
    rank: str
    sector: str
    gi: bool
    nodal_department: str

    def as_csv(self) -> dict[str, str]:
        return {
            "state": self.state,
            "district": self.district,
            "lgd_code": self.lgd_code,
            "product": self.product,
            "rank": self.rank,
            "sector": self.sector,
            "gi": "yes" if self.gi else "no",
            "nodal_department": self.nodal_department,
        }


def clean(text: str) -> str:
    return _SPACE.sub(" ", text.replace("\xa0", " ")).strip()


def _department(text: str) -> str:
    value = clean(text).rstrip(".").strip()
    return DEPARTMENTS.get(value.lower(), value)


def _gi(text: str, line: int) -> bool:
    value = clean(text).lower()
    if value in ("yes", "y"):
        return True
    if value in ("no", "n", ""):
        return False
    raise OdopSourceError(f"row {line}: GI Status {text!r} is neither yes nor no")


def normalise(raw: dict[str, str], line: int) -> OdopRow:
    def col(name: str) -> str:
        if name not in raw:
            raise OdopSourceError(f"column {name!r} missing (got {sorted(raw)})")
        return clean(raw[name] or "")

    lgd = col("LGD Code")
    if not lgd.isdigit():
        raise OdopSourceError(f"row {line}: LGD Code {lgd!r} is not a number")
    rank = col("Category")
    sector = col("Sector")
    state = col("State")
    return OdopRow(
        state=STATES.get(state, state),
        district=col("District"),
        lgd_code=str(int(lgd)),
        product=col("Product"),
        rank=RANKS.get(rank.lower(), rank.title()),
        sector=SECTORS.get(sector.lower(), sector.title()),
        gi=_gi(raw.get("GI Status", ""), line),
        nodal_department=_department(col("Ministry/ Department")),
    )


def read_source(path: Path, encoding: str = "cp1252") -> Iterator[OdopRow]:
    # newline="" keeps the quoted multi-line descriptions inside their field.
    with path.open(encoding=encoding, newline="") as handle:
        for line, raw in enumerate(csv.DictReader(handle), start=2):
            yield normalise(raw, line)


def write_registry(rows: Iterable[OdopRow], out: Path) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row.as_csv())
            count += 1
    return count


def build(source: Path, out: Path = DEFAULT_OUT, encoding: str = "cp1252") -> int:
    """Read ``source``, write the normalised registry to ``out``; returns the row count."""
    rows = list(read_source(source, encoding))  # fail before touching ``out``
    return write_registry(rows, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--encoding", default="cp1252")
    args = parser.parse_args(argv)
    count = build(args.source, args.out, args.encoding)
    print(f"wrote {count} rows to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
