"""All-or-nothing catalogue import from CSV, JSON or JSON Lines.

Formats (``ondc-adapter catalogue sample`` writes the same ones):

* **JSON Lines** (``.jsonl`` / ``.ndjson``): one record per line, ``{"type": "provider" | "location"
  | "variant_group" | "item", ...fields of models.ProviderIn / LocationIn (+ provider_id) /
  VariantGroupIn (+ provider_id) / ItemIn}``. A line ``{"type": "meta", "sample": true, ...}``
  may head the file. Streams: any size.
* **JSON** (``.json``): a list of such records, or ``{"providers": [...], "items": [...]}``.
* A provider record (JSON, JSON Lines) may carry ``offers``: its ONDC retail 1.2.5 offers, each
  as the admin API's ``PUT /admin/providers/{id}/offers/{offer_id}`` takes it; checked once
  the whole file is read, since they name items that come later (``offer_import``).
* **CSV** (``.csv``): one item per row, items' own fields as columns, ``attr_<code>`` for
  attribute tags, ``statutory_<key>``, ``odop_lgd_code`` + ``odop_product``, lists joined with
  ``|``; the provider is read from ``provider_*`` columns and its store from ``location_*``
  columns of the first row of a provider id / location id that fills them (rows that leave
  them empty refer to a provider / store defined earlier in the file or already imported).

The whole file is one transaction: every row is checked (types, ONDC rules, references to
providers/locations defined earlier in the file or already in the database, duplicate ids) and
a single bad row rolls everything back. The report names each problem's row, record and field.
Row numbers are physical line numbers (JSON Lines, CSV; the CSV header is line 1) or the
1-based record index (JSON).

Given ``settings``, the import also tells subscribed buyer apps (``catalog_inc`` mode=start)
what it changed, in the same transaction: each record is compared with what the database
holds before it is written, and the items and providers (with their stores and variant
groups) that are new or differ go out as incremental ``on_search`` pushes
(``handler.push_incremental_count``). Re-importing an unchanged file pushes nothing; a file
with one new price pushes that one item. Without subscriptions nothing is compared.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from ondc_adapter.catalogue import write
from ondc_adapter.catalogue.bpp_profile import BppProfile
from ondc_adapter.catalogue.models import (
    FieldProblem,
    ItemIn,
    LocationIn,
    VariantGroupIn,
    parse_item,
    parse_provider,
    pydantic_problems,
)
from ondc_adapter.catalogue.odop import OdopProduct
from ondc_adapter.catalogue.offer_import import OfferImport
from ondc_adapter.catalogue.tables import Location, Provider, Subscription, VariantGroup
from ondc_adapter.settings import Settings
from ondc_adapter.storage import Database

BATCH = 1000
MAX_REPORTED = 1000  # keep checking after this many problems, but stop collecting them


@dataclass(frozen=True, slots=True)
class RowProblem:
    row: int
    record: str  # "item I1", "provider P1"
    field: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row} ({self.record}): {self.field}: {self.reason}"


@dataclass
class ImportReport:
    rows: int = 0
    providers: int = 0
    locations: int = 0
    items: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    problem_count: int = 0
    sample: bool = False
    pushed: int = 0  # incremental on_search messages enqueued for subscribed buyer apps
    changed_items: int = 0  # items new or different from the database (when compared)
    changed_providers: int = 0
    offers: int = 0  # offers created or replaced (those of provider records' ``offers``)

    @property
    def ok(self) -> bool:
        return self.problem_count == 0


class _Rollback(Exception):
    """Raised inside the transaction to undo a file with problems."""


Progress = Callable[[int], None]

# ---------------------------------------------------------------- readers


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split("|") if part.strip()]


def _csv_bool(value: str) -> bool | str:
    low = value.strip().lower()
    if low in ("true", "yes", "y", "1"):
        return True
    if low in ("false", "no", "n", "0"):
        return False
    return value  # let the model report it


PROVIDER_BOOLS = ("women_led", "shg", "tribal", "khadi", "artisan", "gi_authorised_user",
                  "enabled", "sample")
ITEM_BOOLS = ("returnable", "cancellable", "seller_pickup_return", "cod", "enabled", "sample")
ITEM_LISTS = ("images",)
LOCATION_LISTS = ("pincodes", "holidays")


def csv_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """CSV item rows -> provider / location / variant_group / item records (line numbers)."""
    seen_providers: set[str] = set()
    seen_locations: set[tuple[str, str]] = set()
    seen_groups: set[tuple[str, str]] = set()
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        for raw in reader:
            line = reader.line_num
            row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
            pid = row.get("provider_id", "")
            lid = row.get("location_id", "")
            location: dict[str, Any] = {}
            for key, value in row.items():
                if key.startswith("location_") and key != "location_id" and value:
                    name = key[len("location_"):]
                    location[name] = _split(value) if name in LOCATION_LISTS else value
            location["id"] = lid
            # a provider / store is defined by the first row that fills its columns; rows
            # without them refer to one defined earlier or already in the database
            has_provider = any(
                v for k, v in row.items() if k.startswith("provider_") and k != "provider_id"
            )
            if pid and pid not in seen_providers and has_provider:
                seen_providers.add(pid)
                seen_locations.add((pid, lid))
                provider: dict[str, Any] = {"id": pid, "locations": [location]}
                for key, value in row.items():
                    if key.startswith("provider_") and key != "provider_id" and value:
                        name = key[len("provider_"):]
                        if name == "fulfillment_type":
                            provider["fulfillments"] = [{"id": "F1", "type": value}]
                        elif name == "images":
                            provider[name] = _split(value)
                        else:
                            provider[name] = _csv_bool(value) if name in PROVIDER_BOOLS else value
                yield line, {"type": "provider", **provider}
            elif pid and lid and (pid, lid) not in seen_locations and len(location) > 1:
                seen_locations.add((pid, lid))
                yield line, {"type": "location", "provider_id": pid, **location}
            group = row.get("parent_item_id", "")
            if pid and group and row.get("variant_group_name") and (pid, group) not in seen_groups:
                seen_groups.add((pid, group))
                yield line, {
                    "type": "variant_group",
                    "provider_id": pid,
                    "id": group,
                    "name": row["variant_group_name"],
                    "attributes": _split(row.get("variant_group_attributes", "")),
                }
            item: dict[str, Any] = {"type": "item"}
            attributes: dict[str, str] = {}
            statutory: dict[str, str] = {}
            for key, value in row.items():
                if key.startswith(("provider_", "location_", "variant_group_")) and key not in (
                    "provider_id",
                    "location_id",
                ):
                    continue
                if not value:
                    continue
                if key.startswith("attr_"):
                    attributes[key[5:]] = value
                elif key.startswith("statutory_"):
                    statutory[key[10:]] = value
                elif key in ("odop_lgd_code", "odop_product"):
                    item.setdefault("odop", {})[key[5:]] = value
                elif key in ITEM_LISTS:
                    item[key] = _split(value)
                elif key in ITEM_BOOLS:
                    item[key] = _csv_bool(value)
                else:
                    item[key] = value
            item["attributes"] = attributes
            item["statutory"] = statutory
            yield line, item


def jsonl_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        for line, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                yield line, {"type": "invalid", "reason": f"not JSON: {exc.msg}"}
                continue
            yield line, record if isinstance(record, dict) else {"type": "invalid"}


def json_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        yield 1, {"type": "invalid", "reason": f"not JSON: {exc.msg} (line {exc.lineno})"}
        return
    if isinstance(data, dict):
        records: list[Any] = []
        if data.get("sample"):
            records.append({"type": "meta", "sample": True})
        records += [{"type": "provider", **p} for p in data.get("providers", [])]
        records += [{"type": "item", **i} for i in data.get("items", [])]
    elif isinstance(data, list):
        records = data
    else:
        records = [{"type": "invalid"}]
    for index, record in enumerate(records, start=1):
        yield index, record if isinstance(record, dict) else {"type": "invalid"}


def read_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return csv_records(path)
    if suffix in (".jsonl", ".ndjson"):
        return jsonl_records(path)
    if suffix == ".json":
        return json_records(path)
    raise ValueError(f"unknown catalogue format {suffix!r}: use .csv, .json or .jsonl")


def count_rows(path: Path) -> int:
    """Physical lines (a cheap upper bound for a progress bar)."""
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


# ---------------------------------------------------------------- import


_UNCOMPARED = frozenset({"created_at", "updated_at", "static_json"})


def _same(new: Any, old: Any) -> bool:
    if isinstance(new, Decimal) or isinstance(old, Decimal):
        if new is None or old is None:
            return new is old
        try:
            return Decimal(str(new)) == Decimal(str(old))
        except InvalidOperation:
            return False
    return bool(new == old)


def _differs(new: dict[str, Any], old: Any) -> bool:
    return old is None or any(
        not _same(value, old[key]) for key, value in new.items() if key not in _UNCOMPARED
    )


def _columns(table: Table, row: dict[str, Any]) -> list[Any]:
    return [table.c[key] for key in row if key not in _UNCOMPARED]


class _Importer:
    def __init__(
        self, session: AsyncSession, now: datetime, report: ImportReport, *, track: bool = False
    ) -> None:
        self.session = session
        self.now = now
        self.report = report
        self.providers: dict[str, set[str]] = {}  # provider id -> location ids (file + db)
        self.fulfillments: dict[str, set[str]] = {}
        self.groups: dict[str, set[str]] = {}
        self.item_ids: set[str] = set()
        self.items_of: dict[str, set[str]] = {}  # provider id -> its item ids in the file
        self.offers = OfferImport()
        self.location_owner: dict[str, str] = {}  # location id -> provider id (file + db)
        self.pending: list[tuple[ItemIn, OdopProduct | None]] = []
        # with subscribers: what differs from the database, compared before each write
        self.track = track
        self.changed_items: set[str] = set()
        self.changed_providers: set[str] = set()

    async def _stored(self, table: Table, row: dict[str, Any], *where: Any) -> Any:
        result = await self.session.execute(select(*_columns(table, row)).where(*where))
        return result.mappings().first()

    async def provider_changed(self, provider: Any) -> bool:
        """Does ``provider`` (a ``ProviderIn``) differ from the database, its stores and
        variant groups included?"""
        row = write.provider_row(provider, self.now)
        table = write.PROVIDER_TABLE
        if _differs(row, await self._stored(table, row, table.c.id == provider.id)):
            return True
        for location in provider.locations:
            if await self.part_changed(
                write.LOCATION_TABLE, write.location_row(provider.id, location, self.now)
            ):
                return True
        for group in provider.variant_groups:
            if await self.part_changed(
                write.VARIANT_TABLE, write.variant_row(provider.id, group, self.now)
            ):
                return True
        return False

    async def part_changed(self, table: Table, row: dict[str, Any]) -> bool:
        """A location or variant group row (keyed by provider_id, id)."""
        stored = await self._stored(
            table, row, table.c.provider_id == row["provider_id"], table.c.id == row["id"]
        )
        return _differs(row, stored)

    def problem(self, row: int, record: str, problems: list[FieldProblem]) -> None:
        for p in problems:
            self.report.problem_count += 1
            if len(self.report.problems) < MAX_REPORTED:
                self.report.problems.append(RowProblem(row, record, p.field, p.reason))

    async def location_taken(self, location_id: str, provider_id: str) -> FieldProblem | None:
        """ONDC wants location ids unique across the whole catalogue, not per provider."""
        owner = self.location_owner.get(location_id)
        if owner is None:
            owner = await self.session.scalar(
                select(Location.provider_id).where(
                    Location.id == location_id, Location.provider_id != provider_id,
                    Location.deleted_at.is_(None),
                ).limit(1)
            )
        if owner is not None and owner != provider_id:
            return FieldProblem(
                "locations.id",
                f"location id {location_id!r} is already used by provider {owner!r}; location "
                "ids must be unique across the whole catalogue",
            )
        self.location_owner[location_id] = provider_id
        return None

    async def known_provider(self, provider_id: str) -> bool:
        """Defined earlier in the file, or already in the database (loaded once)."""
        if provider_id in self.providers:
            return True
        row = await self.session.get(Provider, provider_id)
        if row is None or row.deleted_at is not None:
            return False
        locations = await self.session.scalars(
            select(Location.id).where(Location.provider_id == provider_id)
        )
        self.providers[provider_id] = set(locations)
        self.fulfillments[provider_id] = {str(f["id"]) for f in row.fulfillments}
        self.groups.setdefault(provider_id, set())
        groups = await self.session.scalars(
            select(VariantGroup.id).where(VariantGroup.provider_id == provider_id)
        )
        self.groups[provider_id].update(groups)
        return True

    async def record(self, row: int, data: dict[str, Any]) -> None:
        kind = data.pop("type", None)
        label = f"{kind} {data.get('id', '?')}"
        if kind == "meta":
            self.report.sample = bool(data.get("sample"))
            return
        if kind == "provider":
            offers = data.pop("offers", None)
            provider, problems = parse_provider(data)
            if provider is not None:
                for loc in provider.locations:
                    taken = await self.location_taken(loc.id, provider.id)
                    if taken is not None:
                        problems.append(taken)
                if problems:
                    provider = None
            if provider is None:
                self.problem(row, label, problems)
                return
            self.providers.setdefault(provider.id, set()).update(
                loc.id for loc in provider.locations
            )
            self.fulfillments[provider.id] = {f.id for f in provider.fulfillments}
            self.groups.setdefault(provider.id, set()).update(
                v.id for v in provider.variant_groups
            )
            if self.report.ok:
                await self.flush()
                if self.track and await self.provider_changed(provider):
                    self.changed_providers.add(provider.id)
                await write.save_provider(self.session, provider, self.now)
            self.report.providers += 1
            self.report.locations += len(provider.locations)
            if offers is not None:
                self.offers.add(row, provider.id, offers)
            return
        if kind in ("location", "variant_group"):
            pid = str(data.pop("provider_id", ""))
            model = LocationIn if kind == "location" else VariantGroupIn
            try:
                parsed = model.model_validate(data)
            except ValidationError as exc:
                self.problem(row, label, pydantic_problems(exc))
                return
            if not await self.known_provider(pid):
                self.problem(row, label, [FieldProblem("provider_id", f"unknown provider {pid!r}")])
                return
            if isinstance(parsed, LocationIn):
                taken = await self.location_taken(parsed.id, pid)
                if taken is not None:
                    self.problem(row, label, [taken])
                    return
            if self.report.ok:
                await self.flush()
                if isinstance(parsed, LocationIn):
                    table, row = write.LOCATION_TABLE, write.location_row(pid, parsed, self.now)
                else:
                    table, row = write.VARIANT_TABLE, write.variant_row(pid, parsed, self.now)
                if self.track and await self.part_changed(table, row):
                    self.changed_providers.add(pid)
                await write.upsert(self.session, table, [row], ["provider_id", "id"])
                await write.touch_provider(self.session, pid, self.now)
            if isinstance(parsed, LocationIn):
                self.providers[pid].add(parsed.id)
                self.report.locations += 1
            else:
                self.groups.setdefault(pid, set()).add(parsed.id)
            return
        if kind == "item":
            item, odop, problems = parse_item(data)
            if item is not None:
                problems = await self.references(item)
            if problems or item is None:
                self.problem(row, label, problems)
                return
            self.item_ids.add(item.id)
            self.items_of.setdefault(item.provider_id, set()).add(item.id)
            self.report.items += 1
            if self.report.ok:
                self.pending.append((item, odop))
                if len(self.pending) >= BATCH:
                    await self.flush()
            return
        reason = data.get("reason") or "'type' must be provider, location, variant_group or item"
        self.problem(row, label, [FieldProblem("type", str(reason))])

    async def references(self, item: ItemIn) -> list[FieldProblem]:
        problems: list[FieldProblem] = []
        if item.id in self.item_ids:
            problems.append(FieldProblem("id", f"item {item.id!r} appears twice in the file"))
        if not await self.known_provider(item.provider_id):
            unknown = FieldProblem("provider_id", f"unknown provider {item.provider_id!r}")
            return [*problems, unknown]
        if item.location_id not in self.providers[item.provider_id]:
            problems.append(
                FieldProblem("location_id", f"provider has no location {item.location_id!r}")
            )
        if item.fulfillment_id not in self.fulfillments.get(item.provider_id, set()):
            problems.append(
                FieldProblem(
                    "fulfillment_id", f"provider has no fulfillment {item.fulfillment_id!r}"
                )
            )
        groups = self.groups.get(item.provider_id, set())
        if item.parent_item_id and item.parent_item_id not in groups:
            problems.append(
                FieldProblem(
                    "parent_item_id", f"provider has no variant group {item.parent_item_id!r}"
                )
            )
        return problems

    async def flush(self) -> None:
        if not self.pending:
            return
        if self.track:
            rows = [write.item_row(item, odop, self.now) for item, odop in self.pending]
            table = write.ITEM_TABLE
            result = await self.session.execute(
                select(*_columns(table, rows[0])).where(table.c.id.in_([r["id"] for r in rows]))
            )
            stored = {r["id"]: r for r in result.mappings()}
            self.changed_items.update(
                r["id"] for r in rows if _differs(r, stored.get(r["id"]))
            )
            await write.upsert(self.session, table, rows, ["id"])
        else:
            await write.save_items(self.session, self.pending, self.now)
        self.pending.clear()


async def import_records(
    session: AsyncSession,
    records: Iterator[tuple[int, dict[str, Any]]],
    *,
    now: datetime,
    progress: Progress | None = None,
    settings: Settings | None = None,
    profile: BppProfile | None = None,
) -> ImportReport:
    """Check and write ``records`` in ``session``; the caller must roll back when
    ``report.ok`` is false (``import_file`` does). With ``settings``, the changes are also
    enqueued, in ``session``, as incremental ``on_search`` pushes to subscribed buyer apps
    (``report.pushed``)."""
    from ondc_adapter.catalogue.handler import push_incremental_count

    report = ImportReport()
    track = settings is not None and (
        await session.scalar(select(Subscription.id).where(Subscription.active.is_(True)).limit(1))
    ) is not None
    importer = _Importer(session, now, report, track=track)
    for row, data in records:
        report.rows += 1
        await importer.record(row, dict(data))
        if progress is not None:
            progress(row)
    if report.ok:
        await importer.flush()
    report.offers = await importer.offers.finish(
        session, items=importer.items_of, locations=importer.providers,
        report=importer.problem, write=report.ok, now=now,
    )
    if report.ok and track and settings is not None:
        report.changed_items = len(importer.changed_items)
        report.changed_providers = len(importer.changed_providers)
        report.pushed = await push_incremental_count(
            session, settings=settings, now=now, item_ids=sorted(importer.changed_items),
            provider_ids=sorted(importer.changed_providers), profile=profile,
        )
    return report


async def import_file(
    db: Database,
    path: Path,
    *,
    now: datetime,
    progress: Progress | None = None,
    settings: Settings | None = None,
    profile: BppProfile | None = None,
) -> ImportReport:
    """Import ``path`` in one transaction; nothing is written unless every row is good.
    With ``settings`` (the node's: bpp_id, bpp_uri, page size), subscribed buyer apps get
    incremental ``on_search`` pushes of what changed, enqueued in the same transaction (a
    running node's dispatcher sends them)."""
    report = ImportReport()
    try:
        async with db.session() as session:
            report = await import_records(
                session, read_records(path), now=now, progress=progress, settings=settings,
                profile=profile,
            )
            if not report.ok:
                raise _Rollback
    except _Rollback:
        pass
    if report.ok and db.is_postgres:
        await refresh_statistics(db)
    return report


async def refresh_statistics(db: Database) -> None:
    """After a bulk load on PostgreSQL: fresh planner statistics and visibility map, so the
    covering category index answers on_search's serviceability query with an index-only scan
    (95 ms -> 4 ms per domain at 100,000 items) instead of waiting for autovacuum."""
    async with db.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.exec_driver_sql("VACUUM (ANALYZE) catalogue_items")
