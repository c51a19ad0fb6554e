"""The FastAPI application of the seller node.

``create_app(settings, ...)`` wires one request's path (see README "Architecture"):

    POST {prefix}/{action} -> InboundPipeline (verify, validate, record, ACK)
    background: InboxProcessor (seller logic -> outbox) and Dispatcher (signed callbacks)

Everything the app needs can be injected (database, Redis, key resolver, handlers, HTTP client,
clock) so tests and the sandbox run the real app against doubles; whatever is not injected is
built from ``settings`` in the lifespan and closed there. ``app.state`` carries ``settings``,
``db``, ``keys`` (and the pipeline pieces) for routers that need them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import redis.asyncio as aioredis
from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ondc_adapter import keys as node_keys
from ondc_adapter.admission import AdmissionControl, Limits
from ondc_adapter.api import health, onboarding
from ondc_adapter.api.auth import SignatureVerifier
from ondc_adapter.api.nack import internal_error
from ondc_adapter.api.pipeline import InboundPipeline
from ondc_adapter.callback_http import CallbackClient
from ondc_adapter.catalogue import admin as catalogue_admin
from ondc_adapter.catalogue import link as catalogue_link
from ondc_adapter.catalogue import offer_admin
from ondc_adapter.catalogue.handler import CACHE_KEY, INDEX_KEY, REPLY_CACHE_KEY
from ondc_adapter.catalogue.on_search_cache import OnSearchCache
from ondc_adapter.catalogue.reply_cache import ReplyCache
from ondc_adapter.catalogue.search import SearchIndex
from ondc_adapter.catalogue.warmup import warm_up
from ondc_adapter.console.web import add_console
from ondc_adapter.dispatcher import Dispatcher
from ondc_adapter.exchange import Handler
from ondc_adapter.handlers import default_handlers
from ondc_adapter.igm import admin as igm_admin
from ondc_adapter.igm.watch import DeadlineWatcher
from ondc_adapter.inbox import Inbox
from ondc_adapter.logging import get_logger
from ondc_adapter.metrics import NodeMetrics
from ondc_adapter.orders import admin as orders_admin
from ondc_adapter.orders.policy import OrderPolicy, load_policy
from ondc_adapter.outbound import AddressPolicy, outbound_client
from ondc_adapter.processor import InboxProcessor
from ondc_adapter.ratelimit import RateLimiter
from ondc_adapter.registry import KeyResolver, RegistryClient
from ondc_adapter.settings import Settings
from ondc_adapter.storage.engine import Database

log = get_logger(__name__)

# Callbacks a worker sends at once; as many kept-alive connections per buyer app, so none of
# them waits for a connection.
CALLBACKS_IN_FLIGHT = 64


def admin_routers() -> list[APIRouter]:
    """The seller admin API: catalogue (with its offers), orders and issues."""
    return [catalogue_admin.router, offer_admin.router, orders_admin.router, igm_admin.router]


def seller_extras(settings: Settings) -> dict[str, object]:
    """Per-process state the seller logic shares across requests: the catalogue search index
    (kept warm, caught up incrementally), the serialised items kept between searches
    (``ONDC_ON_SEARCH_CACHE_MB``) and the seller's commercial terms."""
    if settings.seller_terms_file is not None:
        policy = load_policy(settings.seller_terms_file)
    elif settings.registry_env == "local":
        policy = OrderPolicy()  # sample terms: only ever on the local sandbox network
    else:
        raise ValueError(
            "ONDC_SELLER_TERMS_FILE is required outside the local sandbox: the built-in terms "
            "carry sample tax numbers and settlement accounts (see docs/seller-terms.example.json)"
        )
    cache = OnSearchCache(max_chars=settings.on_search_cache_mb * 2**20)
    extras: dict[str, object] = {INDEX_KEY: SearchIndex(), CACHE_KEY: cache, "order_policy": policy}
    if settings.search_reply_cache_seconds > 0:
        extras[REPLY_CACHE_KEY] = ReplyCache(seconds=settings.search_reply_cache_seconds)
    return extras


