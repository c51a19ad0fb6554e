"""ONDC city codes (``context.city = "std:080"``) and the PIN codes they cover.

A search by city asks for every store that serves that city. A store says where it serves in
its own terms: a radius around its address, a list or range of PIN codes, or all of India. To
answer, the node needs to know which PIN codes belong to a city: ``data/cities.csv`` maps each
city's STD code to the three-digit PIN prefixes (postal sorting districts) of the city.

A store whose address PIN falls in a city's prefix is *in* that city (its STD code is derived
when the seller gave none); an intercity store serves the city when its PIN list reaches into
the city's prefixes. A city code not in the table is matched by the STD codes sellers gave.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

CITIES_FILE = Path(__file__).resolve().parent.parent / "data" / "cities.csv"


@dataclass(frozen=True, slots=True)
class City:
    std_code: str  # "080"
    name: str
    state: str
    pin_prefixes: tuple[str, ...]  # ("560",)


def normalise_std(code: str) -> str:
    """``"80"``, ``"080"``, ``"0080"`` -> ``"080"``: the form ``std:`` codes use."""
    return "0" + code.lstrip("0")


def std_of_city(city: str) -> str | None:
    """The STD code of a ``context.city`` value; None for ``*`` and non-``std:`` codes."""
    if city == "*" or not city.startswith("std:") or not city[4:].isdigit():
        return None
    return normalise_std(city[4:])


@dataclass(frozen=True)
class CityDirectory:
    by_std: dict[str, City]
    by_prefix: dict[str, str]  # "560" -> "080"

    @classmethod
    def of(cls, cities: Iterable[City]) -> CityDirectory:
        by_std = {c.std_code: c for c in cities}
        by_prefix = {p: c.std_code for c in by_std.values() for p in c.pin_prefixes}
        return cls(by_std, by_prefix)

    def std_for_pin(self, pin: str) -> str | None:
        """The city a PIN code lies in, if it is one of the table's."""
        return self.by_prefix.get(pin[:3]) if len(pin) == 6 and pin.isdigit() else None

    def pin_ranges(self, std_code: str) -> list[tuple[int, int]]:
        """The city's PIN codes as inclusive ranges (``[(560000, 560999)]``)."""
        city = self.by_std.get(std_code)
        if city is None:
            return []
        return [(int(p) * 1000, int(p) * 1000 + 999) for p in city.pin_prefixes]


def read_cities(path: Path = CITIES_FILE) -> list[City]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [
            City(
                std_code=normalise_std(row["std_code"]),
                name=row["city"],
                state=row["state"],
                pin_prefixes=tuple(row["pin_prefixes"].split()),
            )
            for row in csv.DictReader(fh)
        ]


@cache
def default_directory() -> CityDirectory:
    """The shipped table (read once per process: it is static reference data)."""
    return CityDirectory.of(read_cities())
