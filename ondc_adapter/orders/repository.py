"""Database access for orders: look-ups (optionally row-locked), the idempotent claim of an
order row, drafts and the transition journal. Everything runs in the caller's transaction.

The checkout's statements (drafts, the order claim, its first journal entries) are Core
statements on the tables, built once per dialect and executed with parameters: an ORM insert
built per request (``insert(Entity).values(**values)``) cost more CPU in SQLAlchemy than the
round trip itself, and an ORM entity is loaded only where a caller wants one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, Select, bindparam, delete, insert, select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.orders.tables import OrderDraft, OrderRecord, OrderTransition

_orders = OrderRecord.__table__
_drafts = OrderDraft.__table__
_transitions = OrderTransition.__table__
_INSERTS: dict[str, Callable[..., Any]] = {"postgresql": postgresql.insert}


def _dialect_insert(session: AsyncSession) -> Callable[..., Any]:
    """``INSERT`` with ``ON CONFLICT`` of the session's database (PostgreSQL or SQLite)."""
    return _INSERTS.get(session.get_bind().dialect.name, sqlite.insert)


async def find_by_transaction(
    session: AsyncSession, transaction_id: str, *, lock: bool = False
) -> OrderRecord | None:
    stmt = select(OrderRecord).where(OrderRecord.transaction_id == transaction_id)
    if lock:
        # serialises concurrent changes to one order on PostgreSQL; SQLite locks the database
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def find_by_order_id(
    session: AsyncSession, order_id: str, *, bap_id: str | None = None, lock: bool = False
) -> OrderRecord | None:
    stmt = select(OrderRecord).where(OrderRecord.order_id == order_id)
    if bap_id is not None:
        stmt = stmt.where(OrderRecord.bap_id == bap_id)
    stmt = stmt.order_by(OrderRecord.id.desc())
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def find_for_request(
    session: AsyncSession, *, transaction_id: str, order_id: str | None, lock: bool = False
) -> OrderRecord | None:
    """The order a post-confirm request (status, cancel, ...) refers to: same transaction and,
    when the request names one, the same order id."""
    record = await find_by_transaction(session, transaction_id, lock=lock)
    if record is None or (order_id is not None and record.order_id != order_id):
        return None
    return record


# journal columns a confirm gives (``order_pk`` comes from the claimed row)
_JOURNAL_COLUMNS = (
    "entity", "fulfillment_id", "from_state", "to_state", "actor", "reason", "reason_code",
    "message_id", "at",
)
_claims: dict[tuple[str, int], Any] = {}


def _claim_statement(session: AsyncSession, entries: int) -> Any:
    """The claim; on PostgreSQL with ``entries`` journal entries written by the same statement
    (data-modifying CTEs: one round trip where the claim and the journal took two)."""
    dialect = session.get_bind().dialect.name
    key = (dialect, entries if dialect == "postgresql" else 0)
    stmt = _claims.get(key)
    if stmt is not None:
        return stmt
    if key[1] == 0:
        stmt = (
            _dialect_insert(session)(_orders)
            .on_conflict_do_nothing(index_elements=["transaction_id"])
            .returning(*_orders.c)
        )
    else:
        claimed = (
            postgresql.insert(_orders)
            .values({c.key: bindparam(f"o_{c.key}", type_=c.type) for c in _orders.c
                     if c.key != "id"})
            .on_conflict_do_nothing(index_elements=["transaction_id"])
            .returning(*_orders.c)
            .cte("claimed")
        )
        rows = [
            select(
                claimed.c.id,
                *(bindparam(f"j{n}_{name}", type_=_transitions.c[name].type)
                  for name in _JOURNAL_COLUMNS),
            )
            for n in range(entries)
        ]
        # nothing claimed (a concurrent confirm won): no rows, no journal; the entries go in
        # the order given (PostgreSQL appends UNION ALL branches in order), so ids follow it
        journal = (
            insert(_transitions)
            .from_select(["order_pk", *_JOURNAL_COLUMNS], union_all(*rows) if entries > 1
                         else rows[0])
            .cte("journal")
        )
        stmt = select(*claimed.c).add_cte(journal)
    _claims[key] = stmt
    return stmt


