"""The seller console's records: accounts, sessions and login attempts.

* ``console_users``          one row per person: a seller of one store (``provider_id``) or an
                             operator of the whole node (``operator``); an argon2id hash, never
                             the password.
* ``console_sessions``       server-side sessions. The cookie holds a random token; the table
                             holds its SHA-256, so a copy of the database opens no session.
* ``console_login_attempts`` failed and successful logins, by account and by address: the login
                             rate limit counts them, across every worker that shares the database.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ondc_adapter.storage.base import Base, UTCDateTime


class ConsoleUser(Base):
    __tablename__ = "console_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    password_hash: Mapped[str] = mapped_column(Text, nullable=False)
    # the store this seller runs; None for an operator (every store)
    provider_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    operator: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class ConsoleSession(Base):
    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("console_users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class ConsoleLoginAttempt(Base):
    __tablename__ = "console_login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    username: Mapped[str] = mapped_column(String(64), nullable=False)
    address: Mapped[str] = mapped_column(String(64), nullable=False)
    ok: Mapped[bool] = mapped_column(Boolean, nullable=False)

    __table_args__ = (
        Index("ix_console_login_attempts_username_at", "username", "at"),
        Index("ix_console_login_attempts_address_at", "address", "at"),
    )