async def _warm_catalogue(database: Database, extras: dict[str, object]) -> None:
    """``catalogue.warmup.warm_up`` for the app's index and cache; a failure is logged (the
    node still works: both fill on first use)."""
    index, cache = extras.get(INDEX_KEY), extras.get(CACHE_KEY)
    if not isinstance(index, SearchIndex):
        return
    try:
        done = await warm_up(database, index, cache if isinstance(cache, OnSearchCache) else None)
    except Exception as exc:  # the database may be busy or down: searches will retry
        log.warning("catalogue.warm_up_failed", error=repr(exc))
        return
    # the index and cache live as long as the process, like the start-up objects
    gc.freeze()
    log.info("catalogue.warmed", items_indexed=done.indexed, items_cached=done.cached,
             seconds=round(done.seconds, 2))


def utc_now() -> datetime:
    return datetime.now(UTC)


def load_node_keys(settings: Settings) -> node_keys.NodeKeys:
    keys = node_keys.load_keys(settings.keys_dir)
    if keys.subscriber_id != settings.subscriber_id or keys.unique_key_id != settings.unique_key_id:
        # Signing as someone else would make every callback fail verification at the peer.
        raise ValueError(
            f"keys in {settings.keys_dir} belong to {keys.subscriber_id}|{keys.unique_key_id}, "
            f"but this node is configured as {settings.subscriber_id}|{settings.unique_key_id}"
        )
    return keys


