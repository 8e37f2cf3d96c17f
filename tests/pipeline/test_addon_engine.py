"""HookStageAddon inside the real mitmproxy engine (reverse mode) against a loopback fake upstream.

The client is the official Anthropic SDK; the fake records exactly what arrives upstream.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import anthropic
import pytest
from mitmproxy import http, options
from mitmproxy.tools.dump import DumpMaster

from ccproxy.addons.hooks import HookStageAddon
from ccproxy.pipeline import build_pipelines

ModuleWriter = Callable[[str], str]

MESSAGE = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "echo",
    "content": [{"type": "text", "text": "hi"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 3, "output_tokens": 1},
}


@dataclass
class Upstream:
    port: int
    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)


async def _serve(up: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            up.received.append((lines[0], headers, body))
            sent = json.loads(body or b"{}")
            out = json.dumps({**MESSAGE, "model": sent.get("model", "echo")}).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(out) + out
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


class OrderProbe:
    """Stands in for the transform addon between the two stages, to prove the chain order."""

    name = "order_probe"

    def request(self, flow: http.HTTPFlow) -> None:
        flow.metadata.setdefault("ccproxy.order", []).append("transform")


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    up = Upstream(0)
    server = await asyncio.start_server(lambda r, w: _serve(up, r, w), "127.0.0.1", 0)
    up.port = server.sockets[0].getsockname()[1]
    yield up
    server.close()


async def start_proxy(upstream: Upstream, hooks_config: dict[str, Any]) -> tuple[DumpMaster, asyncio.Task[None], int]:
    pipes = build_pipelines(hooks_config)
    opts = options.Options(mode=[f"reverse:http://127.0.0.1:{upstream.port}"], listen_host="127.0.0.1", listen_port=0)
    master = DumpMaster(opts, with_termlog=False, with_dumper=False)
    # mitmproxy's ErrorCheck exits a master that sees any ERROR logged while it starts, from any
    # logger: an earlier test's SDK client, collected here, logs "Task exception was never
    # retrieved" for its aclose() on a closed loop. This test checks the hook stages, not that.
    master.addons.remove(master.addons.get("errorcheck"))
    master.addons.add(
        HookStageAddon("inbound", pipes["inbound"]),
        OrderProbe(),
        HookStageAddon("outbound", pipes["outbound"]),
    )
    task = asyncio.create_task(master.run())
    server = master.addons.get("proxyserver")
    for _ in range(250):
        if addrs := server.listen_addrs():
            return master, task, addrs[0][1]
        await asyncio.sleep(0.02)
    raise RuntimeError("mitmproxy did not start listening")


def sdk(port: int) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=f"http://127.0.0.1:{port}", api_key="test-key", max_retries=0)


USER_HOOKS = """
from ccproxy.pipeline import hook

@hook(reads=["request.model"], writes=["request.model"])
def rewrite_model(ctx, *, to: str):
    ctx.model = to

@hook(writes=["metadata.order"])
def mark_inbound(ctx):
    ctx.metadata.setdefault("order", []).append("inbound")

@hook(reads=["metadata.order"], writes=["request.headers.x-order"])
def report_order(ctx):
    ctx.metadata["order"].append("outbound")
    ctx.set("request.headers.x-order", ",".join(ctx.metadata["order"]))

@hook(writes=["request.headers.x-optional"])
def optional(ctx):
    ctx.set("request.headers.x-optional", "on")

@hook(reads=["request.model"])
def stamp(ctx): ...

@stamp.on_response(reads=["response.body.model"], writes=["response.headers.x-upstream-model"])
def stamp_response(ctx):
    ctx.set("response.headers.x-upstream-model", ctx.get("response.body.model"))

@hook(writes=["request.headers.authorization"])
def broken_auth(ctx):
    from ccproxy.providers.errors import AuthConfigError
    raise AuthConfigError("provider 'acme': auth command exited 1", provider="acme", status=502)
"""


async def test_stages_in_the_engine(upstream: Upstream, user_module: ModuleWriter) -> None:
    m = user_module(USER_HOOKS)
    master, task, port = await start_proxy(
        upstream,
        {
            "inbound": [
                {"hook": f"{m}.rewrite_model", "params": {"to": "claude-haiku-4-5"}},
                f"{m}.mark_inbound",
                "ccproxy.hooks.extract_session_id",
            ],
            "outbound": [
                f"{m}.report_order",
                {"hook": f"{m}.optional", "enabled": False},
                f"{m}.stamp",
                "ccproxy.hooks.verbose_mode",
            ],
        },
    )
    try:
        async with sdk(port) as client:
            raw = await client.messages.with_raw_response.create(
                model="claude-opus-4-1",
                max_tokens=16,
                messages=[{"role": "user", "content": "hello"}],
                metadata={"user_id": json.dumps({"session_id": "sess-123"})},
                extra_headers={
                    "anthropic-beta": "redact-thinking-2025-02-19,interleaved-thinking-2025-05-14",
                    "x-ccproxy-hooks": "+optional",
                },
            )
            msg = await raw.parse()
    finally:
        master.shutdown()
        await task
    [(line, headers, body)] = upstream.received
    assert line.startswith("POST /v1/messages")
    sent = json.loads(body)
    assert sent["model"] == "claude-haiku-4-5"
    assert sent["messages"] == [{"role": "user", "content": "hello"}]
    assert headers["x-order"] == "inbound,transform,outbound"
    assert headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"
    assert headers["x-optional"] == "on"
    assert "x-ccproxy-hooks" not in headers
    assert int(headers["content-length"]) == len(body)
    assert msg.model == "claude-haiku-4-5"
    assert raw.headers["x-upstream-model"] == "claude-haiku-4-5"


async def test_auth_config_error_fails_the_request_locally(upstream: Upstream, user_module: ModuleWriter) -> None:
    m = user_module(USER_HOOKS)
    master, task, port = await start_proxy(upstream, {"inbound": [f"{m}.broken_auth", f"{m}.mark_inbound"]})
    try:
        async with sdk(port) as client:
            with pytest.raises(anthropic.InternalServerError) as err:
                await client.messages.create(model="m", max_tokens=1, messages=[{"role": "user", "content": "x"}])
    finally:
        master.shutdown()
        await task
    assert err.value.status_code == 502
    assert err.value.body == {
        "type": "error",
        "error": {"type": "api_error", "message": "provider 'acme': auth command exited 1"},
    }
    assert upstream.received == []


async def test_hook_exception_does_not_kill_the_flow(upstream: Upstream, user_module: ModuleWriter) -> None:
    m = user_module("from ccproxy.pipeline import hook\n\n@hook\ndef explode(ctx):\n    raise RuntimeError('x')\n")
    master, task, port = await start_proxy(upstream, {"outbound": [m]})
    try:
        async with sdk(port) as client:
            msg = await client.messages.create(model="m", max_tokens=1, messages=[{"role": "user", "content": "x"}])
    finally:
        master.shutdown()
        await task
    assert msg.content[0].text == "hi"  # type: ignore[union-attr]
    assert len(upstream.received) == 1
