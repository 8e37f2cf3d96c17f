"""The MCP app is built on its first request (ccproxy.mcp.lazy): served by the daemon's own
uvicorn runner on a real socket, with a Starlette app whose lifespan records what ran; and on
the real daemon, where the first MCP request of its life goes through the proxy listener."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import httpx
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ccproxy.mcp.guard import ASGIApp
from ccproxy.mcp.lazy import LazyApp
from ccproxy.mcp.runtime import McpHttpServer
from tests.support.daemon import DaemonProcess


def recording_app(events: list[str], fail: bool = False) -> Callable[[], ASGIApp]:
    def build() -> ASGIApp:
        events.append("build")

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            if fail:
                raise RuntimeError("session manager refused")
            events.append("startup")
            yield
            events.append("shutdown")

        async def hello(request: Request) -> JSONResponse:
            events.append("request")
            return JSONResponse({"events": list(events)})

        return Starlette(routes=[Route("/mcp", hello, methods=["POST"])], lifespan=lifespan)

    return build


async def test_built_once_on_first_request_and_stopped_with_the_server() -> None:
    events: list[str] = []
    lazy = LazyApp(recording_app(events), modules=("ccproxy.mcp.server",))
    server = McpHttpServer(lazy, "127.0.0.1", 0)
    await server.start()
    try:
        assert events == []  # the server is up, the app is not built
        assert not lazy.built
        async with httpx.AsyncClient(base_url=f"http://{server.address}", trust_env=False) as http:
            answers = await asyncio.gather(*(http.post("/mcp", json={}) for _ in range(4)))
        assert [a.status_code for a in answers] == [200] * 4
        # Built once, its lifespan started before the first request reached it.
        assert events[:2] == ["build", "startup"] and events.count("build") == 1
        assert answers[0].json()["events"][:2] == ["build", "startup"]
    finally:
        await server.stop()
    assert events[-1] == "shutdown"


async def test_unbuilt_app_stops_without_building() -> None:
    events: list[str] = []
    server = McpHttpServer(LazyApp(recording_app(events)), "127.0.0.1", 0)
    await server.start()
    await server.stop()
    assert events == []


async def test_failed_startup_is_a_server_error_naming_it() -> None:
    events: list[str] = []
    lazy = LazyApp(recording_app(events, fail=True))
    server = McpHttpServer(lazy, "127.0.0.1", 0)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://{server.address}", trust_env=False) as http:
            r = await http.post("/mcp", json={})
        assert r.status_code == 500
        assert not lazy.built
    finally:
        await server.stop()


async def test_first_mcp_request_through_the_proxy_listener(start_daemon: Callable[..., DaemonProcess]) -> None:
    d = start_daemon()
    async with Client(StreamableHttpTransport(d.url + "/mcp")) as c:
        assert "list_flows" in {t.name for t in await c.list_tools()}
    port = d.config["ccproxy"]["mcp"]["port"]
    async with Client(StreamableHttpTransport(f"http://127.0.0.1:{port}/mcp")) as c:  # the same, built server
        assert "list_flows" in {t.name for t in await c.list_tools()}
    assert d.stop() == 0
    assert "Traceback" not in d.logs()