def create_app(
    settings: Settings,
    *,
    db: Database | None = None,
    redis: aioredis.Redis | None = None,
    key_resolver: KeyResolver | None = None,
    handlers: dict[str, Handler] | None = None,
    http_client: httpx.AsyncClient | None = None,
    clock: Callable[[], datetime] | None = None,
    run_workers: bool = True,
    redis_prefix: str = "ondc:",
    redis_dedupe: bool = False,
    metrics: NodeMetrics | None = None,
) -> FastAPI:
    """The node's ASGI app. Injected resources are used as they are and left open; resources
    built here from ``settings`` are closed when the app stops.

    ``redis_dedupe`` turns on the inbox's Redis fast path for duplicates. Off by default: the
    database constraint is the authority either way, and for the common case (a new request)
    the extra round trip only adds latency.

    ``metrics``: this app's Prometheus metrics (``app.state.metrics``); a fresh registry per
    app when not given, so apps sharing a process never share counters."""
    now = clock or utc_now
    node_metrics = metrics if metrics is not None else NodeMetrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            keys = load_node_keys(settings)
            extras = seller_extras(settings)
            database = db
            if database is None:
                database = Database(settings.database_url)
                stack.push_async_callback(database.dispose)
                await database.migrate()
            cache = redis
            if cache is None and settings.redis_url:
                # Bounded waits: a hung Redis must degrade to registry lookups and database
                # de-duplication, not stall every request behind a socket read.
                cache = aioredis.from_url(
                    settings.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5
                )
                stack.push_async_callback(cache.aclose)
            http = http_client
            if http is None:
                # Every outbound call (callbacks, registry lookups) goes through the checked
                # client: no private targets, no redirects, bounded answers (outbound.py).
                http = outbound_client(
                    allow_private=settings.allow_private_network,
                    connect_timeout=settings.outbound_connect_timeout,
                    read_timeout=settings.callback_timeout,
                )
                stack.push_async_callback(http.aclose)
            resolver = key_resolver or RegistryClient(
                settings,
                keys=keys,
                http_client=http,
                redis=cache,
                redis_prefix=redis_prefix,
                clock=now,
                metrics=node_metrics,
            )
            callbacks: httpx.AsyncClient | CallbackClient = http
            if http_client is None:
                # Callbacks are most of what the node sends: the lean client, same rules.
                callbacks = CallbackClient(
                    AddressPolicy(allow_private=settings.allow_private_network),
                    connect_timeout=settings.outbound_connect_timeout,
                    read_timeout=settings.callback_timeout,
                    max_connections_per_host=CALLBACKS_IN_FLIGHT,
                )
                stack.push_async_callback(callbacks.aclose)
            dispatcher = Dispatcher(
                database, settings, keys, callbacks, clock=now, metrics=node_metrics,
                max_in_flight=CALLBACKS_IN_FLIGHT,
            )
            processor = InboxProcessor(
                database,
                settings,
                handlers if handlers is not None else default_handlers(settings),
                clock=now,
                on_enqueued=dispatcher.wake,
                # the callbacks it writes go to this worker's dispatcher in memory, leased
                sink=dispatcher if run_workers else None,
                metrics=node_metrics,
                extras={"db": database, "redis": cache, "keys": keys, **extras},
                batch_size=settings.processor_batch,
            )
            inbox = Inbox(
                database,
                redis=cache if redis_dedupe else None,
                redis_prefix=redis_prefix,
                on_commit=processor.wake,
                keep_connections=True,  # closed by inbox.close() below
            )
            verifier = SignatureVerifier(
                resolver,
                realm=settings.subscriber_id,
                created_skew=settings.created_skew_seconds,
                search_requires_gateway=settings.search_requires_gateway,
                metrics=node_metrics,
            )
            state = app.state
            state.keys, state.db, state.redis, state.resolver = keys, database, cache, resolver
            state.inbox, state.processor, state.dispatcher = inbox, processor, dispatcher
            admission = (
                AdmissionControl(
                    database,
                    Limits(settings.admission_search_seconds, settings.admission_order_seconds,
                           settings.admission_max_pending),
                    clock=now, metrics=node_metrics,
                )
                if settings.admission_control
                else None
            )
            state.pipeline = InboundPipeline(
                settings, verifier=verifier, inbox=inbox, clock=now, metrics=node_metrics,
                limiter=RateLimiter(
                    settings.rate_limit_per_second, redis=cache, prefix=redis_prefix
                ),
                admission=admission,
            )

            stop = asyncio.Event()
            tasks: list[asyncio.Task[None]] = []
            if run_workers:
                # Several processor loops per worker on PostgreSQL (rows are claimed with SKIP
                # LOCKED, so each request is still processed once): one request waiting on the
                # database no longer holds up the ones behind it. SQLite has one writer: one loop.
                loops = settings.processor_concurrency if database.is_postgres else 1
                tasks = [
                    *(
                        asyncio.create_task(processor.run(stop), name=f"inbox-processor-{n}")
                        for n in range(max(1, loops))
                    ),
                    asyncio.create_task(dispatcher.run(stop), name="outbox-dispatcher"),
                    # IGM deadlines -> gauges and log lines; warns at start without a GRO
                    asyncio.create_task(
                        DeadlineWatcher(database, settings, node_metrics, clock=now).run(stop),
                        name="igm-deadline-watcher",
                    ),
                ]
            # Everything allocated so far (schemas, routes, metadata) lives as long as the
            # process: freezing it keeps the collector from rescanning it on every full pass.
            gc.freeze()
            warming: asyncio.Task[None] | None = None
            if run_workers and settings.catalogue_warm_up:
                warming = asyncio.create_task(
                    _warm_catalogue(database, extras), name="catalogue-warm-up"
                )
            log.info(
                "node.started",
                subscriber_id=settings.subscriber_id,
                database=database.engine.dialect.name,
                redis=cache is not None,
                workers=run_workers,
            )
            try:
                yield
            finally:
                if warming is not None:
                    warming.cancel()
                    await asyncio.gather(warming, return_exceptions=True)
                stop.set()
                processor.wake()
                dispatcher.wake()
                if tasks:
                    # Let an in-flight row finish (its transaction is atomic either way).
                    _, pending = await asyncio.wait(tasks, timeout=10)
                    for task in pending:
                        task.cancel()
                    await asyncio.gather(*pending, return_exceptions=True)
                await inbox.close()
                log.info("node.stopped", subscriber_id=settings.subscriber_id)

    app = NodeApp(
        protocol_prefix=settings.path_prefix,
        reserved=frozenset({onboarding.on_subscribe_path(settings)}),
        title="ondc-adapter seller node",
        lifespan=lifespan,
        docs_url=None,  # served below from local files: no asset is fetched from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = node_metrics

    async def unexpected(request: Request, exc: Exception) -> Response:
        # Last resort for routes outside the pipeline (which catches its own): never a 500.
        log.exception("http.unexpected_error", path=request.url.path, error=repr(exc))
        return internal_error("internal error; retry later").response()

    app.add_exception_handler(Exception, unexpected)

    add_local_docs(app)
    add_console(app)
    onboarding.add_routes(app, settings)
    health.add_routes(app, node_metrics)
    for router in admin_routers():
        app.include_router(router)
    # GET {prefix}/catalogue/{domain}/{token}.zip: the on_search catalog_link files (public)
    app.include_router(catalogue_link.router, prefix=settings.path_prefix)

    async def protocol_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        pipeline: InboundPipeline = scope["app"].state.pipeline
        await pipeline(scope, receive, send)

    # A raw ASGI route (see InboundPipeline.__call__), checked right after on_subscribe (the
    # only path it would shadow) and before everything else, so the hot path also skips the
    # scan over the admin routes.
    protocol = Route(
        f"{settings.path_prefix}/{{action}}",
        _AsgiEndpoint(protocol_endpoint),
        methods=["POST"],
        include_in_schema=False,
    )
    routes = app.router.routes
    subscribe_path = onboarding.on_subscribe_path(settings)
    subscribe = [r for r in routes if getattr(r, "path", None) == subscribe_path]
    routes[:] = [*subscribe, protocol, *(r for r in routes if r not in subscribe)]
    return app


def add_local_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) from the files of the ``swagger-ui-bundle`` package, served by
    the node itself: the page works offline and loads nothing from another host."""
    import swagger_ui_bundle
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    app.mount(
        "/docs-assets", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets"
    )

    async def docs() -> Response:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )

    app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)


class NodeApp(FastAPI):
    """The node's FastAPI app, with a direct entry for the protocol route.

    ``POST {prefix}/{action}`` is the hot path, and the pipeline already answers every request
    itself (it catches everything, sends its own NACKs, never a 500). Going through FastAPI's
    middleware stack (error middleware, telemetry check, body-limit wrapper, exception
    middleware, exit stack, router scan: six awaits, a telemetry check reading the environment
    and two send wrappers on every request) was ~8% of the ACK path's CPU in a py-spy profile
    of bench/ack_throughput.py, about as much as everything else besides Ed25519, JSON and the
    database put together. So such requests are
    handed to the pipeline here; everything else, and every request whenever the stack could
    add something (middleware added by a deployer, FastAPI's native telemetry configured, a
    root_path, the lifespan not run), goes through the normal stack, where the same route is
    still registered."""

    def __init__(self, *, protocol_prefix: str, reserved: frozenset[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._protocol_prefix = protocol_prefix + "/"
        self._reserved = reserved  # paths of the shape {prefix}/{x} served by other routes
        self._direct: bool | None = None  # decided on the first request (see _direct_ok)

    def _direct_ok(self) -> bool:
        # Decided once, when the first request arrives (middleware can no longer be added then,
        # and telemetry providers are installed at process start).
        telemetry = getattr(self, "_native_telemetry", None)
        enabled = getattr(telemetry, "enabled", None)
        return not self.user_middleware and not self.root_path and not (enabled and enabled())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            prefix = self._protocol_prefix
            # The same paths the Route "{prefix}/{action}" matches: one non-empty segment.
            if (
                path.startswith(prefix)
                and path not in self._reserved
                and not scope.get("root_path")
            ):
                action = path[len(prefix) :]
                pipeline: InboundPipeline | None = getattr(self.state, "pipeline", None)
                if action and "/" not in action and pipeline is not None:
                    if self._direct is None:
                        self._direct = self._direct_ok()
                    if self._direct:
                        scope["app"] = self  # as Starlette does: endpoints may read app.state
                        await pipeline.serve(scope, receive, send, action)
                        return
        await super().__call__(scope, receive, send)


class _AsgiEndpoint:
    """Starlette treats a plain function as a request/response endpoint; an object is called
    as an ASGI app, which is what the protocol route wants."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (used by ``ondc-adapter serve --workers N``)."""
    from ondc_adapter.logging import configure_logging

    settings = Settings()
    configure_logging(settings.log_level, json=settings.log_json)
    return create_app(settings)
