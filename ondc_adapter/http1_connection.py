"""One HTTP/1.1 client connection as an ``asyncio.Protocol``, parsed by httptools (llhttp).

The callback client (``callback_http.py``) sends one POST at a time on a connection and waits
for the answer; everything about reading that answer lives here:

* **Framing** is llhttp's: Content-Length, chunked (sizes split across reads, extensions,
  trailers), 1xx answers skipped, no body for 204/304, ``Connection: close`` and HTTP/1.0
  seen through ``should_keep_alive()``. An answer with neither length nor chunking runs to the
  end of the connection (RFC 9112 6.3); httptools has no "end of input" call, so that case is
  finished here when the peer closes.
* **Bounded body:** at most ``max_bytes`` are kept; one byte more and the answer is returned
  as truncated and the connection closed (the rest is never read, so it cannot be reused).
  Everything else an answer carries (status lines, headers, 1xx answers, chunk framing) is
  bounded too, by ``HEAD_AND_FRAMING_LIMIT``: llhttp sets no header size limit of its own, and
  endless headers or 100 Continues would otherwise keep a connection reading forever.
* **Read timeout per chunk:** each received chunk moves a deadline forward; one timer per
  request checks it lazily (re-armed when it fires early), so a chunk costs a float store, not
  a timer cancel and re-create.
* **Errors are httpx's classes** (``ReadTimeout``, ``RemoteProtocolError``), so a caller that
  handles ``httpx.HTTPError`` handles these. ``ClosedBeforeResponse`` (a
  ``RemoteProtocolError``) marks the one failure after which a request may be sent again:
  the peer closed before a single byte of an answer, typically a kept-alive connection the
  server timed out just as we reused it.
"""

from __future__ import annotations

import asyncio
import typing
from collections.abc import Callable

import httptools
import httpx

from ondc_adapter.outbound import BoundedResponse

HEAD_AND_FRAMING_LIMIT = 256 * 1024  # bytes of an answer that are not its body


class ClosedBeforeResponse(httpx.RemoteProtocolError):
    """The peer closed the connection before any byte of an answer arrived."""


class Http1Connection(asyncio.Protocol):
    """One connection; ``request()`` sends bytes and returns a future of the answer."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False  # connection_lost seen, or closed by us
        self.idle_since = 0.0  # loop time the last answer completed (pool expiry)
        self.on_lost: Callable[[Http1Connection], None] | None = None  # the pool's hook
        self._reusable = False
        self._waiter: asyncio.Future[BoundedResponse] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timeout = 0.0
        self._deadline = 0.0
        self._max_bytes = 0
        self._received = 0  # bytes of this answer, all of them
        self._body_seen = 0  # of which body bytes (including any cut off)
        self._reset_message()

    def _reset_message(self) -> None:
        self._status = 0
        self._headers_done = False
        self._framed = False  # Content-Length or chunked: the parser knows where it ends
        self._body = bytearray()

    # -- the client's side -----------------------------------------------------------------

    @property
    def usable(self) -> bool:
        """Idle, open, and its last answer was read to the end with keep-alive."""
        transport = self.transport
        return (
            self._reusable
            and not self.closed
            and self._waiter is None
            and transport is not None
            and not transport.is_closing()
        )

    def request(
        self, data: bytes, *, max_bytes: int, read_timeout: float
    ) -> asyncio.Future[BoundedResponse]:
        """Write ``data`` (a whole request) and return the future of its answer."""
        assert self.transport is not None and self._waiter is None
        loop = self.loop
        waiter: asyncio.Future[BoundedResponse] = loop.create_future()
        self._waiter = waiter
        self._reusable = False
        self._received = self._body_seen = 0
        self._max_bytes = max_bytes
        self._timeout = read_timeout
        self._deadline = loop.time() + read_timeout
        self._timer = loop.call_at(self._deadline, self._check_deadline)
        self._reset_message()
        self.transport.write(data)
        return waiter

    def close(self) -> None:
        """Close now, pending bytes dropped (an answer half read cannot be resumed)."""
        self.closed = True
        self._reusable = False
        if self.transport is not None:
            self.transport.abort()

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a cast, not an isinstance check: uvloop's transports are not asyncio.Transport
        # subclasses, only the same interface
        self.transport = typing.cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # bytes nobody asked for: the connection is out of step
            self.close()
            return
        self._received += len(data)
        self._deadline = self.loop.time() + self._timeout
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError("the server switched protocols unasked"))
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"malformed HTTP answer: {exc}"))
        # checked after parsing: a body past max_bytes has ended the answer (truncated) by now
        if self._waiter is not None and self._received - self._body_seen > HEAD_AND_FRAMING_LIMIT:
            self._fail(httpx.RemoteProtocolError("answer head or framing larger than 256 KiB"))

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost finishes or fails the answer

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._reusable = False
        if self._waiter is not None:
            if self._headers_done and not self._framed and self._status >= 200:
                self._finish(truncated=False)  # an answer delimited by the end of connection
            elif not self._received:
                self._fail(ClosedBeforeResponse("the server closed the connection unanswered"))
            else:
                self._fail(httpx.RemoteProtocolError("the server closed the connection mid-answer"))
        if self.on_lost is not None:
            self.on_lost(self)

    # -- httptools callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._waiter is None:  # a second answer behind ours: never reuse this connection
            self.close()

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"content-length" or (
            name == b"transfer-encoding" and value.rstrip().lower().endswith(b"chunked")
        ):
            self._framed = True

    def on_headers_complete(self) -> None:
        self._status = self.parser.get_status_code()
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        if self._waiter is None:
            return
        self._body_seen += len(body)
        self._body += body
        if len(self._body) > self._max_bytes:
            del self._body[self._max_bytes :]
            self._finish(truncated=True)
            self.close()

    def on_message_complete(self) -> None:
        if self._waiter is None:
            return
        if self._status < 200:
            if self._status == 101:
                self._fail(httpx.RemoteProtocolError("the server switched protocols unasked"))
            else:  # 100 Continue, 103 Early Hints...: the real answer follows
                self._reset_message()
            return
        self._reusable = self.parser.should_keep_alive()
        self._finish(truncated=False)

    # -- ending an exchange ----------------------------------------------------------------

    def _check_deadline(self) -> None:
        self._timer = None
        if self._waiter is None:
            return
        if self.loop.time() < self._deadline:  # data arrived meanwhile: wait the rest
            self._timer = self.loop.call_at(self._deadline, self._check_deadline)
            return
        self._fail(httpx.ReadTimeout(f"no answer data for {self._timeout:g} s"))

    def _finish(self, *, truncated: bool) -> None:
        waiter = self._end()
        if waiter is not None and not waiter.done():
            waiter.set_result(BoundedResponse(self._status, bytes(self._body), truncated))

    def _fail(self, exc: Exception) -> None:
        waiter = self._end()
        self.close()
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def _end(self) -> asyncio.Future[BoundedResponse] | None:
        waiter, self._waiter = self._waiter, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.idle_since = self.loop.time()
        return waiter
