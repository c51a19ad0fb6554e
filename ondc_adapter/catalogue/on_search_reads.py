"""What ``on_search`` reads from the database: item rows with their texts, provider headers.

Rows are streamed with Core selects on the session's connection (no ORM objects, no ORM
loading), in the order of an index (provider, domain, id), a batch at a time. With the
process's ``OnSearchCache``, items whose text is held under the key read with them are not
read again, nor are the stores and variant groups of unchanged providers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, String, any_, bindparam, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.catalogue.item_text import ITEM_COLUMNS, KEY_COLUMNS, item_text, row_key
from ondc_adapter.catalogue.json_text import Timestamps
from ondc_adapter.catalogue.on_search_cache import OnSearchCache, ProviderKey
from ondc_adapter.catalogue.provider_header import ProviderHeader
from ondc_adapter.catalogue.tables import Item, Location, Provider, VariantGroup

_Entity = TypeVar("_Entity", Provider, Location, VariantGroup)


async def provider_headers(
    session: AsyncSession, provider_ids: Sequence[str], cache: OnSearchCache | None = None,
    *, known: Mapping[str, ProviderKey] | None = None,
) -> dict[str, ProviderHeader]:
    """Providers with their locations and variant groups; parts held in ``cache`` under the
    provider's current ``ProviderKey`` (updated_at, enabled, deleted_at) are not read again.
    ``known``: the ``ProviderKey`` of providers just read in this transaction
    (``on_search_ids``): one held under that key is not read at all, its record included."""
    out: dict[str, ProviderHeader] = {}
    if cache is not None and known:
        for pid in provider_ids:
            held = cache.parts.get(pid)
            if held is not None and pid in known and held[0] == known[pid]:
                out[pid] = ProviderHeader(held[1], list(held[2]), dict(held[3]))
        if len(out) == len(provider_ids):
            return out
        provider_ids = [pid for pid in provider_ids if pid not in out]
    pg = await is_postgres(session)
    for start in range(0, len(provider_ids), 500):
        chunk = list(provider_ids[start:start + 500])
        providers = (
            await session.scalars(select(Provider).where(among(Provider.id, chunk, pg)))
        ).all()
        unread: list[str] = []
        for p in providers:
            held = cache.parts.get(p.id) if cache is not None else None
            if held is not None and held[0] == provider_key(p):
                out[p.id] = ProviderHeader(p, list(held[2]), dict(held[3]))
            else:
                out[p.id] = ProviderHeader(p, [], {})
                unread.append(p.id)
        if not unread:
            continue
        for loc in (
            await session.scalars(
                select(Location).where(among(Location.provider_id, unread, pg))
                .order_by(Location.id)
            )
        ).all():
            out[loc.provider_id].locations.append(loc)
        for group in (
            await session.scalars(
                select(VariantGroup).where(among(VariantGroup.provider_id, unread, pg))
            )
        ).all():
            out[group.provider_id].groups[group.id] = group
        if cache is not None:
            for pid in unread:
                header = out[pid]
                # copies, in no session: the session's own objects are expired by a rollback
                # of its transaction (a failed processor batch), and could not be read again
                header = out[pid] = ProviderHeader(
                    snapshot(header.provider), [snapshot(loc) for loc in header.locations],
                    {gid: snapshot(g) for gid, g in header.groups.items()},
                )
                cache.parts[pid] = (provider_key(header.provider), header.provider,
                                    tuple(header.locations), dict(header.groups))
    return out


def snapshot(entity: _Entity) -> _Entity:
    """A transient copy of a loaded ORM entity's columns: attached to no session, so nothing
    expires it (values shared, as read: the cache only ever reads them)."""
    columns = sa_inspect(type(entity)).column_attrs
    return type(entity)(**{c.key: getattr(entity, c.key) for c in columns})


def provider_key(provider: Provider) -> ProviderKey:
    """What a provider's cached header parts are held under (``OnSearchCache.parts``)."""
    return provider.updated_at, provider.enabled, provider.deleted_at


