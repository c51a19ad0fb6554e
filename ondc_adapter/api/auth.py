"""Verification policy for inbound requests (protocol.md 1.5-1.7, peers.md 3 items 1, 2, 5, 6).

* ``Authorization`` is required; ``X-Gateway-Authorization`` (legacy ``Proxy-Authorization``)
  is verified whenever present and required on ``search`` when the deployment says search
  arrives through a gateway.
* Keys come from a ``KeyResolver`` (registry, cached). A failed verification or a key the cache
  says is no longer valid is retried once with a fresh lookup (key rotation), at most once per
  key per ``refresh_interval`` so bad signatures cannot turn into a registry flood.
* The signer must be the sender: the ``Authorization`` keyId subscriber equals ``context.bap_id``;
  the gateway header's signer must be registered as a gateway (type BG / gateway).

Failures are HTTP 401 NACK 30016 POLICY-ERROR with a ``WWW-Authenticate`` challenge
(``Proxy-Authenticate`` for the gateway header); registry outages are 503 NACK 31001.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from ondc_adapter.api.nack import Rejection, internal_error
from ondc_adapter.metrics import NodeMetrics
from ondc_adapter.protocol.ack import Error
from ondc_adapter.protocol.errors import Code, ErrorType
from ondc_adapter.registry import (
    KeyNotFound,
    KeyNotValid,
    KeyResolver,
    RegistryUnavailable,
    SubscriberRecord,
)
from ondc_adapter.signing import (
    ALGORITHM,
    SIGNED_HEADERS,
    SignatureError,
    SignatureFailure,
    SignatureHeader,
    blake2b_digest,
    check_window,
    parse_signature_header,
    verify_signature,
)

# The exact form ONDC's reference signers (and ours) write. Matching it with one regex is ~10x
# cheaper than the general tolerant parser, which still handles every other spelling.
_CANONICAL = re.compile(
    r'Signature keyId="([^"|,\s]+)\|([^"|,\s]+)\|ed25519",algorithm="ed25519",'
    r'created="(\d{1,15})",expires="(\d{1,15})",headers="\(created\) \(expires\) digest",'
    r'signature="([A-Za-z0-9+/=]{1,256})"'
)


def parse_header(value: str) -> SignatureHeader:
    """Same result as ``signing.parse_signature_header``, with a fast path for the canonical
    form. Raises ``SignatureError``."""
    match = _CANONICAL.fullmatch(value)
    if match is None:
        return parse_signature_header(value)
    return SignatureHeader(
        subscriber_id=match[1],
        unique_key_id=match[2],
        algorithm=ALGORITHM,
        created=int(match[3]),
        expires=int(match[4]),
        signature=match[5],
    )


def _what(gateway: bool) -> str:
    return "X-Gateway-Authorization" if gateway else "Authorization"


@dataclass(slots=True)  # not frozen: private, and a frozen init costs a setattr per field
class _Check:
    """One request's body, its digest and the time: what each signature header is checked
    against."""

    body: bytes
    digest: str
    now_utc: datetime

    def __call__(self, header: SignatureHeader, record: SubscriberRecord) -> None:
        """Key valid now (``KeyNotValid``) and the signature verifies (``SignatureError``)."""
        record.check_valid(self.now_utc)
        verify_signature(self.body, header, record.signing_public_key, body_digest=self.digest)


@dataclass(frozen=True, slots=True)
class Verified:
    signer: SubscriberRecord
    gateway: SubscriberRecord | None = None


class SignatureVerifier:
    def __init__(
        self,
        resolver: KeyResolver,
        *,
        realm: str,
        created_skew: int,
        search_requires_gateway: bool,
        refresh_interval: float = 30.0,
        metrics: NodeMetrics | None = None,
    ) -> None:
        self.resolver = resolver
        self.metrics = metrics if metrics is not None else NodeMetrics()
        self.created_skew = created_skew
        self.search_requires_gateway = search_requires_gateway
        self.refresh_interval = refresh_interval
        self._challenge = f'Signature realm="{realm}",headers="{SIGNED_HEADERS}"'
        self._last_refresh: dict[tuple[str, str], float] = {}

    def reject(
        self, message: str, *, gateway: bool = False, reason: str = SignatureFailure.BAD_SIGNATURE
    ) -> Rejection:
        """The 401 NACK 30016; ``reason`` (a ``SignatureFailure`` value or one of the policy
        reasons in ``metrics.SIGNATURE_REASONS``) is counted, not shown to the peer."""
        self.metrics.signature_failed("gateway" if gateway else "authorization", reason)
        header = "Proxy-Authenticate" if gateway else "WWW-Authenticate"
        error = Error(type=ErrorType.POLICY, code=Code.INVALID_SIGNATURE.value, message=message)
        return Rejection(401, error, {header: self._challenge})

    async def verify(
        self,
        body: bytes,
        authorization: str | None,
        gateway_authorization: str | None,
        *,
        action: str,
        now: float,
    ) -> Verified:
        if not authorization:
            raise self.reject(
                "Authorization header is missing", reason=SignatureFailure.MISSING_HEADER
            )
        signer_header = self._parse(authorization, now=now, gateway=False)
        gateway_header = (
            self._parse(gateway_authorization, now=now, gateway=True)
            if gateway_authorization
            else None
        )
        signer = await self._resolve(signer_header, gateway=False, refresh=False)
        gateway = (
            await self._resolve(gateway_header, gateway=True, refresh=False)
            if gateway_header is not None
            else None
        )
        # Verified inline: Ed25519 in a helper thread measured slower (GIL hand-backs after
        # every libsodium call cost more latency than the parallelism won; see bench/).
        # Re-measured with the gateway header checked on a 1-worker ThreadPoolExecutor while
        # the loop checks Authorization: 32% of bare instead of 39%, event-loop CPU per
        # request up from ~198 to ~230 us (GIL contention), so it stays inline.
        # Both headers sign the same body: hash it and convert ``now`` once.
        check = _Check(body, blake2b_digest(body), datetime.fromtimestamp(now, UTC))
        signer = await self._settle(check, signer_header, signer, gateway=False)
        if gateway_header is not None and gateway is not None:
            gateway = await self._settle(check, gateway_header, gateway, gateway=True)
            if not gateway.is_gateway:
                raise self.reject(
                    f"X-Gateway-Authorization is signed by {gateway.subscriber_id}, which is "
                    f"registered as {gateway.type or 'unknown type'}, not as a gateway",
                    gateway=True,
                    reason="not_a_gateway",
                )
        elif action == "search" and self.search_requires_gateway:
            raise self.reject(
                "search must arrive through a gateway: X-Gateway-Authorization is missing",
                gateway=True,
                reason="gateway_required",
            )
        return Verified(signer=signer, gateway=gateway)

    def check_sender(self, verified: Verified, bap_id: object) -> None:
        """The Authorization signer must be the ``context.bap_id`` it claims to be."""
        if isinstance(bap_id, str) and verified.signer.subscriber_id != bap_id:
            raise self.reject(
                f"signed by {verified.signer.subscriber_id} but context.bap_id is {bap_id}",
                reason="signer_mismatch",
            )

    def _parse(self, value: str, *, now: float, gateway: bool) -> SignatureHeader:
        try:
            header = parse_header(value)
            check_window(header, now=now, created_skew=self.created_skew)
        except SignatureError as exc:
            raise self.reject(
                f"{_what(gateway)}: {exc.message}", gateway=gateway, reason=exc.reason
            ) from None
        return header

    async def _settle(
        self,
        check: _Check,
        header: SignatureHeader,
        record: SubscriberRecord,
        *,
        gateway: bool,
    ) -> SubscriberRecord:
        """Accept ``record`` if its key is valid and the signature verifies; otherwise look the
        key up afresh once (rotation) and decide on that answer."""
        try:
            check(header, record)
            return record
        except (SignatureError, KeyNotValid) as exc:
            problem: Exception = exc
        what = _what(gateway)
        if not self._may_refresh(header):
            raise self._failure(problem, what, gateway)
        record = await self._resolve(header, gateway=gateway, refresh=True)
        try:
            check(header, record)
        except (SignatureError, KeyNotValid) as second:
            raise self._failure(second, what, gateway) from None
        return record

    def _failure(self, exc: Exception, what: str, gateway: bool) -> Rejection:
        if isinstance(exc, SignatureError):
            detail = exc.message
            if exc.reason is SignatureFailure.BAD_SIGNATURE:
                detail = "signature does not verify against the registered key"
            return self.reject(f"{what}: {detail}", gateway=gateway, reason=exc.reason)
        return self.reject(f"{what}: {exc}", gateway=gateway, reason="key_not_valid")

    def _may_refresh(self, header: SignatureHeader) -> bool:
        key = (header.subscriber_id, header.unique_key_id)
        now = time.monotonic()
        if now - self._last_refresh.get(key, -1e9) < self.refresh_interval:
            return False
        if len(self._last_refresh) > 10_000:  # bounded: keyIds are attacker-chosen
            self._last_refresh.clear()
        self._last_refresh[key] = now
        return True

    async def _resolve(
        self, header: SignatureHeader, *, gateway: bool, refresh: bool
    ) -> SubscriberRecord:
        what = _what(gateway)
        try:
            return await self.resolver.resolve(
                header.subscriber_id, header.unique_key_id, refresh=refresh
            )
        except KeyNotFound as exc:
            raise self.reject(
                f"{what}: unknown key {header.key_id}: {exc.message}",
                gateway=gateway,
                reason=SignatureFailure.UNKNOWN_KEY,
            ) from None
        except RegistryUnavailable as exc:
            raise internal_error(f"cannot verify {what} now: {exc.message}") from None
