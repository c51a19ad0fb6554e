"""Beckn/ONDC request signing: BLAKE2b-512 digest, the three-line signing string, Ed25519.

Everything here is pure and byte-exact. The body passed in is the exact sequence of bytes that
goes on (or came off) the wire; nothing in this module ever re-serialises JSON.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import lru_cache

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

ALGORITHM = "ed25519"
SIGNED_HEADERS = "(created) (expires) digest"
DEFAULT_SIGNATURE_TTL = 300


class SignatureFailure(StrEnum):
    """Why a signature was refused; stable strings used in logs, metrics and CLI output."""

    MISSING_HEADER = "missing_header"
    MALFORMED_HEADER = "malformed_header"
    ALGORITHM_MISMATCH = "algorithm_mismatch"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    BAD_DIGEST = "bad_digest"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_KEY = "unknown_key"


class SignatureError(Exception):
    """A signature header that cannot be accepted. ``reason`` says which check failed."""

    def __init__(self, reason: SignatureFailure, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def b64decode_strict(value: str, *, what: str) -> bytes:
    """Standard-alphabet base64 with padding; raises ValueError naming ``what``."""
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{what} is not valid base64") from exc


def b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def blake2b_digest(body: bytes) -> str:
    """base64(BLAKE2b-512(body)): the ``digest`` line's value."""
    return b64encode(hashlib.blake2b(body, digest_size=64).digest())


def signing_string(created: int, expires: int, digest: str) -> bytes:
    """The exact bytes that are signed: three LF-separated lines, one space after each colon."""
    return f"(created): {created}\n(expires): {expires}\ndigest: BLAKE-512={digest}".encode()


# --- keys -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ed25519PrivateKey:
    """An Ed25519 signing key. ``repr`` never shows key material."""

    _key: SigningKey

    @classmethod
    def from_base64(cls, value: str) -> Ed25519PrivateKey:
        """Accepts a 32-byte seed or the 64-byte seed||public form ONDC's tools print."""
        raw = b64decode_strict(value, what="signing private key")
        if len(raw) == 64:
            key = SigningKey(raw[:32])
            if bytes(key.verify_key) != raw[32:]:
                raise ValueError("signing private key: public half does not match the seed")
            return cls(key)
        if len(raw) == 32:
            return cls(SigningKey(raw))
        raise ValueError(f"signing private key must be 32 or 64 bytes, got {len(raw)}")

    @classmethod
    def generate(cls) -> Ed25519PrivateKey:
        return cls(SigningKey.generate())

    def to_base64(self) -> str:
        """The 64-byte seed||public form, compatible with ONDC's Python and Node utilities."""
        return b64encode(bytes(self._key) + bytes(self._key.verify_key))

    @property
    def public_key_b64(self) -> str:
        return b64encode(bytes(self._key.verify_key))

    def sign(self, message: bytes) -> str:
        return b64encode(self._key.sign(message).signature)

    def __repr__(self) -> str:
        return f"Ed25519PrivateKey(public={self.public_key_b64})"


@lru_cache(maxsize=4096)
def load_verify_key(public_key_b64: str) -> VerifyKey:
    """Raw 32-byte Ed25519 public key from base64 (cached: lookups return the same strings)."""
    raw = b64decode_strict(public_key_b64, what="signing public key")
    if len(raw) == 44 and raw.startswith(bytes.fromhex("302a300506032b6570032100")):
        raw = raw[12:]  # tolerate an SPKI DER key: some peers publish that by mistake
    if len(raw) != 32:
        raise ValueError(f"signing public key must be 32 bytes, got {len(raw)}")
    return VerifyKey(raw)


def sign_message(private_key: Ed25519PrivateKey, text: str) -> str:
    """Ed25519 over a UTF-8 string as-is (site verification, vlookup): no hashing."""
    return private_key.sign(text.encode())


def verify_message(public_key_b64: str, text: str, signature_b64: str) -> bool:
    try:
        load_verify_key(public_key_b64).verify(
            text.encode(), b64decode_strict(signature_b64, what="signature")
        )
    except (BadSignatureError, ValueError):
        return False
    return True


# --- the Authorization header ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignatureHeader:
    """One ``Authorization`` / ``X-Gateway-Authorization`` value, parsed."""

    subscriber_id: str
    unique_key_id: str
    algorithm: str
    created: int
    expires: int
    signature: str
    headers: str = SIGNED_HEADERS
    key_algorithm: str = ALGORITHM
    digest: str | None = None  # only when a peer adds a non-standard digest parameter

    @property
    def key_id(self) -> str:
        return f"{self.subscriber_id}|{self.unique_key_id}|{self.key_algorithm}"

    def to_header(self) -> str:
        """The canonical form ONDC's reference generators write, byte for byte."""
        return (
            f'Signature keyId="{self.key_id}",algorithm="{self.algorithm}",'
            f'created="{self.created}",expires="{self.expires}",'
            f'headers="{self.headers}",signature="{self.signature}"'
        )

    @classmethod
    def parse(cls, value: str) -> SignatureHeader:
        return parse_signature_header(value)


_REQUIRED_PARAMS = ("keyId", "algorithm", "created", "expires", "signature")


