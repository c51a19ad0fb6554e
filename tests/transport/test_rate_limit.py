"""Per-signer rate limit: counted in Redis across workers, only after the signature checked out,
refusals are 429 + Retry-After + NACK 31001 and leave nothing stored."""

from __future__ import annotations

from contextlib import AsyncExitStack

from sqlalchemy import func, select
from transport_doubles import Participant, request_body

from ondc_adapter.inbox import InboxEntry
from ondc_adapter.ratelimit import RateLimiter


def headers(authorization: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "Authorization": authorization}


async def inbox_rows(db) -> int:
    async with db.session() as s:
        return int(await s.scalar(select(func.count()).select_from(InboxEntry)))


async def test_limit_is_shared_by_workers_and_per_signer(
    start_node, buyer, bap, other_bap, client, pg_db
) -> None:
    # A frozen clock keeps every request in one window: the test counts, it does not race.
    other_bap.subscriber_url = buyer[1]  # both buyer apps registered at the double's URL
    async with AsyncExitStack() as stack:
        urls = []
        for _ in range(2):  # two workers, one Redis
            url, app = await stack.enter_async_context(start_node(rate_limit_per_second=5))
            app.state.pipeline.limiter.clock = lambda: 1_000_000.5
            urls.append(url)
        statuses = []
        for n in range(8):
            body = request_body("search", bap=bap, bap_uri=buyer[1])
            response = await client.post(
                f"{urls[n % 2]}/search", content=body, headers=headers(bap.sign(body))
            )
            statuses.append(response.status_code)
        refused = response
        other = request_body("search", bap=other_bap, bap_uri=buyer[1])
        other_answer = await client.post(
            f"{urls[0]}/search", content=other, headers=headers(other_bap.sign(other))
        )
        # a forged request naming the limited buyer is refused for its signature, and does
        # not count against anyone
        stranger = Participant(bap.subscriber_id, bap.ukid, "BAP")
        forged = request_body("search", bap=bap, bap_uri=buyer[1])
        forged_answer = await client.post(
            f"{urls[0]}/search", content=forged, headers=headers(stranger.sign(forged))
        )
    assert statuses == [200] * 5 + [429] * 3
    assert refused.headers["retry-after"] == "1"
    error = refused.json()["error"]
    assert error["code"] == "31001" and "rate limit" in error["message"]
    assert other_answer.status_code == 200
    assert forged_answer.status_code == 401
    assert await inbox_rows(pg_db) == 6  # 5 of bap, 1 of other_bap; refusals stored nothing


async def test_without_redis_the_count_is_local_and_off_means_off() -> None:
    limiter = RateLimiter(2, clock=lambda: 10.2)
    answers = [await limiter.over_limit("a") for _ in range(3)]
    assert answers[:2] == [None, None] and answers[2] is not None
    assert abs(answers[2] - 0.8) < 1e-9  # until the next second
    assert await limiter.over_limit("b") is None
    limiter.clock = lambda: 11.0  # next second, fresh window
    assert await limiter.over_limit("a") is None
    off = RateLimiter(0)
    assert all([await off.over_limit("a") is None for _ in range(100)])
