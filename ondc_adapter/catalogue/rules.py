"""Retail category rules (shipped data) and the ODOP -> ONDC category rule table.

``data/ondc_retail_categories.json`` holds, for RET10/RET12/RET16, the category names ONDC's
log validator accepts and each category's item attribute rules (copied from the derived LVU
file, see its ``_about``). A category is *valid for a domain* when it is both in the schema
enum and has attribute rules: the validator reports ``invalidCategoryId`` otherwise (so RET10
``Oil & Ghee``, whose rules key is mangled upstream, is not offered).

``data/odop_ondc_categories.csv`` is the transparent rule table that places an ODOP product in
a domain and category: rows are tried in ``rule`` order, a row applies when the product's sector
is in ``sectors`` (``*`` = any) and its case-insensitive regex ``pattern`` is found in the
product name; an empty ``domain`` means "not a retail consumer product" (cement, tourism...).
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
CATEGORIES_FILE = DATA_DIR / "ondc_retail_categories.json"
MAPPING_FILE = DATA_DIR / "odop_ondc_categories.csv"

GENDERS = ("male", "female", "boy", "girl", "infant", "unisex")


@dataclass(frozen=True, slots=True)
class AttributeRule:
    code: str
    mandatory: bool
    allowed: tuple[str, ...] | None  # exact values; None = any non-empty value
    pattern: re.Pattern[str] | None  # the value must match (search semantics as in JS)

    def problem(self, value: str) -> str | None:
        if not isinstance(value, str) or not value.strip():
            return "must be a non-empty string"
        if self.allowed is not None and value not in self.allowed:
            shown = ", ".join(self.allowed[:8]) + (" ..." if len(self.allowed) > 8 else "")
            return f"{value!r} is not an allowed value ({shown})"
        if self.pattern is not None and not self.pattern.search(value):
            return f"{value!r} does not match {self.pattern.pattern}"
        return None


def _rule(code: str, spec: dict[str, Any]) -> AttributeRule:
    value = spec.get("value")
    allowed: tuple[str, ...] | None = None
    pattern: re.Pattern[str] | None = None
    if isinstance(value, str) and len(value) >= 2 and value.startswith("/"):
        body, _, flags = value[1:].rpartition("/")
        pattern = re.compile(body, re.IGNORECASE if "i" in flags else 0)
    elif isinstance(value, dict) and value:  # a JS array serialised as an object upstream
        allowed = tuple(str(v) for v in value.values())
    elif isinstance(value, list) and value:
        # "alpha" heads some upstream lists as a placeholder, it is not a real value
        allowed = tuple(str(v) for v in value)
    return AttributeRule(code=code, mandatory=bool(spec.get("mandatory")), allowed=allowed,
                         pattern=pattern)


@dataclass(frozen=True, slots=True)
class CategoryRules:
    domain: str
    label: str
    schema_categories: tuple[str, ...]
    attributes: dict[str, dict[str, AttributeRule]]  # category -> code -> rule

    @property
    def valid_categories(self) -> tuple[str, ...]:
        return tuple(c for c in self.schema_categories if c in self.attributes)

    def is_valid_category(self, category_id: str) -> bool:
        return category_id in self.attributes and category_id in self.schema_categories

    def category_problem(self, category_id: str) -> str | None:
        """Why ``category_id`` is not a category items of this domain can have (or None)."""
        if self.is_valid_category(category_id):
            return None
        return f"{category_id!r} is not a {self.domain} category"

    def mandatory(self, category_id: str) -> tuple[str, ...]:
        return tuple(c for c, r in self.attributes.get(category_id, {}).items() if r.mandatory)

    def attribute_problems(
        self, category_id: str, attributes: dict[str, str]
    ) -> list[tuple[str, str]]:
        """[(attribute code, reason)] for ``attributes`` of an item in ``category_id``."""
        rules = self.attributes.get(category_id)
        if rules is None:
            return [("category_id", f"{category_id!r} is not a {self.domain} category")]
        problems: list[tuple[str, str]] = []
        for code, rule in rules.items():
            if code not in attributes:
                if rule.mandatory:
                    problems.append((code, f"mandatory for {category_id}"))
                continue
            reason = rule.problem(attributes[code])
            if reason:
                problems.append((code, reason))
        for code in attributes:
            if code not in rules:
                problems.append((code, f"not an attribute of {category_id}"))
        return problems


def load_rules(path: Path = CATEGORIES_FILE) -> dict[str, CategoryRules]:
    """Domain -> rules, from the shipped data file (read once per process: immutable data)."""
    return _load_rules(path.resolve())  # one cache key per file (see odop.load_registry)


@lru_cache(maxsize=4)
def _load_rules(path: Path) -> dict[str, CategoryRules]:
    data = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, CategoryRules] = {}
    for domain, spec in data["domains"].items():
        attrs = {
            category: {code: _rule(code, rule) for code, rule in codes.items()}
            for category, codes in (spec.get("tag_rules") or {}).items()
        }
        out[domain] = CategoryRules(
            domain=domain,
            label=spec.get("label", domain),
            schema_categories=tuple(spec.get("schema_enum_list", ())),
            attributes=attrs,
        )
    return out


@dataclass(frozen=True, slots=True)
class CategoryMapping:
    rule: int
    domain: str  # "" when the product is not a retail consumer product
    category_id: str
    hsn: str  # default HSN for RET12 items (sellers override per item)
    material: str  # default fabric (RET12) or material (RET16)
    note: str

    @property
    def retail(self) -> bool:
        return bool(self.domain)


@dataclass(frozen=True, slots=True)
class _MappingRule:
    mapping: CategoryMapping
    sectors: frozenset[str] | None
    pattern: re.Pattern[str]


@lru_cache(maxsize=4)
def load_mapping(path: Path = MAPPING_FILE) -> tuple[_MappingRule, ...]:
    rules: list[_MappingRule] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            sectors = row["sectors"].strip()
            rules.append(
                _MappingRule(
                    mapping=CategoryMapping(
                        rule=int(row["rule"]),
                        domain=row["domain"].strip(),
                        category_id=row["category_id"].strip(),
                        hsn=row["hsn"].strip(),
                        material=row["material"].strip(),
                        note=row["note"].strip(),
                    ),
                    sectors=None if sectors == "*" else frozenset(sectors.split("|")),
                    pattern=re.compile(row["pattern"], re.IGNORECASE),
                )
            )
    rules.sort(key=lambda r: r.mapping.rule)
    return tuple(rules)


def map_product(product: str, sector: str, path: Path = MAPPING_FILE) -> CategoryMapping | None:
    """The first rule of the table that matches (``None`` if none does)."""
    for rule in load_mapping(path):
        if rule.sectors is not None and sector not in rule.sectors:
            continue
        if rule.pattern.search(product):
            return rule.mapping
    return None
