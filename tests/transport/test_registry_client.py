"""The registry client against the lookup double: caching, single-flight, retries, policy."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import redis.asyncio as aioredis
from transport_doubles import Participant

from ondc_adapter import keys
from ondc_adapter.registry import (
    KeyNotFound,
    KeyNotValid,
    RegistryClient,
    RegistryUnavailable,
    StaticKeyResolver,
    SubscriberRecord,
)
from ondc_adapter.settings import Settings


def make_client(
    keys_dir, url: str, http: httpx.AsyncClient, *, redis=None, prefix="ondc:", **overrides
) -> RegistryClient:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        subscriber_id="seller.test",
        unique_key_id="seller-k1",
        registry_url=url,
        registry_timeout=1.0,
        registry_retries=2,
        **overrides,
    )
    return RegistryClient(
        settings,
        keys=keys.load_keys(keys_dir),
        http_client=http,
        redis=redis,
        redis_prefix=prefix,
    )


@pytest.fixture
async def http():
    async with httpx.AsyncClient() as client:
        yield client


async def test_lookup_is_signed_and_cached(registry, seller_keys_dir, bap, http) -> None:
    double, url = registry
    client = make_client(seller_keys_dir, url, http)
    first = await client.resolve(bap.subscriber_id, bap.ukid)
    second = await client.resolve(bap.subscriber_id, bap.ukid)
    assert first == second
    assert first.signing_public_key == bap.key.public_key_b64
    assert (first.type, first.status, first.city) == ("BAP", "SUBSCRIBED", "std:080")
    assert double.calls == 1 and double.unsigned_v2_calls == 0
    await client.resolve(bap.subscriber_id, bap.ukid, refresh=True)
    assert double.calls == 2


async def test_v1_lookup_is_unsigned(registry, seller_keys_dir, bap, http) -> None:
    _double, url = registry
    client = make_client(seller_keys_dir, url, http, registry_lookup="v1")
    lookup_url, _, headers = client.lookup_request(bap.subscriber_id, bap.ukid)
    assert lookup_url.endswith("/lookup") and "/v2.0/" not in lookup_url
    assert "Authorization" not in headers
    assert (await client.resolve(bap.subscriber_id, bap.ukid)).ukId == bap.ukid


async def test_concurrent_misses_make_one_registry_call(
    registry, seller_keys_dir, bap, http
) -> None:
    double, url = registry
    double.delay = 0.2
    client = make_client(seller_keys_dir, url, http)
    results = await asyncio.gather(
        *(client.resolve(bap.subscriber_id, bap.ukid) for _ in range(25))
    )
    assert len({r.signing_public_key for r in results}) == 1
    assert double.calls == 1


async def test_redis_cache_is_shared_between_processes(
    registry, seller_keys_dir, bap, http, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    double, url = registry
    one = make_client(seller_keys_dir, url, http, redis=redis_client, prefix=redis_prefix)
    other = make_client(seller_keys_dir, url, http, redis=redis_client, prefix=redis_prefix)
    record = await one.resolve(bap.subscriber_id, bap.ukid)
    assert await other.resolve(bap.subscriber_id, bap.ukid) == record
    assert double.calls == 1
    ttl = await redis_client.ttl(f"{redis_prefix}lookup:{bap.subscriber_id}|{bap.ukid}")
    assert 0 < ttl <= 1800


async def test_cache_ttl_is_bounded_by_valid_until(
    registry, seller_keys_dir, http, redis_client, redis_prefix
) -> None:
    double, url = registry
    double.add(Participant("short.test", "k", "BAP", valid_seconds=120))
    client = make_client(seller_keys_dir, url, http, redis=redis_client, prefix=redis_prefix)
    record = await client.resolve("short.test", "k")
    assert record.valid_until is not None
    assert 0 < client._ttl(record) <= 120  # not lookup_cache_seconds (1800)
    ttl = await redis_client.ttl(f"{redis_prefix}lookup:short.test|k")
    assert 0 < ttl <= 120


async def test_redis_down_falls_back_to_the_registry(registry, seller_keys_dir, bap, http):
    _double, url = registry
    dead = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    client = make_client(seller_keys_dir, url, http, redis=dead)
    record = await client.resolve(bap.subscriber_id, bap.ukid)
    assert record.subscriber_id == bap.subscriber_id
    await dead.aclose()


async def test_transient_registry_errors_are_retried(registry, seller_keys_dir, bap, http):
    double, url = registry
    double.failures_left = 2
    client = make_client(seller_keys_dir, url, http)
    assert (await client.resolve(bap.subscriber_id, bap.ukid)).ukId == bap.ukid
    assert double.calls == 3


async def test_persistent_registry_errors_end_in_unavailable(
    registry, seller_keys_dir, bap, http
) -> None:
    double, url = registry
    double.failures_left = 100
    client = make_client(seller_keys_dir, url, http)
    with pytest.raises(RegistryUnavailable, match="503"):
        await client.resolve(bap.subscriber_id, bap.ukid)
    assert double.calls == 3  # 1 + registry_retries


async def test_unknown_key_is_not_found(registry, seller_keys_dir, http) -> None:
    client = make_client(seller_keys_dir, registry[1], http)
    with pytest.raises(KeyNotFound):
        await client.resolve("nobody.test", "k")


def test_record_validity_policy() -> None:
    now = datetime.now(UTC)
    base = dict(subscriber_id="a.test", ukId="k", type="BAP", signing_public_key="x")
    SubscriberRecord(
        **base, valid_from=now - timedelta(days=1), valid_until=now + timedelta(days=1)
    ).check_valid(now)
    SubscriberRecord(**base, status="WHITELISTED").check_valid(now)
    with pytest.raises(KeyNotValid, match="INITIATED"):
        SubscriberRecord(**base, status="INITIATED").check_valid(now)
    with pytest.raises(KeyNotValid, match="expired"):
        SubscriberRecord(**base, valid_until=now - timedelta(seconds=1)).check_valid(now)
    with pytest.raises(KeyNotValid, match="not valid before"):
        SubscriberRecord(**base, valid_from=now + timedelta(hours=1)).check_valid(now)


def test_nested_network_participant_record_is_understood() -> None:
    record = SubscriberRecord.from_lookup(
        {
            "subscriber_id": "np.test",
            "ukId": "k1",
            "type": "gateway",
            "status": "SUBSCRIBED",
            "signing_public_key": "abc",
            "network_participant": [{"subscriber_url": "/ondc", "domain": "ONDC:RET16"}],
        }
    )
    assert record.subscriber_url == "https://np.test/ondc"
    assert record.domain == "ONDC:RET16" and record.is_gateway
    assert SubscriberRecord.from_json(record.to_json()) == record


async def test_static_resolver() -> None:
    record = SubscriberRecord("a.test", "k", "BAP", "pub")
    resolver = StaticKeyResolver([record])
    assert await resolver.resolve("a.test", "k") is record
    with pytest.raises(KeyNotFound):
        await resolver.resolve("a.test", "other")


async def test_an_unknown_key_is_asked_for_once_then_remembered(
    registry, seller_keys_dir, bap, http
) -> None:
    double, url = registry
    client = make_client(seller_keys_dir, url, http)
    for _ in range(5):  # a sender repeating a made-up ukId
        with pytest.raises(KeyNotFound):
            await client.resolve(bap.subscriber_id, "made-up")
    assert double.calls == 1
    # the real key of the same subscriber is not affected
    assert (await client.resolve(bap.subscriber_id, bap.ukid)).ukId == bap.ukid
    assert double.calls == 2
    # once the memory ages out, the registry is asked again (the key may exist by now)
    client._absent[bap.subscriber_id]["made-up"] = 0.0  # remembered "until" long ago
    with pytest.raises(KeyNotFound):
        await client.resolve(bap.subscriber_id, "made-up")
    assert double.calls == 3
