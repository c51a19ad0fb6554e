"""A NUL character in an admin parameter is a 400 naming the parameter, never a database
error: PostgreSQL cannot store or compare one in text (found by the admin API's fuzzing)."""

from __future__ import annotations

from ondc_adapter.storage import Database

from .helpers import admin_client

KEY = {"X-API-Key": "secret-key"}


async def test_nul_in_a_query_or_path_parameter_is_a_400(pg_db: Database) -> None:
    async with admin_client(pg_db) as client:
        query = await client.get("/admin/catalogue/rejections", params={"provider": "P\x001"},
                                 headers=KEY)
        assert query.status_code == 400
        assert "query parameter 'provider'" in query.json()["detail"]
        path = await client.get("/admin/items/I%001", headers=KEY)
        assert path.status_code == 400
        assert "path parameter 'item_id'" in path.json()["detail"]
        # without the key the answer is still the 401, whatever the parameters
        assert (await client.get("/admin/items/I%001")).status_code == 401
        # and a plain parameter is untouched
        assert (await client.get("/admin/catalogue/rejections", params={"provider": "P1"},
                                 headers=KEY)).status_code == 200
