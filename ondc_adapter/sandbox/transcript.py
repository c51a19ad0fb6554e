"""Records every HTTP exchange between the parties of a sandbox run.

Each party's ``httpx.AsyncClient`` is built on a ``RecordingTransport`` sharing one
``Transcript``; the transcript is written as JSON lines (one per exchange) by ``sandbox run
--transcript``. Bodies are kept as the exact text that went on the wire.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ondc_adapter.outbound import local_transport

# Values of these headers are signatures, not secrets, but the transcript is meant to be
# replayable by testers, so they are kept verbatim; nothing private ever appears in a header.


@dataclass(slots=True)
class Exchange:
    party: str  # which sandbox party sent the request (buyer, gateway, registry, adapter)
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str
    status: int | None
    response_headers: dict[str, str]
    response_body: str
    elapsed_ms: float
    started_at: float  # unix seconds, to order exchanges made concurrently
    error: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


@dataclass
class Transcript:
    exchanges: list[Exchange] = field(default_factory=list)

    def add(self, exchange: Exchange) -> None:
        self.exchanges.append(exchange)

    def write_jsonl(self, path: Path) -> None:
        ordered = sorted(self.exchanges, key=lambda e: e.started_at)
        path.write_text("".join(e.to_json() + "\n" for e in ordered), encoding="utf-8")

    def __len__(self) -> int:
        return len(self.exchanges)


class RecordingTransport(httpx.AsyncBaseTransport):
    """Wraps another transport; records request and response bytes and the elapsed time."""

    def __init__(
        self, transcript: Transcript, party: str, inner: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._transcript = transcript
        self._party = party
        # A shared inner transport (one connection pool, one TLS context: building one costs
        # ~60 ms) belongs to whoever passed it in and is not closed here.
        self._owns_inner = inner is None
        # The sandbox's parties are named under .localhost: the checked transport resolves
        # those names to loopback (outbound.py).
        self._inner = inner or local_transport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        started = time.time()
        t0 = time.perf_counter()
        try:
            response = await self._inner.handle_async_request(request)
            content = await response.aread()
        except httpx.HTTPError as exc:
            self._transcript.add(
                Exchange(
                    party=self._party,
                    method=request.method,
                    url=str(request.url),
                    request_headers=dict(request.headers),
                    request_body=_text(body),
                    status=None,
                    response_headers={},
                    response_body="",
                    elapsed_ms=round((time.perf_counter() - t0) * 1000, 3),
                    started_at=started,
                    error=f"{type(exc).__name__}: {exc}",
                )
            )
            raise
        elapsed = round((time.perf_counter() - t0) * 1000, 3)
        self._transcript.add(
            Exchange(
                party=self._party,
                method=request.method,
                url=str(request.url),
                request_headers=dict(request.headers),
                request_body=_text(body),
                status=response.status_code,
                response_headers=dict(response.headers),
                response_body=_text(content),
                elapsed_ms=elapsed,
                started_at=started,
            )
        )
        # The inner response's stream is consumed; hand back one built from the read bytes.
        headers = [
            (k, v)
            for k, v in response.headers.multi_items()
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(
            status_code=response.status_code,
            headers=headers,
            content=content,
            request=request,
            extensions={k: v for k, v in response.extensions.items() if k != "network_stream"},
        )

    async def aclose(self) -> None:
        if self._owns_inner:
            await self._inner.aclose()


def recording_client(
    transcript: Transcript,
    party: str,
    *,
    timeout: float = 5.0,
    inner: httpx.AsyncBaseTransport | None = None,
    **kwargs: Any,
) -> httpx.AsyncClient:
    """An AsyncClient whose every exchange lands in ``transcript`` under ``party``."""
    return httpx.AsyncClient(
        transport=RecordingTransport(transcript, party, inner),
        timeout=timeout,
        trust_env=False,  # loopback traffic must never go through a proxy from the environment
        **kwargs,
    )
