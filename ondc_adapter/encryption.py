"""X25519 encryption keys and the registry's ``on_subscribe`` challenge (AES-256-ECB, PKCS7).

Encodings follow the registry: public keys are base64 SubjectPublicKeyInfo DER, private keys
base64 PKCS#8 DER. Go and Node tools write the PKCS#8 *version 1* form (RFC 5958
OneAsymmetricKey), which ``cryptography`` refuses; we then read its DER ourselves: the scalar
is the OCTET STRING inside ``privateKey``, and an attached ``publicKey`` must match it (taking
"the last 32 bytes" would silently load the public key as the private one).
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import padding, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ondc_adapter.signing import b64decode_strict, b64encode

X25519_SPKI_PREFIX = bytes.fromhex("302a300506032b656e032100")
_PKCS8_OID = bytes.fromhex("06032b656e")  # id-X25519


def _der(data: bytes, at: int = 0) -> tuple[int, bytes, int]:
    """One DER TLV at ``at``: (tag, value, offset after it). Raises ValueError."""
    if at + 2 > len(data):
        raise ValueError("truncated DER")
    tag, length, at = data[at], data[at + 1], at + 2
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 2 or at + count > len(data):
            raise ValueError("bad DER length")
        length, at = int.from_bytes(data[at:at + count], "big"), at + count
    if at + length > len(data):
        raise ValueError("truncated DER")
    return tag, data[at:at + length], at + length


def _der_items(data: bytes) -> list[tuple[int, bytes]]:
    items, at = [], 0
    while at < len(data):
        tag, value, at = _der(data, at)
        items.append((tag, value))
    return items


def _one_asymmetric_key(raw: bytes) -> X25519PrivateKey:
    """An X25519 key from PKCS#8 v0/v1 DER read by hand (see the module docstring)."""
    tag, body, end = _der(raw)
    if tag != 0x30 or end != len(raw):
        raise ValueError("not a DER SEQUENCE")
    items = _der_items(body)
    if len(items) < 3 or items[0] not in ((0x02, b"\x00"), (0x02, b"\x01")):
        raise ValueError("not a PKCS#8 OneAsymmetricKey")
    if items[1][0] != 0x30 or not items[1][1].startswith(_PKCS8_OID):
        raise ValueError("not an X25519 key")
    if items[2][0] != 0x04:
        raise ValueError("no privateKey OCTET STRING")
    inner_tag, scalar, inner_end = _der(items[2][1])
    if inner_tag != 0x04 or len(scalar) != 32 or inner_end != len(items[2][1]):
        raise ValueError("privateKey is not a 32-byte CurvePrivateKey")
    key = X25519PrivateKey.from_private_bytes(scalar)
    for item_tag, value in items[3:]:
        if item_tag in (0x81, 0xA1):  # [1] publicKey, implicit BIT STRING or wrapped
            bits = _der(value)[1] if item_tag == 0xA1 else value
            if bits[1:] != key.public_key().public_bytes_raw():
                raise ValueError("the attached publicKey does not belong to the private key")
    return key


def load_x25519_private_key(value: str) -> X25519PrivateKey:
    raw = b64decode_strict(value, what="encryption private key")
    if len(raw) == 32:
        return X25519PrivateKey.from_private_bytes(raw)
    try:
        key = serialization.load_der_private_key(raw, password=None)
    except (ValueError, TypeError, NotImplementedError):
        try:
            return _one_asymmetric_key(raw)
        except ValueError as exc:
            raise ValueError(f"encryption private key is not X25519 PKCS#8 DER: {exc}") from None
    if not isinstance(key, X25519PrivateKey):
        raise ValueError("encryption private key is not an X25519 key")
    return key


def load_x25519_public_key(value: str) -> X25519PublicKey:
    raw = b64decode_strict(value, what="encryption public key")
    if len(raw) == 32:  # legacy raw form seen in old samples
        return X25519PublicKey.from_public_bytes(raw)
    try:
        key = serialization.load_der_public_key(raw)
    except (ValueError, TypeError, NotImplementedError) as exc:
        raise ValueError("encryption public key is not X25519 SPKI DER") from exc
    if not isinstance(key, X25519PublicKey):
        raise ValueError("encryption public key is not an X25519 key")
    return key


def private_key_to_b64(key: X25519PrivateKey) -> str:
    return b64encode(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def public_key_to_b64(key: X25519PublicKey) -> str:
    return b64encode(
        key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def generate_x25519() -> X25519PrivateKey:
    return X25519PrivateKey.generate()


def shared_key(private_key_b64: str, peer_public_key_b64: str) -> bytes:
    """The 32-byte X25519 agreement, used directly as the AES-256 key (no KDF, as ONDC does)."""
    return load_x25519_private_key(private_key_b64).exchange(
        load_x25519_public_key(peer_public_key_b64)
    )


def aes_ecb_encrypt(key: bytes, plaintext: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    data = padder.update(plaintext) + padder.finalize()
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(data) + enc.finalize()


def aes_ecb_decrypt(key: bytes, ciphertext: bytes) -> bytes:
    if not ciphertext or len(ciphertext) % 16:
        raise ValueError("challenge length is not a multiple of the AES block size")
    dec = Cipher(algorithms.AES(key), modes.ECB()).decryptor()
    data = dec.update(ciphertext) + dec.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(data) + unpadder.finalize()
    except ValueError as exc:
        raise ValueError("challenge does not decrypt with this key pair (bad padding)") from exc


def decrypt_challenge(challenge_b64: str, private_key_b64: str, peer_public_key_b64: str) -> str:
    """Answer to the registry's ``on_subscribe`` challenge."""
    key = shared_key(private_key_b64, peer_public_key_b64)
    plaintext = aes_ecb_decrypt(key, b64decode_strict(challenge_b64, what="challenge"))
    try:
        return plaintext.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError("challenge plaintext is not UTF-8") from exc


def encrypt_challenge(answer: str, private_key_b64: str, peer_public_key_b64: str) -> str:
    """What a registry sends: used by the sandbox registry."""
    key = shared_key(private_key_b64, peer_public_key_b64)
    return b64encode(aes_ecb_encrypt(key, answer.encode("utf-8")))


def random_challenge_text() -> str:
    return os.urandom(18).hex()
