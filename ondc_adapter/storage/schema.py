"""Imports every table module so ``Base.metadata`` is complete (for migrations and checks)."""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

from ondc_adapter.storage.base import Base

# One entry per module that defines tables; add yours here.
TABLE_MODULES = (
    "ondc_adapter.outbox",
    "ondc_adapter.catalogue.tables",
    "ondc_adapter.inbox",
    "ondc_adapter.orders.tables",
    "ondc_adapter.console.tables",
    "ondc_adapter.catalogue.rejections",
    "ondc_adapter.igm.tables",
    "ondc_adapter.catalogue.offer_tables",
)


def all_tables() -> MetaData:
    for name in TABLE_MODULES:
        importlib.import_module(name)
    return Base.metadata
