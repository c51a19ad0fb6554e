"""A Core statement built once and run, on PostgreSQL, on the driver directly.

Why: a search that misses the reply cache runs a couple of small statements, and through
SQLAlchemy each one costs ~0.3-0.5 ms of CPU whatever it returns (building the expression,
its cache key, the compiled-statement lookup, the result's metadata), several times what
asyncpg itself spends. Here the statement is built once (module level), compiled once per
dialect, and on PostgreSQL its SQL text goes straight to asyncpg (which prepares it once per
connection); rows come back as asyncpg records (positional access and slices, as Core rows).
Elsewhere (SQLite, the embedded default) it is executed by SQLAlchemy, as before.

Only for statements whose result columns need no SQLAlchemy result processing: values must
be what the driver returns (no type decorators that change a value, no JSON decoding), so
both ways give the same rows.

The statement runs in the session's transaction: ``session.connection()`` begins it in
SQLAlchemy, and asyncpg's own transaction starts at SQLAlchemy's first statement; a
statement sent to the driver before any other ran would run in autocommit, which for a
read-only ``SELECT`` only means it sees what was committed before it, as the first
statement of the transaction would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Executable, String, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.storage.engine import driver_connection


def among_param(column: Any, name: str, postgres: bool) -> Any:
    """``column IN :name`` for a list given at execution: ``= ANY(:name)``, one array
    parameter, on PostgreSQL; an expanding ``IN`` elsewhere."""
    if postgres:
        return column == any_(bindparam(name, type_=ARRAY(String)))
    return column.in_(bindparam(name, expanding=True))


class DriverStatement:
    """A Core statement, ``build(postgres)`` (it may differ by dialect, see ``among_param``),
    with named bind parameters; ``fetch`` runs it."""

    def __init__(self, build: Callable[[bool], Executable]) -> None:
        self.build = build
        self._other: Executable | None = None
        self._pg: tuple[str, tuple[str, ...]] | None = None  # SQL text, parameter order

    def _compiled(self, dialect: Any) -> tuple[str, tuple[str, ...]]:
        if self._pg is None:
            compiled = self.build(True).compile(dialect=dialect)  # type: ignore[attr-defined]
            self._pg = (compiled.string, tuple(compiled.positiontup or ()))
        return self._pg

    async def fetch(
        self, session: AsyncSession, params: Mapping[str, Any] | None = None
    ) -> Sequence[Any]:
        """The rows (indexable, sliceable), in the session's transaction."""
        params = params or {}
        connection = await session.connection()
        if connection.dialect.name != "postgresql":
            if self._other is None:
                self._other = self.build(False)
            return (await connection.execute(self._other, dict(params))).all()
        sql, order = self._compiled(connection.dialect)
        driver = await driver_connection(connection)
        rows: Sequence[Any] = await driver.fetch(sql, *(params[name] for name in order))
        return rows
