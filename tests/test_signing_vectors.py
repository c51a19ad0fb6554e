"""Golden tests: every published test vector of protocol.md 1.8, both ways (sign and verify)."""

from __future__ import annotations

import base64

import pytest

from ondc_adapter import encryption
from ondc_adapter.signing import (
    Ed25519PrivateKey,
    SignatureError,
    SignatureFailure,
    blake2b_digest,
    sign_message,
    sign_request,
    signing_string,
    verify_message,
    verify_request,
)

BODY_B = (
    b'{"context":{"domain":"nic2004:60212","country":"IND","city":"Kochi","action":"search",'
    b'"core_version":"0.9.1","bap_id":"bap.stayhalo.in","bap_uri":'
    b'"https://8f9f-49-207-209-131.ngrok.io/protocol/","transaction_id":'
    b'"e6d9f908-1d26-4ff3-a6d1-3af3d3721054","message_id":"a2fe6d52-9fe4-4d1a-9d0b-dccb8b48522d",'
    b'"timestamp":"2022-01-04T09:17:55.971Z","ttl":"P1M"},"message":{"intent":{"fulfillment":'
    b'{"start":{"location":{"gps":"10.108768, 76.347517"}},"end":{"location":'
    b'{"gps":"10.102997, 76.353480"}}}}}}'
)
DIGEST_B = (
    "b6lf6lRgOweajukcvcLsagQ2T60+85kRh/Rd2bdS+TG/5ALebOEgDJfyCrre/1+BMu5nA94o4DT3pTFXuUg7sw=="
)

TV1_PRIVATE = (
    "lP3sHA+9gileOkXYJXh4Jg8tK0gEEMbf9yCPnFpbldhrAY+NErqL9WD+Vav7TE5tyVXGXBle9ONZi2W7o144eQ=="
)
TV1_PUBLIC = "awGPjRK6i/Vg/lWr+0xObclVxlwZXvTjWYtlu6NeOHk="
TV1_SIGNATURE = (
    "cjbhP0PFyrlSCNszJM1F/YmHDVAWsZqJUPzojnE/7TJU3fJ/rmIlgaUHEr5E0/2PIyf0tpSnWtT6cyNNlpmoAQ=="
)
TV1_HEADER = (
    'Signature keyId="example-bap.com|bap1234|ed25519",algorithm="ed25519",'
    'created="1641287875",expires="1641291475",headers="(created) (expires) digest",'
    f'signature="{TV1_SIGNATURE}"'
)
TV2_PRIVATE = (
    "G0Pme72u8Y1MwxHqvY4iBW+7VPtJ7dsX7SGs6zZ5yvVIzdRAyHR6YkwHG2ufOE+12lsbJRwBF4Hqd7dUEOZZkg=="
)
TV2_PUBLIC = "SM3UQMh0emJMBxtrnzhPtdpbGyUcAReB6ne3VBDmWZI="
TV2_SIGNATURE = (
    "fKQWvXhln4UdyZdL87ViXQObdBme0dHnsclD2LvvnHoNxIgcvAwUZOmwAnH5QKi9Upg5tRaxpoGhCFGHD+d+Bw=="
)
TV3_PRIVATE = (
    "hJ5sCmbe7s9Wateq6QAdBGloVSkLuLHWOXcRkzrMcVLthFldV4gnT9Vrnq9iDNPVSKuDqaercVjQwFlj0Ml+3Q=="
)
TV3_PUBLIC = "7YRZXVeIJ0/Va56vYgzT1Uirg6mnq3FY0MBZY9DJft0="
TV3_SIGNATURE = (
    "kUgvyU+bdXXkNuYKygbv0gkjArHKyF9Eg4pdCyxb+J1bMyQ6n4G1RVSM97qqKmgw04mgOkbhyz5chnD3PP1lDQ=="
)


def test_blake2b_known_answer() -> None:
    assert blake2b_digest(b"The quick brown fox jumps over the lazy dog") == (
        "qK3Uvd39k+SHfSdG5igXsRY2Sh+nvBSNlQkLxzM7NnP4JAHPeqLkyx7NkCluPxTLVBP47Xe+cwRbE5FM3NapGA=="
    )
    assert len(BODY_B) == 496
    assert blake2b_digest(BODY_B) == DIGEST_B


