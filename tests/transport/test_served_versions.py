"""The retail versions a node serves (``ONDC_CORE_VERSIONS``, issue 16): a request in any
other is NACKed at the edge with a message naming the served ones; nothing is recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select
from transport_doubles import request_body

from ondc_adapter.inbox import InboxEntry
from ondc_adapter.protocol.context import Context, check_context
from ondc_adapter.settings import Settings


def headers(auth: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "Authorization": auth}


def version_nack(response: httpx.Response) -> dict:
    assert response.status_code == 400, response.text
    data = response.json()
    assert data["message"]["ack"]["status"] == "NACK", data
    return data["error"]


async def test_a_version_not_served_is_nacked_naming_the_served_ones(
    start_node, buyer, bap, client, pg_db
) -> None:
    def body(version: str) -> bytes:
        return request_body(
            "search", bap=bap, bap_uri=buyer[1], context={"core_version": version}
        )

    async with start_node() as (url, app):
        # the default serves 1.2.0 alone until the 1.2.5 bodies exist
        assert app.state.settings.core_versions == ("1.2.0",)
        b = body("1.2.5")
        error = version_nack(await client.post(f"{url}/search", content=b, headers=headers(
            bap.sign(b))))
        ok = body("1.2.0")
        accepted = await client.post(f"{url}/search", content=ok, headers=headers(bap.sign(ok)))
    assert error == {
        "type": "CONTEXT-ERROR",
        "code": "30000",
        "path": "context.core_version",
        "message": "core_version '1.2.5' is not served here; this node serves 1.2.0",
    }
    assert accepted.status_code == 200, accepted.text
    async with pg_db.session() as s:  # only the 1.2.0 search was recorded
        assert (await s.execute(select(func.count()).select_from(InboxEntry))).scalar_one() == 1

    async with start_node(core_versions="1.2.0,1.2.5") as (url, _):
        b = body("1.2.5")
        served = await client.post(f"{url}/search", content=b, headers=headers(bap.sign(b)))
        b = body("1.1.0")
        error = version_nack(await client.post(f"{url}/search", content=b, headers=headers(
            bap.sign(b))))
    assert served.status_code == 200, served.text
    assert error["message"] == (
        "core_version '1.1.0' is not served here; this node serves 1.2.0, 1.2.5"
    )
    assert (error["path"], error["code"]) == ("context.core_version", "30000")


def _context(action: str, version: str) -> Context:
    now = datetime.now(UTC)
    return Context.model_validate({
        "domain": "ONDC:RET16", "country": "IND", "city": "std:080", "action": action,
        "core_version": version, "bap_id": "buyer.test", "bap_uri": "https://buyer.test/",
        "bpp_id": "seller.test", "bpp_uri": "https://seller.test",
        "transaction_id": "t1", "message_id": "m1",
        "timestamp": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    })


@pytest.mark.parametrize(
    ("action", "version", "served", "message"),
    [
        ("select", "1.2.5", ("1.2.0",), "this node serves 1.2.0"),
        ("select", "2.0.0", ("1.2.0", "1.2.5"), "this node serves 1.2.0, 1.2.5"),
        # IGM takes its own version besides the served retail ones
        ("issue", "1.1.0", ("1.2.0",), "this node serves 1.2.0, 2.0.0"),
        ("issue", "2.0.0", ("1.2.0",), None),
        ("issue", "1.2.5", ("1.2.0", "1.2.5"), None),
        ("select", "1.2.5", ("1.2.5",), None),
    ],
)
def test_check_context_takes_the_served_versions(
    action: str, version: str, served: tuple[str, ...], message: str | None
) -> None:
    error = check_context(
        _context(action, version), action=action, bpp_id="seller.test",
        domains=["ONDC:RET16"], core_versions=served, now=datetime.now(UTC),
        timestamp_skew=timedelta(seconds=10), bpp_uri="https://seller.test",
        max_ttl=timedelta(seconds=300),
    )
    if message is None:
        assert error is None
    else:
        assert error is not None and error.path == "context.core_version"
        assert error.message == f"core_version {version!r} is not served here; {message}"


def test_served_versions_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).core_versions == ("1.2.0",)
    monkeypatch.setenv("ONDC_CORE_VERSIONS", " 1.2.5 ,1.2.0,1.2.5")
    assert Settings(_env_file=None).core_versions == ("1.2.5", "1.2.0")
    for bad, says in (("1.2.0,1.3.0", "unknown retail version '1.3.0'; known: 1.2.0, 1.2.5"),
                      (" , ", "name at least one of 1.2.0, 1.2.5")):
        monkeypatch.setenv("ONDC_CORE_VERSIONS", bad)
        with pytest.raises(ValueError, match=says):
            Settings(_env_file=None)
