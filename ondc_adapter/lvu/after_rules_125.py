"""Retail 1.2.5 rules after the order (on_status by routing, track, cancel, update,
catalog_rejection): ported from ``utils/Retail_.1.2.5/{Status,Track,Cancel,Update}``."""

from __future__ import annotations

from ondc_adapter.lvu.findings import Rule

AFTER_RULES_125: tuple[Rule, ...] = ()
