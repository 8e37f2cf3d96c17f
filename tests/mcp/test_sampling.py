"""The sampling bridge of docs/mcp.md, run as written: an MCP server asks its client for a
completion (`sampling/createMessage`); the client's sampling handler sends it to ccproxy with a
sentinel key, and ccproxy routes it to that provider with the provider's real credential."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
from fastmcp import Client, Context, FastMCP
from mcp.types import CreateMessageRequestParams, SamplingMessage, TextContent

from tests.support.canned import TEXT
from tests.support.daemon import DaemonProcess, provider_entry
from tests.support.fake_provider import FakeProvider

REAL_KEY = "REAL-anthropic-key-for-sampling"


def anthropic_sampler(base_url: str, sentinel: str) -> Callable[..., Any]:
    llm = anthropic.AsyncAnthropic(base_url=base_url, api_key=sentinel, max_retries=0)

    async def handler(messages: list[SamplingMessage], params: CreateMessageRequestParams, _ctx: Any) -> str:
        reply = await llm.messages.create(
            model="claude-haiku-4-5",
            max_tokens=params.maxTokens,
            system=params.systemPrompt or "",
            messages=[
                {"role": m.role, "content": m.content.text} for m in messages if isinstance(m.content, TextContent)
            ],
        )
        return "".join(b.text for b in reply.content if b.type == "text")

    return handler


async def test_sampling_through_ccproxy(fake: FakeProvider, start_daemon: Callable[..., DaemonProcess]) -> None:
    auth = {"type": "command", "command": f"printf {REAL_KEY}"}
    daemon = start_daemon(
        {"ccproxy": {"providers": {"anthropic": provider_entry(fake.hostport, "anthropic", auth=auth)}}}
    )
    server = FastMCP("summariser")

    @server.tool
    async def summarise(text: str, ctx: Context) -> str:
        result = await ctx.sample(f"Summarise: {text}", system_prompt="One line.", max_tokens=64)
        return str(getattr(result, "text", result))

    sampler = anthropic_sampler(daemon.url, "sk-ant-oat-ccproxy-anthropic")
    async with Client(server, sampling_handler=sampler) as client:
        result = await client.call_tool("summarise", {"text": "a long build log"})
    assert result.data == TEXT
    upstream = fake.last()
    assert upstream.headers["x-api-key"] == REAL_KEY
    assert upstream.json["messages"] == [{"role": "user", "content": "Summarise: a long build log"}]
    assert upstream.json["system"] == "One line."
    flow = daemon.flows()[-1]
    assert flow["ccproxy"]["provider"] == "anthropic"
    assert "sk-ant-oat-ccproxy" not in str(fake.received)
