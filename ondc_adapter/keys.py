"""A node's key folder: an Ed25519 signing pair and an X25519 encryption pair.

Layout written by ``ondc-adapter keys generate`` (private files mode 0600)::

    DIR/signing_private_key      base64 64-byte seed||public (ONDC tooling's form)
    DIR/encryption_private_key   base64 PKCS#8 DER
    DIR/public.json              subscriber_id, unique_key_id, signing_public_key,
                                 encryption_public_key, valid_from, valid_until
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ondc_adapter import encryption
from ondc_adapter.signing import Ed25519PrivateKey

SIGNING_FILE = "signing_private_key"
ENCRYPTION_FILE = "encryption_private_key"
PUBLIC_FILE = "public.json"


class KeysExistError(FileExistsError):
    pass


@dataclass(frozen=True, slots=True)
class NodeKeys:
    subscriber_id: str
    unique_key_id: str
    signing_key: Ed25519PrivateKey
    encryption_private_key: str  # base64 PKCS#8; kept as text, parsed when used
    encryption_public_key: str
    valid_from: str
    valid_until: str

    @property
    def signing_public_key(self) -> str:
        return self.signing_key.public_key_b64

    def public_record(self) -> dict[str, str]:
        return {
            "subscriber_id": self.subscriber_id,
            "unique_key_id": self.unique_key_id,
            "signing_public_key": self.signing_public_key,
            "encryption_public_key": self.encryption_public_key,
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
        }

    def __repr__(self) -> str:  # never show private material
        return f"NodeKeys({self.subscriber_id!r}, {self.unique_key_id!r})"


def rfc3339(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def new_keys(
    subscriber_id: str, unique_key_id: str, *, valid_days: int = 365, now: datetime | None = None
) -> NodeKeys:
    now = now or datetime.now(UTC)
    enc = encryption.generate_x25519()
    return NodeKeys(
        subscriber_id=subscriber_id,
        unique_key_id=unique_key_id,
        signing_key=Ed25519PrivateKey.generate(),
        encryption_private_key=encryption.private_key_to_b64(enc),
        encryption_public_key=encryption.public_key_to_b64(enc.public_key()),
        valid_from=rfc3339(now),
        valid_until=rfc3339(now + timedelta(days=valid_days)),
    )


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text + "\n")
    os.chmod(path, 0o600)  # umask may have narrowed it already; never widen beyond 0600


def write_keys(keys: NodeKeys, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    existing = [n for n in (SIGNING_FILE, ENCRYPTION_FILE, PUBLIC_FILE) if (directory / n).exists()]
    if existing:
        raise KeysExistError(f"refusing to overwrite existing key files in {directory}: {existing}")
    _write_private(directory / SIGNING_FILE, keys.signing_key.to_base64())
    _write_private(directory / ENCRYPTION_FILE, keys.encryption_private_key)
    (directory / PUBLIC_FILE).write_text(json.dumps(keys.public_record(), indent=2) + "\n")


def load_keys(directory: Path) -> NodeKeys:
    public = json.loads((directory / PUBLIC_FILE).read_text())
    signing = Ed25519PrivateKey.from_base64((directory / SIGNING_FILE).read_text().strip())
    enc_private = (directory / ENCRYPTION_FILE).read_text().strip()
    if signing.public_key_b64 != public["signing_public_key"]:
        raise ValueError(f"{directory}: signing key does not match public.json")
    derived = encryption.public_key_to_b64(
        encryption.load_x25519_private_key(enc_private).public_key()
    )
    if derived != public["encryption_public_key"]:
        raise ValueError(f"{directory}: encryption key does not match public.json")
    return NodeKeys(
        subscriber_id=public["subscriber_id"],
        unique_key_id=public["unique_key_id"],
        signing_key=signing,
        encryption_private_key=enc_private,
        encryption_public_key=public["encryption_public_key"],
        valid_from=public["valid_from"],
        valid_until=public["valid_until"],
    )
