"""Registry onboarding endpoints through HTTP: on_subscribe and the site verification page."""

from __future__ import annotations

import re

import httpx

from ondc_adapter import encryption, keys
from ondc_adapter.signing import verify_message


async def test_on_subscribe_answers_the_registry_challenge(
    start_node, seller_keys_dir, client
) -> None:
    registry_private = encryption.generate_x25519()
    registry_public = encryption.public_key_to_b64(registry_private.public_key())
    node = keys.load_keys(seller_keys_dir)
    answer = encryption.random_challenge_text()
    challenge = encryption.encrypt_challenge(
        answer, encryption.private_key_to_b64(registry_private), node.encryption_public_key
    )
    async with start_node(registry_encryption_public_key=registry_public) as (url, _):
        ok = await client.post(
            f"{url}/on_subscribe", json={"subscriber_id": "seller.test", "challenge": challenge}
        )
        garbage = await client.post(
            f"{url}/on_subscribe", json={"subscriber_id": "seller.test", "challenge": "AAAA"}
        )
        not_base64 = await client.post(
            f"{url}/on_subscribe", json={"subscriber_id": "seller.test", "challenge": "%%%"}
        )
        wrong_shape = await client.post(f"{url}/on_subscribe", content=b"[1,2")
        someone_else = await client.post(
            f"{url}/on_subscribe", json={"subscriber_id": "other.test", "challenge": challenge}
        )
    assert ok.status_code == 200 and ok.json() == {"answer": answer}
    for bad in (garbage, not_base64, wrong_shape, someone_else):
        assert bad.status_code == 400, bad.text
        assert bad.json()["error"]


async def test_on_subscribe_without_a_registry_key_is_a_clear_error(start_node, client) -> None:
    # registry_env "local" has no published ONDC key and none is configured here.
    async with start_node() as (url, _):
        response = await client.post(
            f"{url}/on_subscribe", json={"subscriber_id": "seller.test", "challenge": "AAAA"}
        )
    assert response.status_code == 503
    assert "ONDC_REGISTRY_ENCRYPTION_PUBLIC_KEY" in response.json()["error"]


async def test_site_verification_page_carries_the_signed_request_id(
    start_node, seller, client
) -> None:
    async with start_node() as (url, _):
        root = url.removesuffix("/ondc")
        pages = [
            await client.get(f"{root}/ondc-site-verification.html"),
            await client.get(f"{url}/ondc-site-verification.html"),
        ]
    for page in pages:
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        match = re.fullmatch(
            r"<html><head><meta name='ondc-site-verification' content='([A-Za-z0-9+/=]+)' />"
            r"</head><body>ONDC Site Verification Page</body></html>",
            page.text,
        )
        assert match, page.text
        assert verify_message(
            seller.key.public_key_b64, "27baa06d-f90a-486c-85e5-cc621b787f04", match.group(1)
        )


async def test_site_verification_is_404_when_not_configured(start_node, client) -> None:
    async with start_node(site_verification_request_id=None) as (url, _):
        response = await client.get(f"{url.removesuffix('/ondc')}/ondc-site-verification.html")
    assert response.status_code == 404


async def test_protocol_routes_are_served_under_the_prefix_only(start_node, client) -> None:
    async with start_node() as (url, _):
        response = await client.post(f"{url.removesuffix('/ondc')}/search", content=b"{}")
    assert response.status_code in (404, 405)
    assert isinstance(response, httpx.Response)
