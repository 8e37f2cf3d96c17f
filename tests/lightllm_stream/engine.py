"""A scripted upstream and the real mitmproxy engine in reverse mode, both on loopback, in the
test's own event loop.

Complements the daemon tests (tests/support, a subprocess): here the test can script chunk
timing exactly, inspect live flow objects and swap addons. The proxy is the real mitmproxy master
with StreamingAddon, plus a test-only addon that tags the flow with the client and upstream wire
formats (what the lightllm TransformAddon does in the daemon).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from mitmproxy import http, options
from mitmproxy.tools.dump import DumpMaster

from ccproxy.addons.streaming import StreamingAddon


@dataclass
class Step:
    """One action of the fake upstream after it sent the response headers."""

    data: bytes = b""
    pause: float = 0.0
    reset: bool = False  # abort the TCP connection (RST) instead of ending the body


@dataclass
class Script:
    steps: list[Step]
    content_type: str = "text/event-stream"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ScriptedUpstream:
    """HTTP/1.1 server answering every request with the current script, chunked."""

    script: Script = field(default_factory=lambda: Script([]))
    requests: list[bytes] = field(default_factory=list)
    pause_ends: list[float] = field(default_factory=list)  # monotonic time each pause ended
    port: int = 0
    _server: asyncio.Server | None = None
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        # a script may still be inside a long pause: end it, or the server never closes
        for task in list(self._handlers):
            task.cancel()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                if not await self._respond(writer):
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _respond(self, writer: asyncio.StreamWriter) -> bool:
        s = self.script
        extra = "".join(f"{k}: {v}\r\n" for k, v in s.headers.items())
        writer.write(
            f"HTTP/1.1 {s.status} OK\r\ncontent-type: {s.content_type}\r\n{extra}"
            "transfer-encoding: chunked\r\ncache-control: no-cache\r\n\r\n".encode()
        )
        await writer.drain()
        for step in s.steps:
            if step.data:
                writer.write(b"%x\r\n%s\r\n" % (len(step.data), step.data))
                await writer.drain()
            if step.pause:
                await asyncio.sleep(step.pause)
                self.pause_ends.append(time.monotonic())
            if step.reset:
                writer.transport.abort()
                return False
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True


class WireTagger:
    """Test-only stand-in for the TransformAddon: declares both wire formats of the flow."""

    def __init__(self) -> None:
        self.client_wire = "anthropic"
        self.upstream_wire = "anthropic"
        self.flows: list[http.HTTPFlow] = []
        self.responded: list[http.HTTPFlow] = []  # flows that reached the `response` event

    def response(self, flow: http.HTTPFlow) -> None:
        self.responded.append(flow)

    def request(self, flow: http.HTTPFlow) -> None:
        flow.metadata["ccproxy.client_wire"] = self.client_wire
        flow.metadata["ccproxy.upstream_wire"] = self.upstream_wire
        flow.metadata["ccproxy.client_request"] = flow.request.get_state()
        self.flows.append(flow)


@dataclass
class Proxy:
    master: DumpMaster
    tagger: WireTagger
    streaming: StreamingAddon
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def running_proxy(
    upstream_port: int, idle_timeout: float = 300.0, extra_addons: tuple[object, ...] = ()
) -> AsyncIterator[Proxy]:
    opts = options.Options(mode=[f"reverse:http://127.0.0.1:{upstream_port}@127.0.0.1:0"])
    master = DumpMaster(opts, loop=asyncio.get_running_loop(), with_termlog=False, with_dumper=False)
    tagger = WireTagger()
    streaming = StreamingAddon(idle_timeout=idle_timeout)
    master.addons.add(tagger, *extra_addons, streaming)
    task = asyncio.create_task(master.run())
    proxyserver = master.addons.get("proxyserver")
    for _ in range(200):
        if proxyserver.listen_addrs():
            break
        await asyncio.sleep(0.01)
    port = proxyserver.listen_addrs()[0][1]
    try:
        yield Proxy(master, tagger, streaming, port)
    finally:
        master.shutdown()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 5)