@pytest.mark.parametrize(
    ("private", "public", "subscriber", "ukid", "created", "expires", "signature"),
    [
        (TV1_PRIVATE, TV1_PUBLIC, "example-bap.com", "bap1234", 1641287875, 1641291475,
         TV1_SIGNATURE),
        (TV2_PRIVATE, TV2_PUBLIC, "buyer-app.ondc.org", "207", 1641287875, 1641291475,
         TV2_SIGNATURE),
        (TV3_PRIVATE, TV3_PUBLIC, "example-bg.com", "bg432", 1641287885, 1641291485,
         TV3_SIGNATURE),
    ],
    ids=["TV1", "TV2", "TV3-gateway"],
)
def test_request_vectors_both_ways(
    private: str, public: str, subscriber: str, ukid: str, created: int, expires: int,
    signature: str,
) -> None:
    key = Ed25519PrivateKey.from_base64(private)
    assert key.public_key_b64 == public
    header = sign_request(
        BODY_B, key, subscriber_id=subscriber, unique_key_id=ukid, created=created, expires=expires
    )
    assert header.signature == signature
    # and the other way: the published header verifies at a time inside its window
    parsed = verify_request(BODY_B, header.to_header(), public, now=created + 10)
    assert parsed.subscriber_id == subscriber
    assert parsed.unique_key_id == ukid


def test_tv1_header_is_byte_exact() -> None:
    key = Ed25519PrivateKey.from_base64(TV1_PRIVATE)
    header = sign_request(
        BODY_B, key, subscriber_id="example-bap.com", unique_key_id="bap1234",
        created=1641287875, expires=1641291475,
    )
    assert header.to_header() == TV1_HEADER
    verify_request(BODY_B, TV1_HEADER, TV1_PUBLIC, now=1641287875)


def test_tv1_seed_only_form_signs_the_same() -> None:
    seed_only = base64.b64encode(base64.b64decode(TV1_PRIVATE)[:32]).decode()
    key = Ed25519PrivateKey.from_base64(seed_only)
    assert key.sign(signing_string(1641287875, 1641291475, DIGEST_B)) == TV1_SIGNATURE


def test_tv1_no_space_signing_string_is_the_wrong_form() -> None:
    key = Ed25519PrivateKey.from_base64(TV1_PRIVATE)
    # the illustration keeps the space after (created) only
    wrong = f"(created): 1641287875\n(expires):1641291475\ndigest:BLAKE-512={DIGEST_B}".encode()
    wrong_sig = (
        "Hd6qLDiG2QBxutV1hrnvdWLWLrxSY1hvzKj4pmmiuGydoqzut00cF8OZBPBD1MSKv+c9n8lrMxAiHSC6jA5ECg=="
    )
    assert key.sign(wrong) == wrong_sig
    forged = TV1_HEADER.replace(TV1_SIGNATURE, wrong_sig)
    with pytest.raises(SignatureError) as exc:
        verify_request(BODY_B, forged, TV1_PUBLIC, now=1641287875)
    assert exc.value.reason is SignatureFailure.BAD_SIGNATURE


def test_tv4_site_verification_signature() -> None:
    key = Ed25519PrivateKey.from_base64(TV1_PRIVATE)
    request_id = "27baa06d-f90a-486c-85e5-cc621b787f04"
    expected = (
        "7kq7AvLZKiv48eOyRJvINMRhZdFfBYvYf9R3gNouNgRLou3nLiZoNniDhE08pm6YITKUBdg+FmJXqjXhT80mBg=="
    )
    assert sign_message(key, request_id) == expected
    assert verify_message(TV1_PUBLIC, request_id, expected)
    assert not verify_message(TV1_PUBLIC, request_id + "x", expected)


def test_tv5_vlookup_signature() -> None:
    key = Ed25519PrivateKey.from_base64(TV1_PRIVATE)
    text = "IND|ONDC:RET10|sellerApp|std:080|ondc.org"
    expected = (
        "m69VWggn4+bZwEpsiJ39kHMryLvEuaVdpqjX38SofZfkRmUUbtyNgvYyQmLFAYvmfLwPCM7G1DeafLcTirS9DA=="
    )
    assert sign_message(key, text) == expected
    assert verify_message(TV1_PUBLIC, text, expected)


TV6_PRIVATE = "MC4CAQAwBQYDK2VuBCIEIOgl3rf3arbk1PvIe0C9TZp7ImR71NSQdvuSu+zzY6xo"
TV6_PUBLIC = "MCowBQYDK2VuAyEAi801MjVpgFOXHjliyT6Nb14HkS5dj1p41qbeyU6/SC8="


