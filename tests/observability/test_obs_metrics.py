"""Prometheus metrics of a served node: ACK/NACK counters by action and code, signature
failures by reason, registry cache hits and misses, callback delivery, one registry per app."""

from __future__ import annotations

import time
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from transport_doubles import eventually, request_body

from ondc_adapter.metrics import NodeMetrics


def headers(auth: str | None, gateway: str | None = None, **extra: str) -> dict[str, str]:
    out = {"Content-Type": "application/json", **extra}
    if auth is not None:
        out["Authorization"] = auth
    if gateway is not None:
        out["X-Gateway-Authorization"] = gateway
    return out


async def scrape(client: httpx.AsyncClient, base: str) -> dict[tuple[str, tuple], float]:
    """``/metrics`` parsed: (sample name, sorted labels) -> value."""
    response = await client.get(f"{base}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[tuple[str, tuple], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[tuple[str, tuple], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def search(bap: Any, bap_uri: str, **kwargs: Any) -> bytes:
    return request_body("search", bap=bap, bap_uri=bap_uri, **kwargs)


async def test_ack_and_nack_counters_by_action_and_code(start_node, bap, gateway, client) -> None:
    bap_uri = "http://127.0.0.1:9/protocol/"
    async with start_node() as (url, app):
        base = url + "/ondc"
        before = await scrape(client, url)
        for _ in range(2):
            body = search(bap, bap_uri)
            ok = await client.post(
                f"{base}/search", content=body, headers=headers(bap.sign(body), gateway.sign(body))
            )
            assert ok.status_code == 200
        body = search(bap, bap_uri)
        tampered = body.replace(b"Channapatna", b"Chennapatna")
        bad_sig = await client.post(
            f"{base}/search", content=tampered, headers=headers(bap.sign(body))
        )
        assert bad_sig.status_code == 401
        malformed = await client.post(
            f"{base}/search", content=b"{not json", headers=headers(bap.sign(b"{not json"))
        )
        assert malformed.status_code == 400
        wrong_type = await client.post(
            f"{base}/search",
            content=body,
            headers={"Content-Type": "text/plain", "Authorization": bap.sign(body)},
        )
        assert wrong_type.status_code == 415
        unknown = await client.post(f"{base}/teleport", content=body, headers=headers(None))
        assert unknown.status_code == 404
        after = await scrape(client, url)
    assert value(before, "ondc_inbound_requests_total", action="search", result="ACK") == 0
    assert value(after, "ondc_inbound_requests_total", action="search", result="ACK") == 2
    assert value(after, "ondc_inbound_requests_total", action="search", result="NACK") == 3
    assert value(after, "ondc_inbound_requests_total", action="other", result="NACK") == 1
    nacks = "ondc_inbound_nacks_total"
    assert value(after, nacks, action="search", code="30016", status="401") == 1
    assert value(after, nacks, action="search", code="30000", status="400") == 1
    assert value(after, nacks, action="search", code="30000", status="415") == 1
    assert value(after, nacks, action="other", code="30000", status="404") == 1
    # The attacker-chosen path never becomes a label value.
    assert not any("teleport" in str(key) for key in after)
    assert (
        app.state.metrics.value(
            "ondc_inbound_requests_total", {"action": "search", "result": "ACK"}
        )
        == 2
    )


async def test_signature_failures_are_counted_by_reason(
    start_node, bap, gateway, client, registry
) -> None:
    bap_uri = "http://127.0.0.1:9/protocol/"
    async with start_node(search_requires_gateway=True) as (url, _app):
        base = url + "/ondc"

        async def post(body: bytes, hdrs: dict[str, str]) -> None:
            response = await client.post(f"{base}/search", content=body, headers=hdrs)
            assert response.status_code == 401, response.text

        body = search(bap, bap_uri)
        await post(body, headers(None, gateway.sign(body)))  # missing Authorization
        now = int(time.time())
        expired = bap.sign(body, created=now - 600, expires=now - 300)
        await post(body, headers(expired, gateway.sign(body)))
        future = bap.sign(body, created=now + 120, expires=now + 400)
        await post(body, headers(future, gateway.sign(body)))
        tampered = body.replace(b"Channapatna", b"Chennapatna")
        await post(tampered, headers(bap.sign(body), gateway.sign(tampered)))
        unknown = bap.sign(body).replace("bap-k1", "bap-k404")
        await post(body, headers(unknown, gateway.sign(body)))
        await post(body, headers(bap.sign(body)))  # search without the gateway header
        await post(body, headers(bap.sign(body), bap.sign(body)))  # gateway header by a BAP
        other = search(gateway, bap_uri)  # context.bap_id is the gateway, signer is the BAP
        await post(other, headers(bap.sign(other), gateway.sign(other)))
        samples = await scrape(client, url)
    name = "ondc_signature_failures_total"
    expected = {
        ("authorization", "missing_header"): 1,
        ("authorization", "expired"): 1,
        ("authorization", "not_yet_valid"): 1,
        ("authorization", "bad_signature"): 1,
        ("authorization", "unknown_key"): 1,
        ("authorization", "signer_mismatch"): 1,
        ("gateway", "gateway_required"): 1,
        ("gateway", "not_a_gateway"): 1,
        ("gateway", "bad_signature"): 0,
    }
    for (header, reason), count in expected.items():
        assert value(samples, name, header=header, reason=reason) == count, (header, reason)
    assert (
        value(samples, "ondc_inbound_nacks_total", action="search", code="30016", status="401") == 8
    )


async def test_registry_cache_hits_and_misses(
    start_node, bap, client, registry, redis_client, redis_prefix
) -> None:
    double, _ = registry
    bap_uri = "http://127.0.0.1:9/protocol/"
    async with start_node() as (url, _app):
        base = url + "/ondc"
        for _ in range(3):
            body = search(bap, bap_uri)
            response = await client.post(
                f"{base}/search", content=body, headers=headers(bap.sign(body))
            )
            assert response.status_code == 200, response.text
        samples = await scrape(client, url)
    # The first request missed both caches and asked the registry once; the others hit the
    # in-process copy.
    assert value(samples, "ondc_registry_cache_total", result="miss") == 1
    assert value(samples, "ondc_registry_cache_total", result="hit_local") == 2
    assert value(samples, "ondc_registry_lookups_total", outcome="ok") == 1
    assert double.calls == 1
    # A second node sharing Redis finds the record there: a shared hit, no registry call.
    async with start_node() as (url2, _app2):
        body = search(bap, bap_uri)
        response = await client.post(
            f"{url2}/ondc/search", content=body, headers=headers(bap.sign(body))
        )
        assert response.status_code == 200
        second = await scrape(client, url2)
    assert value(second, "ondc_registry_cache_total", result="hit_shared") == 1
    assert value(second, "ondc_registry_cache_total", result="miss") == 0
    assert double.calls == 1


async def test_registry_lookup_errors_are_counted(start_node, bap, client, registry) -> None:
    double, _ = registry
    double.failures_left = 10  # every attempt answers 503
    async with start_node(redis=None) as (url, _app):
        body = search(bap, "http://127.0.0.1:9/protocol/")
        response = await client.post(
            f"{url}/ondc/search", content=body, headers=headers(bap.sign(body))
        )
        assert response.status_code == 503
        samples = await scrape(client, url)
    # registry_retries=1 in the test settings: two attempts, both errors.
    assert value(samples, "ondc_registry_lookups_total", outcome="error") == 2
    assert (
        value(samples, "ondc_inbound_nacks_total", action="search", code="31001", status="503") == 1
    )


async def test_callback_delivery_and_outbox_depth_metrics(start_node, buyer, bap, client) -> None:
    double, bap_uri = buyer
    async with start_node() as (url, app):
        bodies = [search(bap, bap_uri) for _ in range(3)]
        for body in bodies:
            response = await client.post(
                f"{url}/ondc/search", content=body, headers=headers(bap.sign(body))
            )
            assert response.status_code == 200

        async def delivered() -> bool:
            return (
                app.state.metrics.value(
                    "ondc_callback_attempts_total", {"action": "on_search", "outcome": "delivered"}
                )
                >= 3
            )

        await eventually(delivered, what="three delivered callbacks")

        async def outbox_drained() -> bool:
            # the attempt is counted just before its row is marked delivered
            return await app.state.dispatcher.sample_depth() == 0

        await eventually(outbox_drained, what="the outbox gauge to reach 0")
        assert await app.state.processor.sample_depth() == 0
        samples = await scrape(client, url)
    assert len(double.received) == 3
    assert value(samples, "ondc_callback_delivery_seconds_count", action="on_search") == 3
    assert value(samples, "ondc_callback_delivery_seconds_sum", action="on_search") > 0
    assert value(samples, "ondc_callback_attempt_seconds_count") == 3
    assert value(samples, "ondc_outbox_pending") == 0
    assert value(samples, "ondc_inbox_processed_total", action="search", result="processed") == 3


async def test_callback_retries_are_counted(start_node, buyer, bap, client) -> None:
    double, bap_uri = buyer
    double.answer = (503, b"busy")
    async with start_node() as (url, app):
        body = search(bap, bap_uri)
        response = await client.post(
            f"{url}/ondc/search", content=body, headers=headers(bap.sign(body))
        )
        assert response.status_code == 200
        metrics: NodeMetrics = app.state.metrics

        async def retried() -> bool:
            return (
                metrics.value(
                    "ondc_callback_attempts_total", {"action": "on_search", "outcome": "retry"}
                )
                >= 2
            )

        await eventually(retried, what="two retried attempts")
        pending = await app.state.dispatcher.sample_depth()
        double.answer = None

        async def delivered() -> bool:
            return (
                metrics.value(
                    "ondc_callback_attempts_total", {"action": "on_search", "outcome": "delivered"}
                )
                == 1
            )

        await eventually(delivered, what="the delivery once the buyer app is back")
    assert pending == 1
    assert metrics.value("ondc_outbox_pending") == 1  # the gauge holds the last sample


async def test_two_apps_in_one_process_keep_separate_metrics(
    start_node, bap, client, pg_database_url
) -> None:
    from ondc_adapter.storage import Database

    other_db = Database(pg_database_url)
    try:
        async with start_node() as (url_a, app_a), start_node(db=other_db) as (url_b, app_b):
            body = search(bap, "http://127.0.0.1:9/protocol/")
            response = await client.post(
                f"{url_a}/ondc/search", content=body, headers=headers(bap.sign(body))
            )
            assert response.status_code == 200
            a, b = await scrape(client, url_a), await scrape(client, url_b)
    finally:
        await other_db.dispose()
    assert app_a.state.metrics.registry is not app_b.state.metrics.registry
    assert value(a, "ondc_inbound_requests_total", action="search", result="ACK") == 1
    assert value(b, "ondc_inbound_requests_total", action="search", result="ACK") == 0


def test_label_values_stay_in_closed_sets() -> None:
    metrics = NodeMetrics()
    metrics.nacked("../../etc/passwd", "30000", 404)
    metrics.signature_failed("authorization", "made-up reason")
    metrics.callback_outcome("on_nonsense", "retry")
    assert (
        metrics.value(
            "ondc_inbound_nacks_total", {"action": "other", "code": "30000", "status": "404"}
        )
        == 1
    )
    assert (
        metrics.value(
            "ondc_signature_failures_total", {"header": "authorization", "reason": "other"}
        )
        == 1
    )
    assert (
        metrics.value("ondc_callback_attempts_total", {"action": "other", "outcome": "retry"}) == 1
    )
