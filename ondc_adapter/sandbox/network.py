"""Starts a whole ONDC network on loopback: registry, gateway, buyer app and the adapter.

Every party gets real keys (test-only, in a temp dir unless one is given) and registers through
the registry's real ``/subscribe`` path (site verification + on_subscribe challenge). All HTTP
clients record into one ``Transcript``. Used by ``sandbox up`` (kept running) and ``sandbox run``
(one flow, then torn down), and by the tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr

from ondc_adapter import keys as node_keys
from ondc_adapter.keys import NodeKeys
from ondc_adapter.orders.policy import SETTLEMENT_ACCOUNT_FIELDS, OrderPolicy
from ondc_adapter.outbound import local_transport
from ondc_adapter.protocol.versions import RetailVersion, parse_versions
from ondc_adapter.sandbox import remote_control
from ondc_adapter.sandbox.buyer import BuyerApp
from ondc_adapter.sandbox.gateway import GatewayState, create_gateway_app
from ondc_adapter.sandbox.lookup import RegistryLookup
from ondc_adapter.sandbox.onboarding import (
    EntityConfig,
    build_subscribe_request,
    sample_entity,
)
from ondc_adapter.sandbox.registry import (
    RegistryConfig,
    RegistryStore,
    create_registry_app,
)
from ondc_adapter.sandbox.servers import RunningServer, bind_loopback, start_server, stop_all
from ondc_adapter.sandbox.transcript import Transcript, recording_client
from ondc_adapter.settings import SUPPORTED_DOMAINS, Settings

# The parties are named as hosts under .localhost (RFC 6761: always loopback; the node's outbound
# client resolves them so, as curl and browsers do), so every context carries a URI that
# contains its subscriber id and no loopback IP, as ONDC's log validator requires.
REGISTRY_ID = "registry.sandbox.localhost"
GATEWAY_ID = "gateway.sandbox.localhost"
BUYER_ID = "buyer.sandbox.localhost"
SELLER_ID = "seller.sandbox.localhost"
SANDBOX_UKID = "sandbox-key-1"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def sandbox_seller_id(settings: Settings) -> str:
    """The adapter's subscriber id in the sandbox: the configured one when it is a name under
    .localhost chosen by the user, else ``seller.sandbox.localhost`` (a real domain would
    resolve to the real internet, not to this machine)."""
    configured = settings.subscriber_id
    default = Settings.model_fields["subscriber_id"].default
    if configured != default and configured.endswith(".localhost"):
        return configured
    return SELLER_ID


def party_url(name: str, sock_address: tuple[Any, ...], bind_host: str) -> str:
    """``http://<subscriber id>:<port>`` for a party on loopback, else the bound address."""
    host, port = sock_address[0], sock_address[1]
    if bind_host in LOOPBACK_HOSTS and name.endswith(".localhost"):
        return f"http://{name}:{port}"
    return f"http://{host}:{port}"


class SubscribeFailed(RuntimeError):
    pass


@dataclass
class NetworkOptions:
    domains: list[str] = field(default_factory=lambda: list(SUPPORTED_DOMAINS))
    work_dir: Path | None = None  # keys and SQLite; a temp dir (removed afterwards) when None
    # default: the settings' database_url when configured (ONDC_DATABASE_URL in the
    # environment or in .env), else SQLite in work_dir
    database_url: str | None = None
    redis_url: str | None = None  # default: the settings' redis_url (ONDC_REDIS_URL, .env)
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=dict)  # fixed ports for `sandbox up`
    seed_file: Path | None = None  # extra registry records
    start_adapter: bool = True
    load_catalogue: bool = True
    console_accounts: bool = False  # `sandbox up`: an operator and a seller for the console
    log_level: str = "warning"
    # retail versions the adapter serves besides its settings' (a 1.2.5 flow needs 1.2.5)
    core_versions: list[str] = field(default_factory=list)


