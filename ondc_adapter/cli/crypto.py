"""Key and signature commands: ``keys generate``, ``sign``, ``verify``, ``challenge decrypt``."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from ondc_adapter import encryption, keys
from ondc_adapter.signing import (
    Ed25519PrivateKey,
    SignatureError,
    load_verify_key,
    sign_request,
    verify_request,
)

keys_app = typer.Typer(help="Generate and inspect node keys.", no_args_is_help=True)
challenge_app = typer.Typer(help="Registry on_subscribe challenge tools.", no_args_is_help=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _read_body(file: Path | None) -> bytes:
    # Bytes untouched: no decoding, no newline handling; what is read is what is signed.
    if file is None or str(file) == "-":
        return sys.stdin.buffer.read()
    try:
        return file.read_bytes()
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror or exc}") from None


@keys_app.command("generate")
def keys_generate(
    subscriber_id: Annotated[str, typer.Option(help="FQDN registered as subscriber_id")],
    unique_key_id: Annotated[str, typer.Option(help="registry ukId for this key pair")],
    out: Annotated[Path, typer.Option(help="folder to write the keys into")],
    valid_days: Annotated[int, typer.Option(help="validity of the key pair in days")] = 365,
) -> None:
    """Write an Ed25519 signing pair and an X25519 encryption pair (private files 0600)."""
    node_keys = keys.new_keys(subscriber_id, unique_key_id, valid_days=valid_days)
    try:
        keys.write_keys(node_keys, out)
    except keys.KeysExistError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {out / keys.PUBLIC_FILE}")
    typer.echo(f"signing_public_key: {node_keys.signing_public_key}")
    typer.echo(f"encryption_public_key: {node_keys.encryption_public_key}")


@keys_app.command("show")
def keys_show(directory: Annotated[Path, typer.Argument(help="key folder")]) -> None:
    """Print the public record of a key folder (never the private keys)."""
    import json

    typer.echo(json.dumps(keys.load_keys(directory).public_record(), indent=2))


def sign(
    private_key: Annotated[str, typer.Option(help="base64 Ed25519 private key (32 or 64 bytes)")],
    subscriber_id: Annotated[str, typer.Option()],
    unique_key_id: Annotated[str, typer.Option()],
    file: Annotated[Path | None, typer.Argument(help="body file; stdin when omitted")] = None,
    created: Annotated[int | None, typer.Option(help="unix seconds; default now")] = None,
    expires: Annotated[int | None, typer.Option(help="unix seconds; default created+300")] = None,
) -> None:
    """Print the Authorization header value for a body."""
    try:
        key = Ed25519PrivateKey.from_base64(private_key)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    start = int(time.time()) if created is None else created
    if expires is not None and expires < start:
        # verify would refuse such a header ("expires is before created"): never print one
        raise _fail(f"--expires {expires} is before created {start}")
    header = sign_request(
        _read_body(file),
        key,
        subscriber_id=subscriber_id,
        unique_key_id=unique_key_id,
        created=start,
        expires=expires,
    )
    typer.echo(header.to_header())


def verify(
    public_key: Annotated[str, typer.Option(help="base64 raw Ed25519 public key")],
    header: Annotated[str, typer.Option(help="Authorization header value")],
    file: Annotated[Path | None, typer.Argument(help="body file; stdin when omitted")] = None,
    now: Annotated[int | None, typer.Option(help="unix seconds to check against")] = None,
    skew: Annotated[int, typer.Option(help="allowed clock skew on created, seconds")] = 5,
) -> None:
    """Exit 0 if the header is a valid signature of the body, else 1 with the reason.

    Exit 2 when the command itself is misused: an unreadable file, a public key that is not
    one."""
    try:
        load_verify_key(public_key)
    except ValueError as exc:
        raise _fail(f"--public-key: {exc}") from None
    try:
        parsed = verify_request(
            _read_body(file),
            header,
            public_key,
            now=time.time() if now is None else now,
            created_skew=skew,
        )
    except SignatureError as exc:
        typer.echo(f"invalid: {exc.reason.value}: {exc.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"valid: keyId={parsed.key_id}")


@challenge_app.command("decrypt")
def challenge_decrypt(
    challenge: Annotated[str, typer.Argument(help="base64 challenge from on_subscribe")],
    private_key: Annotated[str, typer.Option(help="base64 X25519 PKCS#8 private key")],
    peer_public_key: Annotated[str, typer.Option(help="registry's base64 X25519 SPKI key")],
) -> None:
    """Decrypt a registry on_subscribe challenge and print the answer."""
    try:
        typer.echo(encryption.decrypt_challenge(challenge, private_key, peer_public_key))
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
    app.add_typer(challenge_app, name="challenge")
    app.command("sign")(sign)
    app.command("verify")(verify)
