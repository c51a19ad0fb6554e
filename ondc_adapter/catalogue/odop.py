"""The shipped ODOP registry (``data/odop_products.csv``, built by ``odop_build``).

Each product knows its district (LGD code is the key; the same code can carry several
spellings), state, rank within the district, sector, GI status, nodal department and where it
sits on ONDC (domain + category, from the rule table in ``rules``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ondc_adapter.catalogue.rules import CategoryMapping, map_product

REGISTRY_FILE = Path(__file__).resolve().parent.parent / "data" / "odop_products.csv"


@dataclass(frozen=True, slots=True)
class OdopProduct:
    state: str
    district: str
    lgd_code: str
    product: str
    rank: str
    sector: str
    gi: bool
    nodal_department: str
    ondc: CategoryMapping | None

    @property
    def retail(self) -> bool:
        return self.ondc is not None and self.ondc.retail


def load_registry(path: Path = REGISTRY_FILE) -> tuple[OdopProduct, ...]:
    """Every registry row, in file order (immutable shipped data, read once per process)."""
    # One cache key per file: ``load_registry()`` and ``load_registry(REGISTRY_FILE)`` are
    # different calls to lru_cache, and each parse costs ~0.1 s.
    return _load_registry(path.resolve())


@lru_cache(maxsize=4)
def _load_registry(path: Path) -> tuple[OdopProduct, ...]:
    with path.open(encoding="utf-8", newline="") as handle:
        return tuple(
            OdopProduct(
                state=row["state"],
                district=row["district"],
                lgd_code=row["lgd_code"],
                product=row["product"],
                rank=row["rank"],
                sector=row["sector"],
                gi=row["gi"] == "yes",
                nodal_department=row["nodal_department"],
                ondc=map_product(row["product"], row["sector"]),
            )
            for row in csv.DictReader(handle)
        )


def by_lgd(products: Iterable[OdopProduct]) -> dict[str, list[OdopProduct]]:
    out: dict[str, list[OdopProduct]] = {}
    for product in products:
        out.setdefault(product.lgd_code, []).append(product)
    return out


def product_key(lgd_code: str, product: str) -> tuple[str, str]:
    return lgd_code.strip().lstrip("0") or "0", " ".join(product.lower().split())


@lru_cache(maxsize=4)
def registry_index(path: Path = REGISTRY_FILE) -> dict[tuple[str, str], OdopProduct]:
    """(LGD code, normalised product name) -> registry row."""
    return {product_key(p.lgd_code, p.product): p for p in load_registry(path)}


def find_product(lgd_code: str, product: str) -> OdopProduct | None:
    """The registry row for ``product`` in district ``lgd_code`` (case/space-insensitive)."""
    return registry_index().get(product_key(lgd_code, product))
