"""The "catalog as link" search form (protocol.md 4.1, 4.2).

A buyer app that asks for the full catalogue with::

    "intent": {"tags": [{"code": "catalog_full",
                         "list": [{"code": "payload_type", "value": "link"}]}]}

gets an ``on_search`` whose providers (those serving ``context.city``, as for the inline full
catalogue) carry their whole header (descriptor, locations, serviceability, timing...) but no
``categories`` or ``items``; instead each has the tag::

    {"code": "catalog_link", "list": [
        {"code": "type", "value": "link"},
        {"code": "type_value", "value": "{bpp_uri}/catalogue/RET12/<token>.zip"},
        {"code": "type_validity", "value": "PT24H"},
        {"code": "last_update", "value": "2026-03-01T09:00:00.000Z"}]}

The URL serves (GET) a zip with one member, ``catalog.json``: the whole live catalogue of the
domain as one full ``on_search`` message (``{"catalog": {...}}``, every enabled provider of
the domain with all its live items; a buyer app picks a provider by ``id``). The same
document uncompressed is at the same URL with ``.json`` instead of ``.zip``.

The token is a hash of the domain, ``last_update`` (the newest change of the domain's items,
their providers, locations and variant groups), the item count, the UTC date (store holidays
in the past are dropped day by day) and the node's descriptor, so the URL stays the same while
the catalogue does and every change gives a new one: a response is immutable and may be
cached. The file is built on the first GET and kept on disk (``app.state.catalogue_link_dir``,
default a directory under the system temp dir); files older than two days are removed. A GET
of a token that is neither current nor on disk is redirected (302) to the current URL.
Catalogue data is public; the token is not a secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import tempfile
import time
import uuid
import zipfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from ondc_adapter.catalogue.bpp_profile import BppProfile
from ondc_adapter.catalogue.cities import CityDirectory
from ondc_adapter.catalogue.link_text import iter_link_pages, stream_catalogue
from ondc_adapter.catalogue.page_builder import Page
from ondc_adapter.catalogue.search import SearchIndex
from ondc_adapter.catalogue.tables import Item, Location, Provider, VariantGroup
from ondc_adapter.protocol.durations import format_timestamp
from ondc_adapter.settings import Settings
from ondc_adapter.storage import Database

CATALOG_FULL = "catalog_full"
CATALOG_LINK = "catalog_link"
LINK_VALIDITY = "PT24H"
FORMAT_VERSION = "1"  # part of the token: bump when the file's layout changes
ZIP_MEMBER = "catalog.json"
DIR_STATE = "catalogue_link_dir"  # app.state attribute: where the files are kept
KEEP_SECONDS = 2 * 86400
CACHE_CONTROL = "public, max-age=86400, immutable"
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


def wants_link(intent: dict[str, Any]) -> bool:
    """Does the intent carry ``catalog_full`` with ``payload_type=link``?"""
    for tag in intent.get("tags") or []:
        if isinstance(tag, dict) and tag.get("code") == CATALOG_FULL:
            for entry in tag.get("list") or []:
                if (
                    isinstance(entry, dict) and entry.get("code") == "payload_type"
                    and str(entry.get("value", "")).lower() == "link"
                ):
                    return True
    return False


def domain_slug(domain: str) -> str:
    """``ONDC:RET12`` -> ``RET12`` (the URL's path segment)."""
    return domain.split(":", 1)[1] if domain.startswith("ONDC:") else domain


def slug_domain(slug: str) -> str:
    return slug if ":" in slug else f"ONDC:{slug}"


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class CatalogueVersion:
    """What the linked file of a domain holds right now."""

    domain: str
    last_update: datetime | None  # None: the domain has no items
    token: str

    def url(self, settings: Settings, suffix: str = "zip") -> str:
        return f"{settings.bpp_uri}/catalogue/{domain_slug(self.domain)}/{self.token}.{suffix}"

    def tag(self, settings: Settings, now: datetime) -> dict[str, Any]:
        """The provider tag ``catalog_link``."""
        last = self.last_update if self.last_update is not None else now
        return {
            "code": CATALOG_LINK,
            "list": [
                {"code": "type", "value": "link"},
                {"code": "type_value", "value": self.url(settings)},
                {"code": "type_validity", "value": LINK_VALIDITY},
                {"code": "last_update", "value": format_timestamp(min(last, now))},
            ],
        }


async def catalogue_version(
    session: AsyncSession, domain: str, *, profile: BppProfile, now: datetime
) -> CatalogueVersion:
    """The current version of ``domain``'s catalogue (five aggregates, one round trip)."""
    providers = select(Item.provider_id).where(Item.domain == domain)
    stmt = select(
        select(func.max(Item.updated_at)).where(Item.domain == domain).scalar_subquery(),
        select(func.count()).select_from(Item).where(Item.domain == domain).scalar_subquery(),
        select(func.max(Provider.updated_at))
        .where(Provider.id.in_(providers)).scalar_subquery(),
        select(func.max(Location.updated_at))
        .where(Location.provider_id.in_(providers)).scalar_subquery(),
        select(func.max(VariantGroup.updated_at))
        .where(VariantGroup.provider_id.in_(providers)).scalar_subquery(),
    )
    item_max, count, *others = (await session.execute(stmt)).one()
    stamps = [s for s in (_aware(v) for v in (item_max, *others)) if s is not None]
    last = max(stamps) if stamps else None
    seed = "\n".join([
        FORMAT_VERSION,
        domain,
        format_timestamp(last) if last is not None else "-",
        str(count or 0),
        now.date().isoformat(),
        json.dumps(profile.descriptor(), sort_keys=True, ensure_ascii=False),
    ])
    token = hashlib.sha256(seed.encode("utf-8")).hexdigest()[:32]
    return CatalogueVersion(domain, last, token)


async def link_search_pages(
    session: AsyncSession,
    *,
    intent: dict[str, Any],
    domain: str,
    city: str,
    index: SearchIndex | None,
    profile: BppProfile,
    settings: Settings,
    now: datetime,
    cities: CityDirectory | None = None,
) -> AsyncIterator[Page]:
    """The ``on_search`` pages answering a "catalog as link" search: the providers serving
    the buyer (``context.city``, or the intent's end location when given; optionally only
    those offering ``intent.fulfillment.type``), each with the ``catalog_link`` tag. Other
    intent filters (item name, category, odop...) do not apply: the link is the full
    catalogue."""
    index = index if index is not None else SearchIndex()
    await index.refresh_providers(session)  # serviceability needs providers only
    providers = index.providers_for_intent(intent, city=city, cities=cities)
    if settings.search_stores == "located":  # only the stores in the city answer
        local = index.stores_in_city(providers, city=city, cities=cities)
        providers = [p for p in providers if p in local]
    version = await catalogue_version(session, domain, profile=profile, now=now)
    return iter_link_pages(
        session, profile=profile, max_bytes=settings.on_search_max_bytes, now=now,
        domain=domain, provider_ids=providers, extra_tags=[version.tag(settings, now)],
    )


# ---------------------------------------------------------------- the files


class CatalogueFiles:
    """The linked files of one node, ``<directory>/<RET12>/<token>.zip``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._locks: dict[str, asyncio.Lock] = {}

    def path(self, domain: str, token: str) -> Path:
        return self.directory / domain_slug(domain) / f"{token}.zip"

    async def ensure(
        self, db: Database, version: CatalogueVersion, *, profile: BppProfile, now: datetime
    ) -> Path:
        """The file of ``version``, built first if it is not on disk yet."""
        path = self.path(version.domain, version.token)
        if path.exists():
            return path
        lock = self._locks.setdefault(version.token, asyncio.Lock())
        async with lock:
            if not path.exists():
                await self._build(db, version, path, profile=profile, now=now)
                self._prune(path)
        self._locks.pop(version.token, None)
        return path

    async def _build(
        self, db: Database, version: CatalogueVersion, path: Path, *, profile: BppProfile,
        now: datetime,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.tmp")
        stamp = version.last_update or datetime(1980, 1, 1, tzinfo=UTC)
        info = zipfile.ZipInfo(ZIP_MEMBER, date_time=stamp.timetuple()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        try:
            with zipfile.ZipFile(partial, "w") as archive:
                member = archive.open(info, "w", force_zip64=True)
                try:
                    async with db.session() as session:
                        async for chunk in stream_catalogue(
                            session, profile=profile, now=now, domain=version.domain
                        ):
                            # compression off the event loop: the node keeps ACKing meanwhile
                            await asyncio.to_thread(member.write, chunk.encode("utf-8"))
                finally:
                    await asyncio.to_thread(member.close)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)

    def _prune(self, keep: Path) -> None:
        cutoff = time.time() - KEEP_SECONDS
        for old in keep.parent.iterdir():
            if old == keep:
                continue
            try:
                if old.stat().st_mtime < cutoff:
                    old.unlink()
            except OSError:  # another worker removed it first
                continue


_FILES: dict[Path, CatalogueFiles] = {}


def _files(request: Request, settings: Settings) -> CatalogueFiles:
    directory = getattr(request.app.state, DIR_STATE, None)
    if directory is None:
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", settings.subscriber_id)
        directory = Path(tempfile.gettempdir()) / "ondc-adapter-catalogue" / safe
    directory = Path(directory)
    files = _FILES.get(directory)
    if files is None:
        files = _FILES[directory] = CatalogueFiles(directory)
    return files


def _seller_state(request: Request) -> tuple[BppProfile, datetime]:
    """The profile and clock the seller logic uses (the inbox processor's), so the token
    computed here is the one ``on_search`` announced."""
    from ondc_adapter.catalogue.handler import PROFILE_KEY

    processor = getattr(request.app.state, "processor", None)
    deps = getattr(processor, "deps", None)
    profile = getattr(deps, "extras", {}).get(PROFILE_KEY)
    clock = getattr(request.app.state, "clock", None) or getattr(processor, "clock", None)
    now = clock() if callable(clock) else datetime.now(UTC)
    return (profile if isinstance(profile, BppProfile) else BppProfile()), now


def _json_chunks(path: Path) -> Iterator[bytes]:
    with zipfile.ZipFile(path) as archive, archive.open(ZIP_MEMBER) as member:
        while chunk := member.read(1 << 16):
            yield chunk


router = APIRouter(tags=["catalogue"])


@router.get(
    "/catalogue/{domain}/{name}",
    response_class=Response,
    responses={
        200: {"description": "the catalogue: a zip of catalog.json, or the JSON itself",
              "content": {"application/zip": {}, "application/json": {}}},
        302: {"description": "an old token: redirect to the current file"},
        404: {"description": "unknown domain or malformed name"},
    },
)
async def catalogue_file(domain: str, name: str, request: Request) -> Response:
    """The full catalogue of a domain named by an ``on_search`` ``catalog_link`` tag
    (``<token>.zip``, or ``<token>.json`` uncompressed)."""
    settings: Settings = request.app.state.settings
    token, _, suffix = name.partition(".")
    full_domain = slug_domain(domain)
    if suffix not in ("zip", "json") or not _TOKEN.match(token) or (
        full_domain not in settings.domains
    ):
        raise HTTPException(404, "no such catalogue")
    files = _files(request, settings)
    profile, now = _seller_state(request)
    path = files.path(full_domain, token)
    if not path.exists():
        db: Database = request.app.state.db
        async with db.session() as session:
            version = await catalogue_version(session, full_domain, profile=profile, now=now)
        if version.token != token:
            return RedirectResponse(version.url(settings, suffix), status_code=302)
        path = await files.ensure(db, version, profile=profile, now=now)
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": f'"{token}"'}
    if suffix == "zip":
        return FileResponse(
            path, media_type="application/zip", headers=headers,
            filename=f"{domain_slug(full_domain)}-{token}.zip",
        )
    return StreamingResponse(_json_chunks(path), media_type="application/json", headers=headers)


__all__ = [
    "CatalogueFiles",
    "CatalogueVersion",
    "catalogue_version",
    "link_search_pages",
    "router",
    "wants_link",
]