def test_tv6_x25519_aes_ecb_both_ways() -> None:
    shared = encryption.shared_key(TV6_PRIVATE, TV6_PUBLIC)
    assert base64.b64encode(shared).decode() == "uL27VnRototzlLNWj1m9vJ801ZfaErYyiqbBrESn6hs="
    ciphertext = "CrwN248HS4CIYsUvxtrK0pWCBaoyZh4LnWtGqeH7Mpc="
    assert encryption.decrypt_challenge(ciphertext, TV6_PRIVATE, TV6_PUBLIC) == (
        "ONDC is a Great Initiative!"
    )
    assert encryption.encrypt_challenge("ONDC is a Great Initiative!", TV6_PRIVATE, TV6_PUBLIC) == (
        ciphertext
    )


def test_tv7_preprod_on_subscribe_challenge_both_ways() -> None:
    private = "MC4CAQAwBQYDK2VuBCIEIKh1Dq7Fu82lqQdBQJTHTvBTxtD6hLconopqvVLVy81s"
    registry_public = "MCowBQYDK2VuAyEAa9Wbpvd9SsrpOZFcynyt/TO3x0Yrqyys4NUGIvyxX2Q="
    challenge = "TaaRFx6fxSbFJO2Lp9Kbap1rZTjAAveAeASr19G7iXI8Meaz6Ok6B4C709pC3GpR"
    answer = "BCA53D77-A9F5-4C6B-829E-B5A93CC9BF43"
    assert encryption.decrypt_challenge(challenge, private, registry_public) == answer
    assert encryption.encrypt_challenge(answer, private, registry_public) == challenge


def test_tv8_pkcs8_v1_keys_agree() -> None:
    np1 = "MC4CAQEwBQYDK2VuBCIEIMCU0uKQ36pRs4d9Jm0aUD9Pn6qq+747AY2Kv4UhE/94"
    np1_pub = "MCowBQYDK2VuAyEAmb/MUSKXvtgsPJuEQUM/imlDJ7oe9uPL/m4ta9e8Z1o="
    np2 = "MC4CAQEwBQYDK2VuBCIEICDWXCT+/VoLE8TJ5nYbtGv5vI+sqXBtdYgrBMjD73Vz"
    np2_pub = "MCowBQYDK2VuAyEA2qqMXULrFHhJCJEI38WnTtwojAtf9cZ3BsUid5Goah4="
    expected = "QA/NKFuipEETWgau17M+Y61tYLsyqe/2lbjyzJ1bGGI="
    # The v1 form really is refused by cryptography, so the fallback is what is tested here.
    from cryptography.hazmat.primitives import serialization

    with pytest.raises(ValueError):
        serialization.load_der_private_key(base64.b64decode(np1), password=None)
    for private, peer in ((np1, np2_pub), (np2, np1_pub)):
        assert base64.b64encode(encryption.shared_key(private, peer)).decode() == expected
    derived = encryption.public_key_to_b64(encryption.load_x25519_private_key(np1).public_key())
    assert derived == np1_pub


def _der(tag: int, value: bytes) -> bytes:
    return bytes([tag, len(value)]) + value


def test_pkcs8_v1_with_an_attached_public_key_loads_the_private_scalar() -> None:
    # RFC 5958 OneAsymmetricKey with its optional [1] publicKey: the trailing 32 bytes are the
    # PUBLIC key, so "take the last 32 bytes" would load the wrong key without a word.
    np1 = base64.b64decode("MC4CAQEwBQYDK2VuBCIEIMCU0uKQ36pRs4d9Jm0aUD9Pn6qq+747AY2Kv4UhE/94")
    np1_pub = "MCowBQYDK2VuAyEAmb/MUSKXvtgsPJuEQUM/imlDJ7oe9uPL/m4ta9e8Z1o="
    np1_pub_raw = base64.b64decode(np1_pub)[-32:]
    body = np1[2:]  # version, algorithm, privateKey
    with_public = _der(0x30, body + _der(0x81, b"\x00" + np1_pub_raw))
    key = encryption.load_x25519_private_key(base64.b64encode(with_public).decode())
    assert key.public_key().public_bytes_raw() == np1_pub_raw
    wrong = _der(0x30, body + _der(0x81, b"\x00" + bytes(32)))
    with pytest.raises(ValueError, match="publicKey does not belong"):
        encryption.load_x25519_private_key(base64.b64encode(wrong).decode())
    # random bytes with the OID in them are not a key
    with pytest.raises(ValueError):
        encryption.load_x25519_private_key(base64.b64encode(b"\x06\x03+en" + bytes(60)).decode())
