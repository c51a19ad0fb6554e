"""JSONB on PostgreSQL goes through orjson both ways (``storage.engine``): what is written is
what is read back, integers beyond 64 bits and non-ASCII text included (orjson refuses the
former, so they take ``json``)."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import JSONB

from ondc_adapter.storage import Database

ROUND_TRIP = text("SELECT CAST(:v AS jsonb) AS j").bindparams(bindparam("v", type_=JSONB))


@pytest.mark.parametrize(
    "value",
    [
        {"a": [1, 2.5, None, True], "b": {"c": "ಚನ್ನಪಟ್ಟಣ ಆಟಿಕೆ"}},
        {"big": 2**70 + 1, "neg": -(2**65) - 3, "long": "12345678901234567890"},
        [],
        "text",
        1.1,
    ],
)
async def test_jsonb_round_trips(pg_database_url: str, value: object) -> None:
    db = Database(pg_database_url, pool_size=1)
    try:
        async with db.session() as s:
            got = (await s.execute(ROUND_TRIP.columns(j=JSONB), {"v": value})).scalar_one()
        assert got == value
        assert repr(got) == repr(value)  # same types throughout: no int read as a float
    finally:
        await db.dispose()
