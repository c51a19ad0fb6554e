"""Registry lookups for the sandbox parties, and signature checks that use them.

The gateway and the buyer app resolve signers' keys here (v2.0 signed lookup by default, with a
small cache), exactly as a real participant does; the adapter uses TRANSPORT's own client.
"""

from __future__ import annotations

import json
import time

import httpx

from ondc_adapter.keys import NodeKeys
from ondc_adapter.sandbox.registry_messages import LookupRecord
from ondc_adapter.signing import (
    SignatureError,
    SignatureFailure,
    SignatureHeader,
    parse_signature_header,
    sign_request,
    verify_request,
)


class LookupFailed(Exception):
    pass


class RegistryLookup:
    def __init__(
        self,
        registry_url: str,
        http_client: httpx.AsyncClient,
        *,
        keys: NodeKeys | None = None,
        version: str = "v2",
        cache_seconds: float = 300.0,
    ) -> None:
        self.registry_url = registry_url.rstrip("/")
        self.http = http_client
        self.keys = keys
        self.version = version if keys is not None else "v1"
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, list[LookupRecord]]] = {}

    async def lookup(
        self, query: dict[str, str], *, only_subscribed: bool = True
    ) -> list[LookupRecord]:
        cache_key = json.dumps(query, sort_keys=True)
        hit = self._cache.get(cache_key)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        body = json.dumps(query, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"}
        if self.version == "v2" and self.keys is not None:
            url = f"{self.registry_url}/v2.0/lookup"
            headers["Authorization"] = sign_request(
                body,
                self.keys.signing_key,
                subscriber_id=self.keys.subscriber_id,
                unique_key_id=self.keys.unique_key_id,
            ).to_header()
        else:
            url = f"{self.registry_url}/lookup"
        try:
            response = await self.http.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise LookupFailed(f"registry lookup failed: {exc}") from exc
        if response.status_code != 200:
            raise LookupFailed(f"registry lookup answered {response.status_code}: {response.text}")
        try:
            records = [LookupRecord.model_validate(r) for r in response.json()]
        except (ValueError, TypeError) as exc:
            raise LookupFailed(f"registry lookup answer is not a list of records: {exc}") from exc
        self._cache[cache_key] = (time.monotonic() + self.cache_seconds, records)
        if only_subscribed:
            return [r for r in records if r.status == "SUBSCRIBED"]
        return records

    async def signing_key(self, subscriber_id: str, unique_key_id: str) -> str | None:
        records = await self.lookup({"subscriber_id": subscriber_id, "ukId": unique_key_id})
        return records[0].signing_public_key if records else None

    async def verify(
        self, body: bytes, header_value: str | None, *, created_skew: int = 5
    ) -> SignatureHeader:
        """Parse, resolve the signer's key through the registry and verify. Raises
        SignatureError (UNKNOWN_KEY when the registry has no such subscriber/key)."""
        if not header_value:
            raise SignatureError(SignatureFailure.MISSING_HEADER, "no signature header")
        header = parse_signature_header(header_value)
        try:
            public_key = await self.signing_key(header.subscriber_id, header.unique_key_id)
        except LookupFailed as exc:
            raise SignatureError(SignatureFailure.UNKNOWN_KEY, str(exc)) from exc
        if public_key is None:
            raise SignatureError(
                SignatureFailure.UNKNOWN_KEY,
                f"{header.subscriber_id}|{header.unique_key_id} is not subscribed in the registry",
            )
        return verify_request(body, header, public_key, created_skew=created_skew)
