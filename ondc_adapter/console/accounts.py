"""Console accounts: password hashes, sign-in with a rate limit, server-side sessions.

Passwords are hashed with argon2id (memory-hard; argon2-cffi's defaults: 64 MiB, 3 passes) and
re-hashed on sign-in when those parameters change. A session is a random 256-bit token in an
HttpOnly cookie; the database keeps only its SHA-256 and the session's CSRF token. A new
session is made at every sign-in, so a token planted before sign-in (session fixation) is never
promoted.

Failed sign-ins are counted per account and per client address over ``WINDOW``; past
``MAX_FAILURES_PER_ACCOUNT`` or ``MAX_FAILURES_PER_ADDRESS`` the answer is "too many attempts"
whatever the password, until the window moves on. The counts live in the database, so every
worker sees the same ones.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.console.tables import ConsoleLoginAttempt, ConsoleSession, ConsoleUser

SESSION_LIFETIME = timedelta(hours=12)
WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20
MIN_PASSWORD_LENGTH = 10
USERNAME = re.compile(r"^[A-Za-z0-9._@-]{3,64}$")

_hasher = PasswordHasher()
# Verified against when the username is unknown, so a wrong username costs as long as a wrong
# password (no user enumeration by timing).
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A refused account change; the message is fit to show."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is signed in: what every console page is filtered by."""

    user_id: int
    username: str
    provider_id: str | None
    operator: bool
    language: str | None
    csrf_token: str

    def may_see(self, provider_id: str | None) -> bool:
        return self.operator or (provider_id is not None and provider_id == self.provider_id)


class SignInResult:
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 1024:
        raise AccountError("password is too long (at most 1024 characters)")


async def add_user(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    provider_id: str | None,
    operator: bool,
    now: datetime,
    language: str | None = None,
) -> ConsoleUser:
    """A new account: a seller of ``provider_id``, or an operator (``provider_id`` None)."""
    if not USERNAME.fullmatch(username):
        raise AccountError("username: 3-64 letters, digits or . _ @ -")
    if operator == (provider_id is not None):
        raise AccountError("an account is either an operator or the seller of one store")
    check_new_password(password)
    existing = await session.scalar(select(ConsoleUser.id).where(ConsoleUser.username == username))
    if existing is not None:
        raise AccountError(f"username {username!r} is taken")
    user = ConsoleUser(
        username=username,
        password_hash=_hasher.hash(password),
        provider_id=provider_id,
        operator=operator,
        language=language,
        disabled=False,
        created_at=now,
    )
    session.add(user)
    await session.flush()
    return user


async def set_password(
    session: AsyncSession, username: str, password: str
) -> None:
    check_new_password(password)
    user = await session.scalar(select(ConsoleUser).where(ConsoleUser.username == username))
    if user is None:
        raise AccountError(f"no account {username!r}")
    user.password_hash = _hasher.hash(password)
    # every open session of that account ends with the old password
    await session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user.id))


async def _failures(session: AsyncSession, column: object, value: str, since: datetime) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(ConsoleLoginAttempt)
            .where(column == value, ConsoleLoginAttempt.at >= since,  # type: ignore[operator]
                   ConsoleLoginAttempt.ok.is_(False))
        )
        or 0
    )


async def sign_in(
    session: AsyncSession, username: str, password: str, *, address: str, now: datetime
) -> tuple[str, ConsoleUser | None]:
    """(result, user). Every attempt is recorded; a locked account or address is refused
    before the password is even looked at."""
    username = username[:64]
    address = address[:64]
    since = now - WINDOW
    if (
        await _failures(session, ConsoleLoginAttempt.username, username, since)
        >= MAX_FAILURES_PER_ACCOUNT
        or await _failures(session, ConsoleLoginAttempt.address, address, since)
        >= MAX_FAILURES_PER_ADDRESS
    ):
        session.add(ConsoleLoginAttempt(at=now, username=username, address=address, ok=False))
        return SignInResult.LOCKED, None
    user = await session.scalar(select(ConsoleUser).where(ConsoleUser.username == username))
    ok = False
    try:
        ok = _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    ok = ok and user is not None and not user.disabled
    session.add(ConsoleLoginAttempt(at=now, username=username, address=address, ok=ok))
    if not ok or user is None:
        return SignInResult.WRONG, None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return SignInResult.OK, user


async def open_session(session: AsyncSession, user: ConsoleUser, *, now: datetime) -> str:
    """A fresh session for ``user``; returns the cookie token (shown once, stored hashed)."""
    token = secrets.token_urlsafe(32)
    session.add(
        ConsoleSession(
            token_hash=hash_token(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    # Old sessions past their end are swept here, not by a separate job.
    await session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
    return token


async def principal_for(session: AsyncSession, token: str, *, now: datetime) -> Principal | None:
    if not token or len(token) > 128:
        return None
    row = (
        await session.execute(
            select(ConsoleSession, ConsoleUser)
            .join(ConsoleUser, ConsoleUser.id == ConsoleSession.user_id)
            .where(ConsoleSession.token_hash == hash_token(token))
        )
    ).first()
    if row is None:
        return None
    stored, user = row
    if stored.expires_at <= now or user.disabled:
        return None
    return Principal(
        user_id=user.id,
        username=user.username,
        provider_id=user.provider_id,
        operator=user.operator,
        language=user.language,
        csrf_token=stored.csrf_token,
    )


async def close_session(session: AsyncSession, token: str) -> None:
    await session.execute(
        delete(ConsoleSession).where(ConsoleSession.token_hash == hash_token(token))
    )


async def set_language(session: AsyncSession, user_id: int, language: str) -> None:
    user = await session.get(ConsoleUser, user_id)
    if user is not None:
        user.language = language


def same_token(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(
        expected.encode("utf-8"), given.encode("utf-8", "surrogateescape")
    )
