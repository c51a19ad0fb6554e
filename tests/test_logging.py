"""Log lines are JSON and never carry key material."""

from __future__ import annotations

import io
import json

from ondc_adapter.logging import configure_logging, get_logger
from ondc_adapter.signing import Ed25519PrivateKey


def test_json_lines_and_secrets_redacted() -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", json=True, stream=stream)
    key = Ed25519PrivateKey.generate()
    secret = key.to_base64()
    log = get_logger("t")
    log.info(
        "loaded", private_key=secret, signing_private_key=secret, authorization="Signature x",
        admin_api_key="k", subscriber_id="seller.example.com", key=key,
        request={"headers": {"Authorization": "Signature x"}, "keys": [{"private_key": secret}]},
    )
    line = stream.getvalue().strip()
    record = json.loads(line)
    assert record["event"] == "loaded" and record["subscriber_id"] == "seller.example.com"
    assert secret not in line
    assert record["private_key"] == record["authorization"] == "[redacted]"
    assert record["request"]["headers"]["Authorization"] == "[redacted]"
    assert record["request"]["keys"] == [{"private_key": "[redacted]"}]
    assert secret[:20] not in record["key"]  # repr of a key object shows only the public key
