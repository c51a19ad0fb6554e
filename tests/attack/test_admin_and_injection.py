"""The admin API under schema-driven fuzzing (schemathesis, from the app's own OpenAPI), and
hostile text (SQL, HTML, control characters, very long strings) in every stored text field:
stored byte-exact, returned JSON-escaped as application/json, tables intact."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import schemathesis
from attack_node import ADMIN_KEY, AttackNode, attack_settings, record
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from ondc_adapter.api.app import create_app

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from catalogue.helpers import provider, ret16_item

# The schema of the app as served (paths, bodies, the X-API-Key scheme), without starting it.
SCHEMA = schemathesis.openapi.from_dict(
    create_app(attack_settings(Path("unused"), "sqlite+aiosqlite://")).openapi()
)

HOSTILE = [
    "'; DROP TABLE orders;--",
    "Robert'); DELETE FROM catalogue_items WHERE ('1'='1",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "\u202eevil\u200b\u0007\u001b[31m",  # bidi override, zero width, BEL, ANSI escape
    "नमस्ते 🙏 \\u0000 %s %n {{7*7}} ${jndi:ldap://x}",
    "x" * 5000,
]


@SCHEMA.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck),
          database=None)
def test_admin_api_never_fails_and_refusals_change_nothing(
    case: Any, node: AttackNode
) -> None:
    before = node.fingerprint()
    response = case.call(base_url=node.url, headers={"X-API-Key": ADMIN_KEY})
    record(f"http {response.status_code}")
    case.validate_response(response, checks=[not_a_server_error])
    assert response.status_code < 500, (case.method, case.path, response.text)
    if response.status_code >= 400:
        assert node.fingerprint() == before, (case.method, case.formatted_path, response.text)


def test_admin_api_without_the_key_is_401_for_every_route(
    node: AttackNode, http: httpx.Client
) -> None:
    before = node.fingerprint()
    for key in (None, "wrong", "cl\xe9", "x" * 4000):
        headers = {} if key is None else {"X-API-Key": key.encode("latin-1")}
        for method, path in (("GET", "/admin/orders"), ("POST", "/admin/providers"),
                             ("DELETE", "/admin/items/I1"), ("GET", "/admin/items/I1")):
            response = http.request(method, node.url + path, headers=headers, json={})
            record()
            assert response.status_code == 401, (key, path, response.text)
    assert node.fingerprint() == before


def assert_json(response: httpx.Response) -> Any:
    # JSON does not escape "<": what keeps markup inert is that it is served as JSON only.
    assert response.headers["content-type"] == "application/json", response.headers
    return response.json()


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_text_in_provider_and_item_names(
    node: AttackNode, http: httpx.Client, text: str
) -> None:
    tables = node.tables()
    record()
    pid, iid = f"PX{HOSTILE.index(text)}", f"IX{HOSTILE.index(text)}"
    admin = {"X-API-Key": ADMIN_KEY}
    body = provider(pid, name=text[:200], short_desc=text, long_desc=text)
    body.pop("type", None)
    created = http.post(f"{node.url}/admin/providers", json=body, headers=admin)
    if created.status_code == 422:  # an ONDC rule refused it: nothing may have been written
        assert node.sql("SELECT count(*) FROM catalogue_providers WHERE id = :i", i=pid)[0][0] == 0
        return
    assert created.status_code == 201, created.text
    assert assert_json(created)["name"] == text[:200]
    item = ret16_item(iid, provider_id=pid, name=text[:200], short_desc=text, long_desc=text)
    item.pop("type", None)
    made = http.post(f"{node.url}/admin/items", json=item, headers=admin)
    assert made.status_code in (201, 422), made.text
    if made.status_code == 201:
        shown = http.get(f"{node.url}/admin/items/{iid}", headers=admin)
        assert assert_json(shown)["name"] == text[:200]
        # JSON-escaped on the wire: the raw bytes are the JSON encoding of the exact string
        assert orjson.dumps(text[:200])[1:-1] in shown.content or "\\u" in shown.text
        stored = node.sql("SELECT name, long_desc FROM catalogue_items WHERE id = :i", i=iid)
        assert stored == [(text[:200], text)]
    stored_p = node.sql("SELECT name FROM catalogue_providers WHERE id = :i", i=pid)
    assert stored_p == [(text[:200],)]
    assert node.tables() == tables  # nothing dropped


@pytest.mark.parametrize(
    "over",
    [{"name": "a\x00b"}, {"short_desc": "\x00"}, {"email": "a" * 300 + "@x.in"},
     {"locations": [{**provider()["locations"][0], "street": "s" * 201}]}],
    ids=["nul-name", "nul-desc", "email-too-long", "street-too-long"],
)
def test_values_the_database_cannot_hold_are_422_not_errors(
    node: AttackNode, http: httpx.Client, over: dict[str, Any]
) -> None:
    """Found by schemathesis: U+0000 (PostgreSQL text cannot hold it) and strings longer than
    their column reached the database and came back as the last-resort 503."""
    body = provider("PNUL", **over)
    body.pop("type", None)
    record()
    before = node.fingerprint()
    response = http.post(f"{node.url}/admin/providers", json=body,
                         headers={"X-API-Key": ADMIN_KEY})
    assert response.status_code == 422, response.text
    assert node.fingerprint() == before
