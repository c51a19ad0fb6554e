"""Database access: SQLAlchemy 2 async engine, sessions and alembic migrations."""

from ondc_adapter.storage.base import Base
from ondc_adapter.storage.engine import Database

__all__ = ["Base", "Database"]
