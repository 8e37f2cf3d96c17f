"""The harness's loopback fake upstream: a bare ASGI app for uvicorn (uvloop + httptools,
several workers), so that the fake is never what limits a measurement.

It answers OpenAI Chat (`…/chat/completions`) and Anthropic Messages (`…/messages`), JSON or
SSE after the request's `stream` flag, with the canned bodies the tests use
(tests/support/canned.py, the real wire formats). SSE events are spaced EVENT_GAP apart, as a
provider's tokens are, so the time to first byte of a stream means something; $CCPROXY_BENCH_EVENT_GAP
(seconds) changes it, 0 sends a stream's events back to back (for stream throughput: with a gap,
a stream at one connection takes (events - 1) x gap however fast the proxy is).

    uvicorn --app-dir REPO bench.fake_upstream:app --workers 2 --loop uvloop --http httptools
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from typing import Any

from tests.support.canned import anthropic_events, anthropic_message, openai_chat, openai_chat_events

EVENT_GAP_ENV = "CCPROXY_BENCH_EVENT_GAP"
EVENT_GAP = float(os.environ.get(EVENT_GAP_ENV) or 0.002)  # seconds between two SSE events

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON = {
    "anthropic": json.dumps(anthropic_message()).encode(),
    "openai": json.dumps(openai_chat()).encode(),
}
_SSE = {"anthropic": anthropic_events(), "openai": openai_chat_events()}


def wire_of(path: str) -> str | None:
    if path.endswith("/chat/completions"):
        return "openai"
    if path.endswith("/messages"):
        return "anthropic"
    return None


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        msg = await receive()
        chunks.append(msg.get("body", b""))
        if not msg.get("more_body"):
            return b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes, ctype: bytes = b"application/json") -> None:
    headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] != "http":
        return
    body = await _read_body(receive)
    path: str = scope["path"]
    if path == "/health":
        await _respond(send, 200, b'{"ok": true}')
        return
    wire = wire_of(path)
    if wire is None:
        await _respond(send, 404, b'{"error": "not found"}')
        return
    try:
        stream = bool(json.loads(body or b"{}").get("stream"))
    except ValueError:
        await _respond(send, 400, b'{"error": "bad json"}')
        return
    if not stream:
        await _respond(send, 200, _JSON[wire])
        return
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    events = _SSE[wire]
    for i, event in enumerate(events):
        if i and EVENT_GAP:
            await asyncio.sleep(EVENT_GAP)
        await send({"type": "http.response.body", "body": event, "more_body": True})
    await send({"type": "http.response.body", "body": b""})
