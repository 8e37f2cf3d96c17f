"""Serving the MCP app on mcp.host:mcp.port inside the daemon's event loop (uvicorn).

The daemon owns the process's signals and the socket is bound here, so a port in use is
the daemon's one-line start-up error rather than uvicorn's exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn

log = logging.getLogger(__name__)
# The MCP SDK logs every request at INFO; the daemon's log is for ccproxy's own events.
logging.getLogger("mcp.server").setLevel(logging.WARNING)


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # SIGINT/SIGTERM belong to the daemon, which stops us in turn


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.setblocking(False)
    return sock


class McpHttpServer:
    def __init__(self, app: Any, host: str, port: int) -> None:
        self.host, self.port = host, port
        config = uvicorn.Config(
            app, lifespan="on", log_level="warning", access_log=False, timeout_graceful_shutdown=2,
            log_config=None, ws="none",  # MCP is plain HTTP: no websockets import
        )  # fmt: skip
        self._server = _EmbeddedServer(config)
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    async def start(self) -> None:
        """Bind and serve; returns once the app's lifespan ran and the socket accepts."""
        self._sock = bind(self.host, self.port)
        self.port = int(self._sock.getsockname()[1])
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]), name="mcp-http")
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
                raise RuntimeError("MCP server stopped during start-up")
            await asyncio.sleep(0.01)
        log.info("MCP server on http://%s/mcp", self.address)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(Exception):
            await self._task
        if self._sock is not None:
            self._sock.close()