async def stream_batches(
    session: AsyncSession, stmt: Select[Any], batch: int = 2000, *, few: bool = False
) -> AsyncIterator[Sequence[Any]]:
    """Rows of a Core ``stmt``, ``batch`` at a time, through a server-side cursor (``few``:
    a short result, fetched at once; a cursor costs two more round trips). Executed on the
    session's connection (same transaction), not through the ORM: ORM execution of a column
    select still runs its per-row loading machinery (~40% of the read)."""
    connection = await session.connection()
    if few:
        rows = (await connection.execute(stmt)).all()
        for start in range(0, len(rows), batch):
            yield rows[start:start + batch]
        return
    result = await connection.stream(stmt.execution_options(yield_per=batch))
    # one greenlet switch per batch, not per row
    async for partition in result.partitions(batch):
        yield partition


async def stream_items(
    session: AsyncSession, stmt: Select[Any], batch: int = 2000
) -> AsyncIterator[Any]:
    """Rows of a Core ``stmt`` one by one (``stream_batches``)."""
    async for partition in stream_batches(session, stmt, batch):
        for row in partition:
            yield row


def among(column: Any, values: Sequence[str], postgres: bool) -> Any:
    """``column IN values``. On PostgreSQL as ``column = ANY(:values)``, one array parameter:
    SQLAlchemy renders an IN list into one cast bound parameter per value on every execution,
    about 2 ms for the few hundred ids of a name search."""
    if postgres:
        return column == any_(bindparam(None, list(values), type_=ARRAY(String)))
    return column.in_(list(values))


async def is_postgres(session: AsyncSession) -> bool:
    return (await session.connection()).dialect.name == "postgresql"


async def item_rows(
    session: AsyncSession,
    conditions: Sequence[Any],
    *,
    accept: Callable[[Any], bool],
    ts: Timestamps | None = None,
    cache: OnSearchCache | None = None,
    domain: str | None = None,
    whole_domain: bool = False,
    ids: Sequence[str] | None = None,
) -> AsyncIterator[list[tuple[Any, str]]]:
    """``(row, item_text)`` of the items matching ``conditions`` in (provider, domain, id)
    order, a batch at a time; ``row[0:4]`` is (id, provider_id, domain, parent_item_id) and
    ``accept(row)`` False skips a row before any text is made.

    With ``cache`` (``on_search_cache.OnSearchCache``) warm for ``domain``, only ``KEY_COLUMNS`` are
    streamed and the whole rows of the items not held are fetched per batch; otherwise whole
    rows are streamed and their texts kept in it. ``whole_domain``: these conditions cover the
    domain's catalogue as a full search reads it (not a handful of ids), so reading them warms
    the domain. ``ids``: the item ids the conditions select, when a short list (a name
    search): the key columns are read first when most of them are held, warm domain or not."""
    ts = ts if ts is not None else Timestamps()
    order = (Item.provider_id, Item.domain, Item.id)
    pg = await is_postgres(session)
    narrow = cache is not None and (cache.is_warm(domain) or (
        ids is not None and 2 * sum(i in cache.entries for i in ids) >= len(ids)
    ))
    if cache is None or not narrow:
        stmt = select(*ITEM_COLUMNS).where(*conditions).order_by(*order)
        async for batch in stream_batches(session, stmt, few=ids is not None):
            out = [(row, item_text(row, ts)) for row in batch if accept(row)]
            if cache is not None:
                for row, text in out:
                    cache.put(row[0], row_key(row), text)
            yield out
        if cache is not None and domain is not None and whole_domain:
            cache.mark_warm(domain)
        return
    connection = await session.connection()
    entries = cache.entries  # read directly: this loop runs once per item of the catalogue
    stmt = select(*KEY_COLUMNS).where(*conditions).order_by(*order)
    async for batch in stream_batches(session, stmt, few=ids is not None):
        found: dict[str, str] = {}
        missing: list[str] = []
        for row in batch:
            if accept(row):
                entry = entries.get(row[0])
                if entry is not None and entry[0] == (row[4], row[5], row[6]):
                    found[row[0]] = entry[1]
                else:
                    missing.append(row[0])
        cache.count(hits=len(found), misses=len(missing))
        if missing:
            # the same conditions: a row changed since the key read is judged as it is now
            fetch = select(*ITEM_COLUMNS).where(among(Item.id, missing, pg), *conditions)
            for row in (await connection.execute(fetch)).all():
                text = found[row[0]] = item_text(row, ts)
                cache.put(row[0], row_key(row), text)
        # None: skipped, or gone since the key read
        yield [(row, found[row[0]]) for row in batch if row[0] in found]
