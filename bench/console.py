"""Seller console page times on a large catalogue (default 100,000 items).

    python bench/console.py [--items 100000] [--database-url URL] [--requests 40]

Loads the sample ODOP catalogue, makes a seller account for its largest store and an
operator, and renders the console's pages in-process (the ASGI app called directly, so the
figure is server time: routing, session, queries, template). Reports p50 and p95 per page, and
each as a ratio to a baseline measured in the same run: the sign-in page, which renders a
template and reads no table. Issue 15's target: a seller's list pages under 200 ms with
100,000 items in the catalogue.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


async def main(args: argparse.Namespace) -> None:
    from sqlalchemy import func, select

    from ondc_adapter import keys
    from ondc_adapter.api.app import create_app
    from ondc_adapter.catalogue.importer import import_file
    from ondc_adapter.catalogue.sample import generate
    from ondc_adapter.catalogue.tables import Item
    from ondc_adapter.console import accounts
    from ondc_adapter.registry import StaticKeyResolver
    from ondc_adapter.settings import Settings
    from ondc_adapter.storage import Database

    work = Path(args.workdir or tempfile.mkdtemp(prefix="ondc-console-bench-"))
    url = args.database_url or f"sqlite+aiosqlite:///{work / 'bench.db'}"
    db = Database(url)
    await db.migrate()
    async with db.session() as session:
        have = int(await session.scalar(select(func.count()).select_from(Item)) or 0)
    if have < args.items:
        sample = work / "sample.jsonl"
        t0 = time.perf_counter()
        generate(sample, items=args.items, seed=11)
        report = await import_file(db, sample, now=datetime.now(UTC))
        assert report.ok, report
        print(f"loaded {args.items} items in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    async with db.session() as session:
        store, count = (
            await session.execute(
                select(Item.provider_id, func.count())
                .group_by(Item.provider_id)
                .order_by(func.count().desc())
                .limit(1)
            )
        ).one()
        some_item = await session.scalar(
            select(Item.id).where(Item.provider_id == store).order_by(Item.id).limit(1)
        )
        word = (
            await session.scalar(select(Item.name).where(Item.provider_id == store).limit(1))
            or "silk"
        ).split()[0]
        total = int(await session.scalar(select(func.count()).select_from(Item)) or 0)
        for name, provider in (("bench-seller", store), ("bench-ops", None)):
            if (
                await session.scalar(
                    select(accounts.ConsoleUser.id).where(accounts.ConsoleUser.username == name)
                )
                is None
            ):
                await accounts.add_user(
                    session,
                    username=name,
                    password="bench password 1",
                    provider_id=provider,
                    operator=provider is None,
                    now=datetime.now(UTC),
                )
    keys.write_keys(keys.new_keys("seller.bench", "k1"), work / "keys")
    settings = Settings(
        _env_file=None,
        subscriber_id="seller.bench",  # type: ignore[call-arg]
        unique_key_id="k1",
        keys_dir=work / "keys",
        database_url=url,
        catalogue_warm_up=False,
        log_level="WARNING",
    )
    app = create_app(
        settings, db=db, redis=None, key_resolver=StaticKeyResolver(), run_workers=False
    )
    last_page = max(0, (count - 1) // 50 * 50)
    seller_pages = {
        "items (seller, first page)": "/console/items",
        "items (seller, last page)": f"/console/items?offset={last_page}",
        f"items (seller, search '{word}')": f"/console/items?q={word}",
        "item (seller, one)": f"/console/items/{some_item}",
        "orders (seller)": "/console/orders",
        "store (seller)": "/console/store",
    }
    operator_pages = {
        "items (operator, all stores)": "/console/items",
        f"items (operator, search '{word}')": f"/console/items?q={word}",
    }
    async with app.router.lifespan_context(app):
        rows = []
        baseline = await timed(
            app, None, {"sign-in page (baseline)": "/console/login"}, args.requests
        )
        base = baseline["sign-in page (baseline)"]
        for who, pages in (("bench-seller", seller_pages), ("bench-ops", operator_pages)):
            rows.append(await timed(app, who, pages, args.requests))
    await db.dispose()
    print(
        f"\n{total} items in the catalogue; the seller's store {store} has {count}; "
        f"{db.engine.dialect.name}; {args.requests} requests per page\n"
    )
    print(f"{'page':<40} {'p50 ms':>8} {'p95 ms':>8} {'p50 / baseline':>15}")
    print(
        f"{'sign-in page (baseline)':<40} {pct(base, 0.5):8.1f} {pct(base, 0.95):8.1f} {1.0:15.1f}"
    )
    for result in rows:
        for name, times in result.items():
            print(
                f"{name:<40} {pct(times, 0.5):8.1f} {pct(times, 0.95):8.1f} "
                f"{pct(times, 0.5) / statistics.median(base):15.1f}"
            )


async def timed(
    app: Any, username: str | None, pages: dict[str, str], requests: int
) -> dict[str, list[float]]:
    import httpx

    out: dict[str, list[float]] = {}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bench.test"
    ) as client:
        if username:
            login = await client.get("/console/login")
            found = re.search(r'name="login_token" value="([^"]+)"', login.text)
            assert found is not None
            signed = await client.post(
                "/console/login",
                data={
                    "username": username,
                    "password": "bench password 1",
                    "login_token": found.group(1),
                },
            )
            assert signed.status_code == 303, signed.text[:500]
        for name, path in pages.items():
            times = []
            for _ in range(requests):
                t0 = time.perf_counter()
                response = await client.get(path)
                times.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            out[name] = times
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--workdir", default=None, help="keep (and reuse) the database here")
    parser.add_argument("--requests", type=int, default=40)
    asyncio.run(main(parser.parse_args()))
