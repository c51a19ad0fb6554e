"""``ondc-adapter registry``: onboarding to an ONDC registry (``subscribe``) and key lookups
(``lookup``). See docs/onboarding.md for the whole procedure."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from ondc_adapter import keys as node_keys
from ondc_adapter.settings import REGISTRY_URLS, Settings

if TYPE_CHECKING:
    import httpx

registry_app = typer.Typer(help="ONDC registry: subscribe and lookup.", no_args_is_help=True)

Env = Literal["staging", "preprod", "prod", "local"]
# pre-prod serves the v1 APIs under /ondc (protocol.md 2.1); v2.0 lookup is uniform.
_V1_PREFIX = {"staging": "", "preprod": "/ondc", "prod": "", "local": ""}


def registry_base(env: str, settings: Settings, override: str | None) -> str:
    if override:
        return override.rstrip("/")
    if env == "local":
        return settings.registry_url.rstrip("/")
    return REGISTRY_URLS[env]


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@registry_app.command("subscribe")
def subscribe(
    env: Annotated[str, typer.Option(help="staging | preprod | prod | local")] = "staging",
    entity: Annotated[
        Path, typer.Option(help="entity file (GST, PAN, contact): docs/entity.example.yaml")
    ] = Path("entity.yaml"),
    dry_run: Annotated[bool, typer.Option(help="print the signed payload, do not send")] = False,
    request_id: Annotated[
        str | None,
        typer.Option(help="default: ONDC_SITE_VERIFICATION_REQUEST_ID (what the page signs)"),
    ] = None,
    registry_url: Annotated[str | None, typer.Option(help="override the registry base URL")] = None,
) -> None:
    """Build the /subscribe payload from settings + entity file and send it (or print it)."""
    import httpx

    from ondc_adapter.sandbox.onboarding import (
        build_subscribe_request,
        load_entity_config,
        site_verification_html,
    )

    if env not in _V1_PREFIX:
        raise _fail(f"--env must be one of {', '.join(_V1_PREFIX)}")
    settings = Settings()
    try:
        keys = node_keys.load_keys(Path(settings.keys_dir))
        config = load_entity_config(entity)
    except (OSError, ValueError) as exc:
        raise _fail(str(exc)) from None
    rid = request_id or settings.site_verification_request_id
    if rid is None:
        if not dry_run:
            raise _fail(
                "set ONDC_SITE_VERIFICATION_REQUEST_ID (the adapter signs it on "
                "/ondc-site-verification.html) and restart the adapter before subscribing; "
                "--dry-run shows a payload with a fresh id"
            )
        rid = str(uuid.uuid4())
    prefix = settings.path_prefix or "/"
    if config.callback_url == "/" and prefix != "/":
        config = config.model_copy(update={"callback_url": prefix})
    try:
        payload = build_subscribe_request(
            keys, config, request_id=rid, default_subscriber_url=prefix, domains=settings.domains
        )
    except ValueError as exc:
        raise _fail(str(exc)) from None
    url = registry_base(env, settings, registry_url) + _V1_PREFIX[env] + "/subscribe"
    body = payload.model_dump_json()
    if dry_run:
        typer.echo(f"# POST {url}", err=True)
        typer.echo(f"# request_id {rid}: the adapter must serve on "
                   f"https://{keys.subscriber_id}/ondc-site-verification.html:", err=True)
        typer.echo(f"# {site_verification_html(keys, rid)}", err=True)
        typer.echo(json.dumps(json.loads(body), indent=2))
        return

    async def send() -> httpx.Response:
        async with registry_client(settings, env, timeout=30) as client:
            return await client.post(url, content=body,
                                     headers={"Content-Type": "application/json"})

    try:
        response = asyncio.run(send())
    except httpx.HTTPError as exc:
        raise _fail(f"POST {url}: {exc}", 1) from None
    typer.echo(response.text)
    try:
        acked = response.json()["message"]["ack"]["status"] == "ACK"
    except (ValueError, KeyError, TypeError):
        acked = False
    if not acked:
        raise typer.Exit(1)


def registry_client(settings: Settings, env: str, *, timeout: float) -> httpx.AsyncClient:
    """The outbound client (outbound.py) for a registry call. A ``local`` registry lives on the
    operator's own network by definition, so private addresses are allowed for it."""
    from ondc_adapter.outbound import outbound_client

    return outbound_client(
        allow_private=settings.allow_private_network or env == "local",
        connect_timeout=settings.outbound_connect_timeout,
        read_timeout=timeout,
    )


@registry_app.command("lookup")
def lookup(
    subscriber_id: Annotated[str | None, typer.Option(help="subscriber to look up")] = None,
    ukid: Annotated[str | None, typer.Option(help="unique key id (ukId)")] = None,
    type_: Annotated[
        str | None, typer.Option("--type", help="BAP | BPP | BG (or buyerApp/sellerApp/gateway)")
    ] = None,
    domain: Annotated[str | None, typer.Option(help="e.g. ONDC:RET16")] = None,
    city: Annotated[str | None, typer.Option(help="e.g. std:080")] = None,
    env: Annotated[str, typer.Option(help="staging | preprod | prod | local")] = "local",
    v1: Annotated[bool, typer.Option(help="unsigned v1 /lookup instead of signed /v2.0")] = False,
    registry_url: Annotated[str | None, typer.Option(help="override the registry base URL")] = None,
) -> None:
    """Ask the registry for participant records (v2.0 signed with this node's key by default)."""

    from ondc_adapter.sandbox.lookup import LookupFailed, RegistryLookup

    if env not in _V1_PREFIX:
        raise _fail(f"--env must be one of {', '.join(_V1_PREFIX)}")
    settings = Settings()
    query = {k: v for k, v in {"subscriber_id": subscriber_id, "ukId": ukid, "type": type_,
                               "domain": domain, "city": city}.items() if v}
    if not query:
        raise _fail("give at least one of --subscriber-id, --ukid, --type, --domain, --city")
    keys = None
    if not v1:
        try:
            keys = node_keys.load_keys(Path(settings.keys_dir))
        except (OSError, ValueError) as exc:
            raise _fail(f"v2.0 lookup signs with this node's keys: {exc} (or use --v1)") from None
    base = registry_base(env, settings, registry_url)
    if v1:
        base += _V1_PREFIX[env]

    async def ask() -> list[dict[str, object]]:
        async with registry_client(settings, env, timeout=settings.registry_timeout + 5) as client:
            client_lookup = RegistryLookup(base, client, keys=keys, version="v1" if v1 else "v2")
            client_lookup.cache_seconds = 0
            records = await client_lookup.lookup(query, only_subscribed=False)
            return [r.model_dump() for r in records]

    try:
        records = asyncio.run(ask())
    except LookupFailed as exc:
        raise _fail(str(exc), 1) from None
    typer.echo(json.dumps(records, indent=2))


def register(app: typer.Typer) -> None:
    app.add_typer(registry_app, name="registry")