@dataclass
class SandboxNetwork:
    transcript: Transcript
    registry_url: str
    gateway_url: str
    buyer: BuyerApp
    registry_store: RegistryStore
    gateway_state: GatewayState
    servers: list[RunningServer]
    adapter_url: str | None = None
    adapter_settings: Settings | None = None
    adapter_app: Any = None
    admin_api_key: str | None = None
    work_dir: Path | None = None
    clients: list[httpx.AsyncClient] = field(default_factory=list)
    registry_encryption_public_key: str | None = None
    domains: list[str] = field(default_factory=list)
    shared_transport: httpx.AsyncHTTPTransport | None = None
    seller_actions: list[str] | None = None  # of a remote sandbox (`sandbox run --url`)
    joined_at: float | None = None  # `sandbox run --url`: when this process joined (unix s)
    remote_transcript_note: str | None = None  # why the remote exchanges are missing
    # seller console accounts made for this sandbox: [{username, password, role, store}]
    console_accounts: list[dict[str, str]] = field(default_factory=list)

    def local_seller_actions(self) -> list[str]:
        if self.adapter_app is None:
            return []
        from ondc_adapter.sandbox.seller import ServiceSeller

        return ServiceSeller(self.adapter_app).actions()

    async def close_clients(self) -> None:
        for c in self.clients:
            await c.aclose()
        if self.shared_transport is not None:
            await self.shared_transport.aclose()

    def describe(self) -> dict[str, Any]:
        """What `sandbox up` prints and serves at the registry's /sandbox/network."""
        return {
            "registry": self.registry_url,
            "gateway": self.gateway_url,
            "buyer_app": self.buyer.base_url,
            "adapter": self.adapter_url,
            "adapter_subscriber_id": (
                self.adapter_settings.subscriber_id if self.adapter_settings else None
            ),
            "admin_api_key": self.admin_api_key,
            "work_dir": str(self.work_dir) if self.work_dir else None,
            "registry_encryption_public_key": self.registry_encryption_public_key,
            "domains": self.domains,
            # the retail versions the adapter answers in, each buyer in its request's own
            "core_versions": (
                [str(v) for v in self.adapter_settings.core_versions]
                if self.adapter_settings else []
            ),
            "seller_actions": self.local_seller_actions(),
            "console": f"{self.adapter_url}/console/" if self.adapter_url else None,
            "console_accounts": self.console_accounts,
        }

    def client(self, party: str, timeout: float = 5.0) -> httpx.AsyncClient:
        if self.shared_transport is None:
            # The node's own checked transport (outbound.py), with loopback allowed: the parties
            # live on this machine, and names under .localhost resolve here.
            self.shared_transport = local_transport()
        c = recording_client(self.transcript, party, timeout=timeout, inner=self.shared_transport)
        self.clients.append(c)
        return c


def _new_keys(work_dir: Path, name: str, subscriber_id: str) -> NodeKeys:
    keys = node_keys.new_keys(subscriber_id, SANDBOX_UKID)
    node_keys.write_keys(keys, work_dir / "keys" / name)
    return keys


async def subscribe(
    http: httpx.AsyncClient,
    registry_url: str,
    keys: NodeKeys,
    entity: EntityConfig,
    *,
    request_id: str,
    default_subscriber_url: str = "/",
) -> None:
    body = build_subscribe_request(
        keys, entity, request_id=request_id, default_subscriber_url=default_subscriber_url
    )
    response = await http.post(
        registry_url.rstrip("/") + "/subscribe",
        content=body.model_dump_json(),
        headers={"Content-Type": "application/json"},
    )
    try:
        answer = response.json()
        status = answer["message"]["ack"]["status"]
    except (ValueError, KeyError, TypeError):
        raise SubscribeFailed(f"{keys.subscriber_id}: registry answered {response.text}") from None
    if status != "ACK":
        raise SubscribeFailed(f"{keys.subscriber_id}: {answer.get('error')}")


# The sandbox seller accepts each order itself, after on_confirm: on_confirm says Created and
# the acceptance is the unsolicited on_status (Accepted, Pending) that ONDC's retail 1.2.0 flows
# expect as on_status_pending (the log validator refuses an on_status_pending after an
# Accepted on_confirm). The other terms are OrderPolicy's samples.
SANDBOX_TERMS = {"auto_accept": False}


# The sandbox seller's support desk and grievance redressal officer (GRO): the IGM actors of its
# on_issue (the node refuses to answer complaints without them). The user's own settings win.
SANDBOX_OFFICERS = {
    "igm_support_name": "Sandbox Seller Support",
    "igm_support_email": "support@{seller}",
    "igm_support_phone": "9876500001",
    "gro_name": "Sandbox Grievance Officer",
    "gro_email": "gro@{seller}",
    "gro_phone": "9876500002",
}


