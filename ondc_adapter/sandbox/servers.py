"""In-process uvicorn servers on free loopback ports (the sandbox's parties share one loop)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass
from typing import Any

import uvicorn


@dataclass
class RunningServer:
    name: str
    server: uvicorn.Server
    task: asyncio.Task[None]
    sock: socket.socket
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        self.server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        self.sock.close()


def bind_loopback(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket; port 0 asks the OS for a free one with no race."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit TCP_NODELAY; without it each response written in two parts
    # (headers, body) waits out the peer's 40 ms delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def start_server(
    name: str, app: Any, *, sock: socket.socket | None = None, log_level: str = "warning"
) -> RunningServer:
    sock = sock or bind_loopback()
    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        # Ctrl-C is handled by the launcher, which stops every server in order.
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    # uvicorn captures SIGINT/SIGTERM in serve(); with several servers in one loop the launcher
    # owns the signals instead and stops every server itself.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve(sockets=[sock]), name=f"sandbox-{name}")
    while not server.started:
        if task.done():
            task.result()  # surfaces the startup error
            raise RuntimeError(f"{name} server stopped during startup")
        await asyncio.sleep(0.002)  # uvicorn has no started event
    return RunningServer(name, server, task, sock, host, port)


async def stop_all(servers: list[RunningServer]) -> None:
    """Stop servers together: each one's main loop notices ``should_exit`` on its next tick."""
    for running in servers:
        running.server.should_exit = True
    await asyncio.gather(*(running.stop() for running in servers))