def parse_signature_header(value: str) -> SignatureHeader:
    """Tolerant parser: spaces after commas, unquoted numbers, ``=`` inside values, any
    ``headers`` spacing, a stray quote pair around the whole value. Raises SignatureError."""
    text = value.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1].strip()
    if text[:10].lower() == "signature ":
        text = text[10:]
    params: dict[str, str] = {}
    for part in _split_params(text):
        name, sep, raw = part.partition("=")
        name = name.strip()
        if not sep or not name:
            raise SignatureError(
                SignatureFailure.MALFORMED_HEADER, f"malformed parameter {part.strip()!r}"
            )
        params[name] = raw.strip().strip('"')
    missing = [p for p in _REQUIRED_PARAMS if not params.get(p)]
    if missing:
        raise SignatureError(
            SignatureFailure.MALFORMED_HEADER, f"missing parameter(s): {', '.join(missing)}"
        )
    key_parts = params["keyId"].split("|")
    if len(key_parts) != 3 or not all(p.strip() for p in key_parts):
        raise SignatureError(
            SignatureFailure.MALFORMED_HEADER,
            "keyId must be subscriber_id|unique_key_id|algorithm",
        )
    subscriber_id, ukid, key_alg = (p.strip() for p in key_parts)
    try:
        created, expires = int(params["created"]), int(params["expires"])
    except ValueError as exc:
        raise SignatureError(
            SignatureFailure.MALFORMED_HEADER, "created and expires must be integers"
        ) from exc
    algorithm = params["algorithm"]
    if key_alg.lower() != ALGORITHM or algorithm.lower() != ALGORITHM:
        raise SignatureError(
            SignatureFailure.ALGORITHM_MISMATCH,
            f"algorithm must be {ALGORITHM} in keyId and algorithm (got {key_alg!r}, "
            f"{algorithm!r})",
        )
    digest = params.get("digest")
    if digest and digest.startswith("BLAKE-512="):
        digest = digest[len("BLAKE-512=") :]
    return SignatureHeader(
        subscriber_id=subscriber_id,
        unique_key_id=ukid,
        algorithm=algorithm,
        created=created,
        expires=expires,
        signature=params["signature"],
        headers=params.get("headers", SIGNED_HEADERS),
        key_algorithm=key_alg,
        digest=digest or None,
    )


def _split_params(text: str) -> list[str]:
    """Split on commas that are outside double quotes."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if "".join(current).strip():
        parts.append("".join(current))
    return [p for p in parts if p.strip()]


def sign_request(
    body: bytes,
    private_key: Ed25519PrivateKey,
    *,
    subscriber_id: str,
    unique_key_id: str,
    created: int | None = None,
    expires: int | None = None,
    ttl: int = DEFAULT_SIGNATURE_TTL,
) -> SignatureHeader:
    """Sign exactly ``body``; ``created`` defaults to now, ``expires`` to created + ttl."""
    created = int(time.time()) if created is None else created
    expires = created + ttl if expires is None else expires
    signature = private_key.sign(signing_string(created, expires, blake2b_digest(body)))
    return SignatureHeader(
        subscriber_id=subscriber_id,
        unique_key_id=unique_key_id,
        algorithm=ALGORITHM,
        created=created,
        expires=expires,
        signature=signature,
    )


def check_window(header: SignatureHeader, *, now: float, created_skew: int) -> None:
    """``created - skew <= now <= expires``: tolerance applies to ``created`` only."""
    if header.expires < header.created:
        raise SignatureError(SignatureFailure.MALFORMED_HEADER, "expires is before created")
    if now + created_skew < header.created:
        raise SignatureError(
            SignatureFailure.NOT_YET_VALID,
            f"created {header.created} is {header.created - int(now)}s in the future "
            f"(allowed skew {created_skew}s)",
        )
    if now > header.expires:
        raise SignatureError(
            SignatureFailure.EXPIRED,
            f"signature expired at {header.expires}, {int(now) - header.expires}s ago",
        )


def verify_signature(
    body: bytes, header: SignatureHeader, public_key_b64: str, *, body_digest: str | None = None
) -> None:
    """Check the signature over ``body`` (no time checks). Raises SignatureError.
    ``body_digest``: ``blake2b_digest(body)`` when the caller already has it (a request with
    two signature headers hashes its body once)."""
    digest = blake2b_digest(body) if body_digest is None else body_digest
    if header.digest is not None and header.digest != digest:
        raise SignatureError(SignatureFailure.BAD_DIGEST, "digest does not match the body")
    try:
        verify_key = load_verify_key(public_key_b64)
        raw_sig = b64decode_strict(header.signature, what="signature")
    except ValueError as exc:
        raise SignatureError(SignatureFailure.MALFORMED_HEADER, str(exc)) from exc
    try:
        verify_key.verify(signing_string(header.created, header.expires, digest), raw_sig)
    except (BadSignatureError, ValueError) as exc:
        raise SignatureError(
            SignatureFailure.BAD_SIGNATURE,
            "signature does not verify over this body's BLAKE-512 digest",
        ) from exc


def verify_request(
    body: bytes,
    header: str | SignatureHeader,
    public_key_b64: str,
    *,
    now: float | None = None,
    created_skew: int = 5,
) -> SignatureHeader:
    """Parse (if needed), check the time window, then the signature. Returns the header."""
    parsed = parse_signature_header(header) if isinstance(header, str) else header
    check_window(parsed, now=time.time() if now is None else now, created_skew=created_skew)
    verify_signature(body, parsed, public_key_b64)
    return parsed


def with_signature(header: SignatureHeader, signature: str) -> SignatureHeader:
    return replace(header, signature=signature)