def sandbox_officers(base: Settings, seller_id: str) -> dict[str, str]:
    return {
        name: getattr(base, name) or value.format(seller=seller_id)
        for name, value in SANDBOX_OFFICERS.items()
    }


def sandbox_terms(work_dir: Path, *, tracking: bool = False) -> Path:
    # A terms file never takes an account from the samples (``load_policy``): the sandbox
    # seller names OrderPolicy's sample accounts itself.
    sample = OrderPolicy()
    accounts = {name: getattr(sample, name) for name in SETTLEMENT_ACCOUNT_FIELDS}
    path = work_dir / "seller-terms.json"
    # Tracking: retail 1.2.5's flows 2, 3 and 012 require track/on_track, so a sandbox that
    # serves 1.2.5 offers it; a 1.2.0-only sandbox keeps the terms its certified flows ran with.
    terms = {**accounts, **SANDBOX_TERMS, **({"tracking": True} if tracking else {})}
    path.write_text(json.dumps(terms))
    return path


def adapter_settings(
    base: Settings,
    *,
    work_dir: Path,
    adapter_url: str,
    registry_url: str,
    registry_public_key: str,
    request_id: str,
    database_url: str,
    redis_url: str | None,
    admin_api_key: str,
    domains: list[str],
    core_versions: list[str] | None = None,
) -> Settings:
    """The adapter's settings inside the sandbox: the user's, pointed at the local network."""
    seller_id = sandbox_seller_id(base)
    served = parse_versions([*base.core_versions, *(core_versions or ())])
    return base.model_copy(
        update={
            **sandbox_officers(base, seller_id),
            "subscriber_id": seller_id,
            "keys_dir": work_dir / "keys" / "adapter",
            "bpp_uri": adapter_url + base.path_prefix,
            "registry_env": "local",
            "registry_url": registry_url,
            "registry_lookup": "v2",
            "registry_encryption_public_key": registry_public_key,
            "site_verification_request_id": request_id,
            "database_url": database_url,
            "redis_url": redis_url,
            # model_copy does not validate: wrap it as the field's type, or every admin call
            # fails on ``get_secret_value`` (NACK 31001 under `sandbox up`).
            "admin_api_key": SecretStr(admin_api_key),
            "domains": domains,
            "core_versions": served,
            # the sandbox's parties all live on loopback
            "allow_private_network": True,
            "seller_terms_file": base.seller_terms_file
            or sandbox_terms(work_dir, tracking=RetailVersion.V1_2_5 in served),
            # every search passes the gateway here: make the adapter insist on its signature
            "search_requires_gateway": True,
        }
    )


async def seed_console_accounts(db: Any) -> list[dict[str, str]]:
    """An operator and a seller of the sample catalogue's first store, with fresh passwords
    (test-only: printed by `sandbox up`)."""
    from sqlalchemy import select

    from ondc_adapter.catalogue.tables import Provider
    from ondc_adapter.console import accounts

    now = datetime.now(UTC)
    made = []
    async with db.session() as session:
        store = await session.scalar(
            select(Provider.id).where(Provider.deleted_at.is_(None)).order_by(Provider.id).limit(1)
        )
        wanted = [("operator", None, "operator")]
        if store is not None:
            wanted.append(("seller", store, f"seller of {store}"))
        for username, provider_id, role in wanted:
            password = secrets.token_urlsafe(12)
            await accounts.add_user(session, username=username, password=password,
                                    provider_id=provider_id, operator=provider_id is None,
                                    now=now)
            made.append({"username": username, "password": password, "role": role,
                         "store": provider_id or "*"})
    return made


async def _load_sample_catalogue(settings: Settings, db: Any) -> None:
    """The sample ODOP catalogue (CATALOGUE's loader), when that package provides one."""
    from ondc_adapter.sandbox.sample_catalogue import SANDBOX_CITY, load_sample_catalogue

    await load_sample_catalogue(settings, db, city=SANDBOX_CITY)


