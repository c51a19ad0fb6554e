"""The key and signature commands, as people and scripts use them."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from ondc_adapter import encryption
from ondc_adapter.cli import app
from ondc_adapter.keys import load_keys

runner = CliRunner()
TV1_PRIVATE = (
    "lP3sHA+9gileOkXYJXh4Jg8tK0gEEMbf9yCPnFpbldhrAY+NErqL9WD+Vav7TE5tyVXGXBle9ONZi2W7o144eQ=="
)
TV1_PUBLIC = "awGPjRK6i/Vg/lWr+0xObclVxlwZXvTjWYtlu6NeOHk="


def test_keys_generate_writes_pairs_and_refuses_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "k"
    result = runner.invoke(
        app, ["keys", "generate", "--subscriber-id", "seller.example.com",
              "--unique-key-id", "uk1", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    public = json.loads((out / "public.json").read_text())
    assert set(public) == {
        "subscriber_id", "unique_key_id", "signing_public_key", "encryption_public_key",
        "valid_from", "valid_until",
    }
    assert public["subscriber_id"] == "seller.example.com" and public["unique_key_id"] == "uk1"
    assert len(public["signing_public_key"]) == 44
    assert public["encryption_public_key"].startswith("MCowBQYDK2VuAyEA")
    assert public["valid_from"] < public["valid_until"]
    for name in ("signing_private_key", "encryption_private_key"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600
    keys = load_keys(out)
    assert keys.signing_public_key == public["signing_public_key"]
    before = (out / "signing_private_key").read_text()
    again = runner.invoke(
        app, ["keys", "generate", "--subscriber-id", "x", "--unique-key-id", "y", "--out", str(out)]
    )
    assert again.exit_code == 1
    assert "refusing to overwrite" in again.output
    assert (out / "signing_private_key").read_text() == before
    shown = runner.invoke(app, ["keys", "show", str(out)])
    assert before.strip() not in shown.output and public["signing_public_key"] in shown.output


def test_sign_then_verify_round_trip(tmp_path: Path) -> None:
    body = tmp_path / "body.json"
    body.write_bytes('{"name":"बनारसी साड़ी","price":"₹4999"}\n'.encode())
    signed = runner.invoke(
        app, ["sign", "--private-key", TV1_PRIVATE, "--subscriber-id", "b.example.com",
              "--unique-key-id", "k", "--created", "1700000000", "--expires", "1700000300",
              str(body)],
    )
    assert signed.exit_code == 0, signed.output
    header = signed.output.strip()
    assert header.startswith('Signature keyId="b.example.com|k|ed25519"')
    ok = runner.invoke(
        app, ["verify", "--public-key", TV1_PUBLIC, "--header", header, "--now", "1700000100",
              str(body)],
    )
    assert ok.exit_code == 0, ok.output

    def fails(*args: str, now: str = "1700000100", path: Path = body) -> str:
        result = runner.invoke(
            app, ["verify", "--public-key", TV1_PUBLIC, "--header", args[0], "--now", now,
                  str(path)],
        )
        assert result.exit_code == 1
        return result.output

    assert "expired" in fails(header, now="1700000301")
    assert "not_yet_valid" in fails(header, now="1699999000")
    assert "malformed_header" in fails("Signature nonsense")
    assert "algorithm_mismatch" in fails(header.replace('algorithm="ed25519"', 'algorithm="rsa"'))
    tampered = tmp_path / "t.json"
    tampered.write_bytes(body.read_bytes().replace(b"4999", b"4998"))
    assert "bad_signature" in fails(header, path=tampered)
    with_digest = header + ',digest="BLAKE-512=AAAA"'
    assert "bad_digest" in fails(with_digest)


def test_sign_reads_stdin_bytes_untouched() -> None:
    body = b'{"a":"\xe2\x82\xb9"}\r\n\r\n'
    cmd = [sys.executable, "-m", "ondc_adapter.cli", "sign", "--private-key", TV1_PRIVATE,
           "--subscriber-id", "s", "--unique-key-id", "u", "--created", "1", "--expires", "2"]
    out = subprocess.run(cmd, input=body, capture_output=True, check=True).stdout.decode().strip()
    from ondc_adapter.signing import verify_request

    verify_request(body, out, TV1_PUBLIC, now=1)


def test_challenge_decrypt_cli() -> None:
    private = "MC4CAQAwBQYDK2VuBCIEIKh1Dq7Fu82lqQdBQJTHTvBTxtD6hLconopqvVLVy81s"
    challenge = "TaaRFx6fxSbFJO2Lp9Kbap1rZTjAAveAeASr19G7iXI8Meaz6Ok6B4C709pC3GpR"
    registry = "MCowBQYDK2VuAyEAa9Wbpvd9SsrpOZFcynyt/TO3x0Yrqyys4NUGIvyxX2Q="
    result = runner.invoke(
        app, ["challenge", "decrypt", challenge,
              "--private-key", private, "--peer-public-key", registry],
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "BCA53D77-A9F5-4C6B-829E-B5A93CC9BF43"
    wrong_peer = encryption.public_key_to_b64(encryption.generate_x25519().public_key())
    bad = runner.invoke(
        app, ["challenge", "decrypt", challenge,
              "--private-key", private, "--peer-public-key", wrong_peer],
    )
    assert bad.exit_code == 1 and "error" in bad.output


def test_misuse_is_a_clean_exit_2_not_a_traceback(tmp_path: Path) -> None:
    body = tmp_path / "body.json"
    body.write_bytes(b"{}")
    sign = ["sign", "--private-key", TV1_PRIVATE, "--subscriber-id", "b", "--unique-key-id", "k"]
    backwards = runner.invoke(app, [*sign, "--created", "100", "--expires", "50", str(body)])
    assert backwards.exit_code == 2 and "before created" in backwards.output
    missing = runner.invoke(app, [*sign, str(tmp_path / "nope.json")])
    assert missing.exit_code == 2 and "cannot read" in missing.output
    assert missing.exception is None or isinstance(missing.exception, SystemExit)
    header = runner.invoke(app, [*sign, str(body)]).output.strip()
    bad_key = runner.invoke(app, ["verify", "--public-key", "not base64!", "--header", header,
                                  str(body)])
    assert bad_key.exit_code == 2 and "--public-key" in bad_key.output
    short_key = runner.invoke(app, ["verify", "--public-key", "AAAA", "--header", header,
                                    str(body)])
    assert short_key.exit_code == 2 and "32 bytes" in short_key.output
