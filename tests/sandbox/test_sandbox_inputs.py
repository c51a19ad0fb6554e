"""Whatever arrives, the sandbox parties answer with a 4xx/NACK, never a 500; the site
verification page round-trips any request id."""

from __future__ import annotations

import json

from conftest import HostRouter, RegistryHarness
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ondc_adapter.keys import new_keys
from ondc_adapter.sandbox import paths
from ondc_adapter.sandbox.buyer import BuyerApp
from ondc_adapter.sandbox.gateway import create_gateway_app
from ondc_adapter.sandbox.lookup import RegistryLookup
from ondc_adapter.sandbox.onboarding import parse_site_verification, site_verification_html
from ondc_adapter.sandbox.transcript import recording_client
from ondc_adapter.signing import verify_message

KEYS = new_keys("node.example.test", "k1")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"context": json_values, "message": json_values}).map(
        lambda v: json.dumps(v).encode()
    ),
)
headers = st.one_of(
    st.just({}),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=120).map(
        lambda t: {"Authorization": t}
    ),
    st.just(
        {
            "Authorization": 'Signature keyId="a|b|ed25519",algorithm="ed25519",'
            'created="1",expires="2",signature="AAAA"'
        }
    ),
)


@given(request_id=st.text(min_size=1, max_size=80))
def test_site_verification_roundtrip(request_id: str) -> None:
    signed = parse_site_verification(site_verification_html(KEYS, request_id))
    assert signed is not None
    assert verify_message(KEYS.signing_public_key, request_id, signed)


@given(text=st.text(max_size=300))
def test_parse_site_verification_never_raises(text: str) -> None:
    assert parse_site_verification(text) is None or isinstance(parse_site_verification(text), str)


@given(obj=json_values, path=st.text(max_size=30))
def test_paths_get_never_raises_with_default(obj, path: str) -> None:
    try:
        paths.split(path)
    except paths.PathError:
        return
    paths.get(obj, path, None)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies, extra=headers)
async def test_no_party_answers_500(harness: RegistryHarness, body: bytes, extra) -> None:
    router: HostRouter = harness.router
    if "gw.test" not in router.apps:
        http = recording_client(harness.transcript, "x", inner=router)
        lookup = RegistryLookup("http://registry.test", http, version="v1")
        router.add(
            "gw.test",
            create_gateway_app(
                KEYS, lookup, http, request_id="r", registry_encryption_public_key="x"
            ),
        )
        buyer = BuyerApp(keys=KEYS, lookup=lookup, http=http, gateway_url="http://gw.test")
        router.add("buyer.test", buyer.app(request_id="r", registry_encryption_public_key="x"))
    for url in (
        "http://registry.test/subscribe",
        "http://registry.test/lookup",
        "http://registry.test/v2.0/lookup",
        "http://registry.test/vlookup",
        "http://gw.test/search",
        "http://buyer.test/on_select",
        "http://buyer.test/on_subscribe",
    ):
        r = await harness.client.post(url, content=body, headers=extra)
        assert r.status_code < 500, (url, r.status_code, r.text)