@contextlib.asynccontextmanager
async def start_network(
    options: NetworkOptions | None = None, *, settings: Settings | None = None
) -> AsyncIterator[SandboxNetwork]:
    opts = options or NetworkOptions()
    stack = contextlib.AsyncExitStack()
    async with stack:
        if opts.work_dir is None:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="ondc-sandbox-"))
            work_dir = Path(tmp)
        else:
            work_dir = opts.work_dir
            work_dir.mkdir(parents=True, exist_ok=True)
        transcript = Transcript()
        socks = {
            name: bind_loopback(opts.host, opts.ports.get(name, 0))
            for name in ("registry", "gateway", "buyer", "adapter")
        }
        base_settings = settings or Settings()
        adapter_id = sandbox_seller_id(base_settings)
        names = {"registry": REGISTRY_ID, "gateway": GATEWAY_ID, "buyer": BUYER_ID,
                 "adapter": adapter_id}
        urls = {
            name: party_url(names[name], s.getsockname(), opts.host) for name, s in socks.items()
        }

        # Keys: the registry only needs its X25519 pair (challenges); the rest sign too.
        registry_keys = node_keys.new_keys(REGISTRY_ID, SANDBOX_UKID)
        gateway_keys = _new_keys(work_dir, "gateway", GATEWAY_ID)
        buyer_keys = _new_keys(work_dir, "buyer", BUYER_ID)
        adapter_keys = node_keys.new_keys(adapter_id, base_settings.unique_key_id)
        node_keys.write_keys(adapter_keys, work_dir / "keys" / "adapter")

        network = SandboxNetwork(
            transcript=transcript,
            registry_url=urls["registry"],
            gateway_url=urls["gateway"],
            buyer=None,  # type: ignore[arg-type]  # set below, it needs a client
            registry_store=RegistryStore(),
            gateway_state=GatewayState(),
            servers=[],
            work_dir=work_dir,
            registry_encryption_public_key=registry_keys.encryption_public_key,
            domains=list(opts.domains),
        )

        stack.push_async_callback(network.close_clients)

        async def stop_servers() -> None:
            await stop_all(network.servers)

        stack.push_async_callback(stop_servers)

        if opts.seed_file:
            network.registry_store.seed_file(opts.seed_file)
        registry_config = RegistryConfig(
            keys=registry_keys,
            site_urls={
                GATEWAY_ID: urls["gateway"],
                BUYER_ID: urls["buyer"],
                adapter_id: urls["adapter"],
            },
            allow_site_registration=True,
        )
        registry_app = create_registry_app(
            registry_config, network.registry_store, network.client("registry")
        )

        @registry_app.get("/sandbox/network")
        async def describe() -> dict[str, Any]:
            return network.describe()

        @registry_app.get("/sandbox/transcript")
        async def transcript_for(since: float = 0.0, subscriber_id: str = "") -> JSONResponse:
            """Sandbox only: this process's exchanges since ``since`` (unix seconds), for a
            `sandbox run --url --transcript` in another process; with ``subscriber_id`` (that
            run's buyer app) the exchanges that name or call another such run are left out."""
            exchanges = remote_control.remote_transcript(
                network, registry_config, since=since, subscriber_id=subscriber_id
            )
            return JSONResponse(exchanges)

        @registry_app.post("/sandbox/seller/{action}")
        async def seller_action(action: str, request: Request) -> JSONResponse:
            """Sandbox only: seller actions for a `sandbox run --url` in another process,
            performed on this process's adapter exactly as an in-process run does."""
            raw = await request.body()
            return await remote_control.perform_remote_seller_action(network, action, raw)

        request_ids = {name: str(uuid.uuid4()) for name in ("gateway", "buyer", "adapter")}
        gateway_app = create_gateway_app(
            gateway_keys,
            RegistryLookup(urls["registry"], network.client("gateway"), keys=gateway_keys),
            network.client("gateway"),
            request_id=request_ids["gateway"],
            registry_encryption_public_key=registry_keys.encryption_public_key,
            state=network.gateway_state,
        )
        buyer_http = network.client("buyer")
        buyer = BuyerApp(
            keys=buyer_keys,
            lookup=RegistryLookup(urls["registry"], buyer_http, keys=buyer_keys),
            http=buyer_http,
            gateway_url=urls["gateway"],
            base_url=urls["buyer"],
        )
        network.buyer = buyer
        buyer_app = buyer.app(
            request_id=request_ids["buyer"],
            registry_encryption_public_key=registry_keys.encryption_public_key,
        )
        for name, app in (("registry", registry_app), ("gateway", gateway_app),
                          ("buyer", buyer_app)):
            network.servers.append(
                await start_server(name, app, sock=socks[name], log_level=opts.log_level)
            )

        if opts.start_adapter:
            await _start_adapter(
                network, stack, opts, base_settings, socks["adapter"], urls, registry_keys,
                request_ids["adapter"],
            )
        else:
            socks["adapter"].close()

        sub_http = network.client("subscriber")
        entities = [
            (gateway_keys, sample_entity(opts.domains, participant_type="gateway"),
             request_ids["gateway"], "/"),
            (buyer_keys, sample_entity(opts.domains, participant_type="buyerApp"),
             request_ids["buyer"], "/"),
        ]
        if opts.start_adapter and network.adapter_settings is not None:
            prefix = network.adapter_settings.path_prefix or "/"
            entity = sample_entity(opts.domains, participant_type="sellerApp",
                                   subscriber_url=prefix)
            entity = entity.model_copy(update={"callback_url": prefix})
            entities.append((adapter_keys, entity, request_ids["adapter"], prefix))
        await asyncio.gather(
            *(
                subscribe(sub_http, urls["registry"], k, e, request_id=r,
                          default_subscriber_url=p)
                for k, e, r, p in entities
            )
        )
        yield network