async def claim_order(
    session: AsyncSession, values: dict[str, Any], journal: Sequence[dict[str, Any]] = ()
) -> OrderRecord | None:
    """Insert the order row unless the transaction already has one, and its first journal
    entries (``transition(None, ...)`` each; ``order_pk`` is the new row's); the new order as
    stored (a transient ``OrderRecord``, not in the session), or ``None`` when another confirm
    got there first (then the caller answers with that order, and nothing was written).

    ``ON CONFLICT DO NOTHING`` instead of catching IntegrityError keeps the surrounding
    transaction usable on PostgreSQL, and waits for a concurrent insert of the same key.
    ``RETURNING`` every column gives the row as the database keeps it (JSONB orders keys and
    normalises numbers: what a later on_status sends) without reading it back. Removing the
    order (out of stock at confirm) removes its journal with it (ON DELETE CASCADE)."""
    stmt = _claim_statement(session, len(journal))
    if isinstance(stmt, Select):
        params = {f"o_{k}": v for k, v in values.items()}
        for n, entry in enumerate(journal):
            params.update({f"j{n}_{name}": entry[name] for name in _JOURNAL_COLUMNS})
        row = (await session.execute(stmt, params)).first()
        return None if row is None else OrderRecord(**row._asdict())
    row = (await session.execute(stmt, values)).first()
    if row is None:
        return None
    if journal:
        await record_transitions(session, [{**e, "order_pk": row.id} for e in journal])
    return OrderRecord(**row._asdict())


@dataclass(frozen=True, slots=True)
class Draft:
    """The on_select / on_init answer kept for a transaction (``OrderDraft``'s payload)."""

    provider_id: str
    order: dict[str, Any]  # the order object we answered with
    lines: list[dict[str, Any]]  # pricing lines (``OrderRecord.lines``' shape)
    fulfillment: dict[str, Any]  # our delivery promise
    core_version: str  # the transaction's retail version


# init's draft and, in the same round trip, the id of the transaction's order if there is one
_CONFIRM_READ = select(
    _drafts.c.provider_id,
    _drafts.c.order,
    _drafts.c.lines,
    _drafts.c.fulfillment,
    _drafts.c.core_version,
    select(_orders.c.id)
    .where(_orders.c.transaction_id == bindparam("transaction_id"))
    .scalar_subquery()
    .label("order_pk"),
).where(_drafts.c.transaction_id == bindparam("transaction_id"), _drafts.c.stage == "init")


async def init_draft(session: AsyncSession, transaction_id: str) -> tuple[Draft | None, bool]:
    """For confirm: the transaction's on_init draft, and whether the transaction has an order
    already (``find_by_transaction`` loads it, on the rare repeated confirm)."""
    row = (await session.execute(_CONFIRM_READ, {"transaction_id": transaction_id})).first()
    if row is None:
        # no draft; an order without one is possible only if drafts were removed since
        return None, await find_by_transaction(session, transaction_id) is not None
    draft = Draft(row.provider_id, row.order, row.lines, row.fulfillment, row.core_version)
    return draft, row.order_pk is not None


# what a second answer at the same stage replaces (never core_version: a transaction keeps
# the version it started in)
_DRAFT_VALUES = ("message_id", "bap_id", "provider_id", "order", "lines", "fulfillment",
                 "created_at")
_prior = _drafts.alias("prior")
# the order of the transaction's answer at stage :prior_stage, as it was before this statement
_PRIOR_ORDER = (
    select(_prior.c.order)
    .where(
        _prior.c.transaction_id == bindparam("prior_transaction_id"),
        _prior.c.stage == bindparam("prior_stage"),
    )
    .scalar_subquery()
)
_other = _drafts.alias("other")
# the version of the transaction's draft at the other stage (select <-> init), if any: the
# version the transaction started in when that stage came first
_OTHER_VERSION = (
    select(_other.c.core_version)
    .where(
        _other.c.transaction_id == bindparam("other_transaction_id"),
        _other.c.stage != bindparam("other_stage"),
    )
    .limit(1)
    .scalar_subquery()
)
_draft_upserts: dict[tuple[str, bool], Insert] = {}


def _draft_upsert(session: AsyncSession, returning_prior: bool) -> Insert:
    """The draft's upsert. A row of the same stage in another version is left alone (no row
    comes back); the other stage's version comes back with the new row, so the transaction's
    version is checked in the same round trip as the write."""
    dialect = session.get_bind().dialect.name
    stmt = _draft_upserts.get((dialect, returning_prior))
    if stmt is None:
        base = _dialect_insert(session)(_drafts)
        stmt = base.on_conflict_do_update(
            index_elements=["transaction_id", "stage"],
            set_={name: base.excluded[name] for name in _DRAFT_VALUES},
            where=_drafts.c.core_version == base.excluded.core_version,
        )
        returned = [_OTHER_VERSION.label("other_version")]
        if returning_prior:
            returned.append(_PRIOR_ORDER.label("prior_order"))
        stmt = stmt.returning(*returned)
        _draft_upserts[(dialect, returning_prior)] = stmt
    return stmt


