"""The MCP app, built on its first request.

fastmcp and the MCP SDK cost the daemon ~19 MB of RSS (a sixth of it) and ~0.3 s of start-up,
for a server most daemons never hear from. `LazyApp` stands in for the streamable-HTTP app:
its own lifespan (uvicorn's, on mcp.port) only answers; the first HTTP request imports the
real app off the event loop, runs the real app's lifespan (which starts the MCP session
manager) and then forwards every request to it. Shutdown stops the real app if it started.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, MutableMapping
from typing import Any

from ccproxy.mcp.guard import ASGIApp, Receive, Scope, Send

Message = MutableMapping[str, Any]


class LazyApp:
    def __init__(self, build: Callable[[], ASGIApp], modules: tuple[str, ...] = ()) -> None:
        self._build = build
        self._modules = modules  # imported in a worker thread before `build` runs on the loop
        self._app: ASGIApp | None = None
        self._lock: asyncio.Lock | None = None
        self._lifespan: asyncio.Task[None] | None = None
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue()

    @property
    def built(self) -> bool:
        return self._app is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._serve_lifespan(receive, send)
            return
        app = await self._ready()
        await app(scope, receive, send)

    async def _serve_lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _ready(self) -> ASGIApp:
        if self._app is not None:
            return self._app
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._app is None:
                for name in self._modules:  # an import of fastmcp takes ~0.3 s of CPU: not on the loop
                    await asyncio.to_thread(importlib.import_module, name)
                app = self._build()
                await self._start(app)
                self._app = app
        return self._app

    async def _start(self, app: ASGIApp) -> None:
        scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}

        async def lifespan() -> None:
            await app(scope, self._to_app.get, self._from_app.put)

        self._lifespan = asyncio.create_task(lifespan(), name="mcp-lifespan")
        await self._to_app.put({"type": "lifespan.startup"})
        reply = await self._reply()
        if reply.get("type") != "lifespan.startup.complete":
            raise RuntimeError(f"MCP server failed to start: {reply.get('message') or reply.get('type')}")

    async def _reply(self) -> Message:
        """The real app's next lifespan message, or a failure if its lifespan task ended."""
        assert self._lifespan is not None
        getter = asyncio.ensure_future(self._from_app.get())
        await asyncio.wait({getter, self._lifespan}, return_when=asyncio.FIRST_COMPLETED)
        if getter.done():
            return getter.result()
        getter.cancel()
        error = self._lifespan.exception() if not self._lifespan.cancelled() else None
        return {"type": "lifespan.ended", "message": repr(error) if error else "its lifespan returned"}

    async def aclose(self) -> None:
        task = self._lifespan
        if task is None or task.done():
            return
        await self._to_app.put({"type": "lifespan.shutdown"})
        await self._reply()
        await asyncio.wait({task}, timeout=5)
        self._lifespan = None