async def _start_adapter(
    network: SandboxNetwork,
    stack: contextlib.AsyncExitStack,
    opts: NetworkOptions,
    base_settings: Settings,
    sock: Any,
    urls: dict[str, str],
    registry_keys: NodeKeys,
    request_id: str,
) -> None:
    from ondc_adapter.api.app import create_app
    from ondc_adapter.storage.engine import Database

    work_dir = network.work_dir or Path(tempfile.gettempdir())
    database_url, redis_url = storage_urls(opts, base_settings, work_dir)
    admin_key = (
        base_settings.admin_api_key.get_secret_value()
        if base_settings.admin_api_key
        else secrets.token_urlsafe(18)
    )
    settings = adapter_settings(
        base_settings,
        work_dir=work_dir,
        adapter_url=urls["adapter"],
        registry_url=urls["registry"],
        registry_public_key=registry_keys.encryption_public_key,
        request_id=request_id,
        database_url=database_url,
        redis_url=redis_url,
        admin_api_key=admin_key,
        domains=opts.domains,
        core_versions=opts.core_versions,
    )
    db = Database(database_url)
    stack.push_async_callback(db.dispose)
    await db.migrate()
    if opts.load_catalogue:
        await _load_sample_catalogue(settings, db)
        if opts.console_accounts:
            network.console_accounts = await seed_console_accounts(db)
    redis = None
    if redis_url:
        import redis.asyncio as aioredis

        redis = aioredis.from_url(redis_url)
        stack.push_async_callback(redis.aclose)
    app = create_app(
        settings,
        db=db,
        redis=redis,
        http_client=network.client("adapter", timeout=settings.callback_timeout),
        run_workers=True,
        redis_prefix=f"ondc-sandbox:{uuid.uuid4().hex[:8]}:",
    )
    network.adapter_settings = settings
    network.adapter_app = app
    network.admin_api_key = admin_key
    network.adapter_url = urls["adapter"]
    network.servers.append(await start_server("adapter", app, sock=sock, log_level=opts.log_level))


def storage_urls(
    opts: NetworkOptions, settings: Settings, work_dir: Path
) -> tuple[str, str | None]:
    """(database URL, Redis URL) of the sandbox's adapter: the options', else what the settings
    were given (``ONDC_DATABASE_URL`` / ``ONDC_REDIS_URL`` from the environment or ``.env``,
    read by pydantic-settings), else SQLite in ``work_dir`` and no Redis. The settings' own
    default database (``./ondc-adapter.db``) is never used: a sandbox must not write into the
    seller's database file unless told to."""
    database_url = opts.database_url
    if database_url is None and "database_url" in settings.model_fields_set:
        database_url = settings.database_url
    redis_url = opts.redis_url or settings.redis_url
    return database_url or f"sqlite+aiosqlite:///{work_dir / 'adapter.db'}", redis_url or None