@dataclass(frozen=True, slots=True)
class SavedDraft:
    """What ``save_draft`` found: the transaction's retail version (the request's own when
    the draft was saved; another one when nothing was written), and the prior stage's order
    when asked for."""

    core_version: str
    prior_order: dict[str, Any] | None = None


async def save_draft(
    session: AsyncSession,
    *,
    transaction_id: str,
    stage: str,
    message_id: str,
    bap_id: str,
    provider_id: str,
    order: dict[str, Any],
    lines: list[dict[str, Any]],
    fulfillment: dict[str, Any],
    core_version: str,
    now: datetime,
    prior_stage: str | None = None,
) -> SavedDraft:
    """Keep the latest answer per (transaction, stage): a second select replaces the first,
    unless it is in another retail version than the transaction's (then nothing changes and
    the answer names the transaction's version; the caller refuses the request).

    ``prior_stage``: also return the order of that stage's answer (init compares its quote
    with on_select's), read in the same round trip; ``None`` when there is none."""
    params: dict[str, Any] = {
        "transaction_id": transaction_id,
        "stage": stage,
        "message_id": message_id,
        "bap_id": bap_id,
        "provider_id": provider_id,
        "order": order,
        "lines": lines,
        "fulfillment": fulfillment,
        "created_at": now,
        "core_version": core_version,
        "other_transaction_id": transaction_id,
        "other_stage": stage,
    }
    if prior_stage is not None:
        params["prior_transaction_id"] = transaction_id
        params["prior_stage"] = prior_stage
    row = (await session.execute(_draft_upsert(session, prior_stage is not None), params)).first()
    if row is None:
        # this stage's row is in another version: the refusal path alone reads it back
        kept = await session.scalar(
            select(_drafts.c.core_version).where(
                _drafts.c.transaction_id == transaction_id, _drafts.c.stage == stage
            )
        )
        return SavedDraft(str(kept))
    if row.other_version is not None and row.other_version != core_version:
        # the other stage came first, in another version: take back the row just inserted
        # (had this stage's row existed, it would be in that version too, and not updated)
        await session.execute(
            delete(_drafts).where(
                _drafts.c.transaction_id == transaction_id, _drafts.c.stage == stage
            )
        )
        return SavedDraft(row.other_version)
    prior: dict[str, Any] | None = row.prior_order if prior_stage is not None else None
    return SavedDraft(core_version, prior)


_INSERT_TRANSITIONS = insert(_transitions)


async def record_transitions(session: AsyncSession, entries: list[dict[str, Any]]) -> None:
    """Append journal entries now, in one statement (``journal`` adds ORM objects that the
    next flush writes). Each entry gives every column but ``id``, in the journal's order."""
    await session.execute(_INSERT_TRANSITIONS, entries)


def transition(
    order_pk: int | None,
    *,
    entity: str,
    to_state: str,
    from_state: str | None,
    actor: str,
    at: datetime,
    fulfillment_id: str | None = None,
    reason: str | None = None,
    reason_code: str | None = None,
    message_id: str | None = None,
) -> dict[str, Any]:
    """One ``record_transitions`` entry (``order_pk`` None: one for ``claim_order``)."""
    return {
        "order_pk": order_pk,
        "entity": entity,
        "fulfillment_id": fulfillment_id,
        "from_state": from_state,
        "to_state": to_state,
        "actor": actor,
        "reason": reason,
        "reason_code": reason_code,
        "message_id": message_id,
        "at": at,
    }


def journal(
    session: AsyncSession,
    record: OrderRecord,
    *,
    entity: str,
    to_state: str,
    from_state: str | None,
    actor: str,
    at: datetime,
    fulfillment_id: str | None = None,
    reason: str | None = None,
    reason_code: str | None = None,
    message_id: str | None = None,
) -> None:
    session.add(
        OrderTransition(
            **transition(
                record.id,
                entity=entity,
                to_state=to_state,
                from_state=from_state,
                actor=actor,
                at=at,
                fulfillment_id=fulfillment_id,
                reason=reason,
                reason_code=reason_code,
                message_id=message_id,
            )
        )
    )


async def transitions(session: AsyncSession, order_pk: int) -> list[OrderTransition]:
    stmt = (
        select(OrderTransition)
        .where(OrderTransition.order_pk == order_pk)
        .order_by(OrderTransition.id)
    )
    return list((await session.scalars(stmt)).all())


async def list_orders(
    session: AsyncSession, *, state: str | None = None, limit: int = 50, offset: int = 0
) -> list[OrderRecord]:
    stmt = select(OrderRecord).order_by(OrderRecord.updated_at.desc(), OrderRecord.id.desc())
    if state:
        stmt = stmt.where(OrderRecord.state == state)
    return list((await session.scalars(stmt.limit(limit).offset(offset))).all())
