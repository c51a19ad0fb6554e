"""The spreadsheet upload: a good sheet is imported and pushed; a sheet with one bad row
imports nothing and names every bad row, in the seller's language."""

from __future__ import annotations

import httpx
from console_kit import token
from sqlalchemy import select

from ondc_adapter.catalogue.tables import Item
from ondc_adapter.storage import Database

HEADER = ("id,location_id,domain,category_id,name,code,short_desc,long_desc,price,mrp,stock,"
          "consumer_care,attr_brand,attr_colour,attr_colour_name,attr_material\n")
GOOD = ("U1,L1,ONDC:RET16,Home Decor,Blue pottery plate,1:8901234567890,Plate,Hand painted,"
        "450,500,3,Asha care|care@a.in|9876543210,Jaipur Blue,#1D70B8,Blue,Ceramic\n")
BAD = ("U2,L1,ONDC:RET16,Home Decor,Vase,1:8901234567890,Vase,Hand painted,"
       "900,500,3,Asha care|care@a.in|9876543210,,#1D70B8,Blue,Ceramic\n")


def sheet(*rows: str) -> bytes:
    return (HEADER + "".join(rows)).replace("|", ",").replace(
        "Asha care,care@a.in,9876543210", '"Asha care,care@a.in,9876543210"').encode()


async def upload(client: httpx.AsyncClient, content: bytes) -> httpx.Response:
    csrf = token((await client.get("/console/items/upload")).text)
    return await client.post("/console/items/upload", data={"csrf_token": csrf},
                             files={"file": ("items.csv", content, "text/csv")})


async def items(db: Database) -> set[str]:
    async with db.session() as session:
        return set((await session.scalars(select(Item.id).where(Item.id.like("U%")))).all())


async def test_a_good_sheet_is_imported(asha: httpx.AsyncClient, pg_db: Database) -> None:
    response = await upload(asha, sheet(GOOD))
    assert response.status_code == 200, response.text[-3000:]
    assert "Imported 1 rows" in response.text
    assert await items(pg_db) == {"U1"}


async def test_one_bad_row_imports_nothing_and_is_named_in_hindi(
    asha: httpx.AsyncClient, pg_db: Database
) -> None:
    page = await asha.get("/console/items")
    await asha.post("/console/language", data={"csrf_token": token(page.text), "lang": "hi",
                                                "next": "/console/items/upload"})
    response = await upload(asha, sheet(GOOD, BAD))
    assert response.status_code == 422
    assert "पंक्ति 3" in response.text  # "Row 3" in Hindi: the bad row, by its line number
    assert "MRP" in response.text and "कुछ भी आयात नहीं हुआ" in response.text
    assert await items(pg_db) == set()


async def test_a_file_that_is_not_csv_is_refused(asha: httpx.AsyncClient,
                                                pg_db: Database) -> None:
    response = await upload(asha, b"\xff\xfe\x00garbage\x00\x01")
    assert response.status_code == 422
    assert await items(pg_db) == set()
