"""Through the real mitmproxy engine: SDK clients of every format, a scripted upstream of every
other format, streamed event by event; latency, faults and the idle timeout."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from ccproxy.lightllm.ir import WIRES
from ccproxy.lightllm.stream import RequestContext
from ccproxy.lightllm.stream.converter import make_renderer
from ccproxy.lightllm.stream.events import StreamEvent

from .clients import stream_with_sdk
from .engine import Proxy, Script, ScriptedUpstream, Step, running_proxy
from .oracles import rendered_summary
from .test_convert import SCENARIOS

pytestmark = pytest.mark.timeout(60)


def upstream_events(wire: str, events: list[StreamEvent]) -> list[bytes]:
    """The scenario in the upstream's format, one wire event per chunk."""
    r = make_renderer(wire, RequestContext(model="upstream-model", include_usage=True))  # type: ignore[arg-type]
    chunks = [r.render([ev]) for ev in events]
    return [c for c in chunks if c]


def content_type(wire: str) -> str:
    return "text/event-stream"


@pytest.fixture
async def scripted() -> AsyncIterator[ScriptedUpstream]:
    f = ScriptedUpstream()
    await f.start()
    yield f
    await f.stop()


@pytest.fixture
async def proxy(scripted: ScriptedUpstream) -> AsyncIterator[Proxy]:
    async with running_proxy(scripted.port, idle_timeout=0.6) as p:
        yield p


def route(proxy: Proxy, client: str, upstream: str) -> None:
    proxy.tagger.client_wire = client
    proxy.tagger.upstream_wire = upstream


@pytest.mark.parametrize("upstream", WIRES)
@pytest.mark.parametrize("client", WIRES)
async def test_sdk_clients_through_engine(proxy: Proxy, scripted: ScriptedUpstream, client: str, upstream: str) -> None:
    chunks = upstream_events(upstream, SCENARIOS["parallel_tools"])
    scripted.script = Script([Step(c) for c in chunks])
    route(proxy, client, upstream)
    run = await stream_with_sdk(client, proxy.url)
    assert run.error is None
    expected = rendered_summary(upstream, b"".join(chunks))
    assert run.summary is not None
    assert run.summary.core() == expected.core()
    flow = proxy.tagger.flows[-1]
    # the flow keeps the upstream's answer, and the client's when it differs
    assert flow.response.content == b"".join(chunks)
    assert flow.response.headers["content-type"] == "text/event-stream"
    assert flow.metadata["ccproxy.stream"]["converted"] is (client != upstream)
    sent = flow.metadata.get("ccproxy.client_response")
    if client == upstream:
        assert sent is None
    else:
        assert rendered_summary(client, sent["content"]).core() == expected.core()
    assert "ccproxy.error" not in flow.metadata


@pytest.mark.parametrize(("client", "upstream"), [(c, u) for c in WIRES for u in WIRES if c != u][::3])
async def test_first_event_arrives_before_upstream_pause_ends(
    proxy: Proxy, scripted: ScriptedUpstream, client: str, upstream: str
) -> None:
    proxy.streaming.idle_timeout = 10
    chunks = upstream_events(upstream, SCENARIOS["text"])
    route(proxy, client, upstream)
    scripted.script = Script([Step(c) for c in chunks])
    await stream_with_sdk(client, proxy.url)  # warm-up: the SDKs build their models lazily
    # message start and the first text delta, then a long silence, then the rest
    scripted.script = Script([Step(chunks[0]), Step(chunks[1], pause=1.5), *(Step(c) for c in chunks[2:])])
    run = await stream_with_sdk(client, proxy.url)
    assert run.error is None and run.first_event_at is not None
    assert scripted.pause_ends, "the scripted upstream never paused"
    assert run.first_event_at < scripted.pause_ends[-1], "the converted first event waited for the upstream pause"
    assert run.summary is not None and run.summary.text == "Hello, wörld ✓"


FAULT_CLIENTS = [
    ("anthropic", "openai"),
    ("openai", "gemini"),
    ("openai_responses", "anthropic"),
    ("gemini", "openai_responses"),
]


@pytest.mark.parametrize(("client", "upstream"), FAULT_CLIENTS)
async def test_upstream_reset_mid_stream(proxy: Proxy, scripted: ScriptedUpstream, client: str, upstream: str) -> None:
    # client and proxy share one event loop here: a slow first SDK parse must not look idle
    proxy.streaming.idle_timeout = 10
    chunks = upstream_events(upstream, SCENARIOS["parallel_tools"])
    scripted.script = Script([Step(c) for c in chunks[:3]] + [Step(pause=0.05, reset=True)])
    route(proxy, client, upstream)
    run = await stream_with_sdk(client, proxy.url)
    assert run.error is not None and "upstream" in run.error
    assert "upstream stream failed" in proxy.tagger.flows[-1].metadata["ccproxy.error"]


@pytest.mark.parametrize(("client", "upstream"), FAULT_CLIENTS)
async def test_garbage_event(proxy: Proxy, scripted: ScriptedUpstream, client: str, upstream: str) -> None:
    proxy.streaming.idle_timeout = 10
    chunks = upstream_events(upstream, SCENARIOS["text"])
    scripted.script = Script(
        [Step(chunks[0]), Step(b"data: {this is not json\n\n", pause=30.0), *(Step(c) for c in chunks[1:])]
    )
    route(proxy, client, upstream)
    run = await stream_with_sdk(client, proxy.url)
    assert run.error is not None and "not JSON" in run.error
    # the client's stream ended while the upstream was still silent, not when it finally finished
    assert not scripted.pause_ends
    assert "not JSON" in proxy.tagger.flows[-1].metadata["ccproxy.error"]


@pytest.mark.parametrize(("client", "upstream"), [*FAULT_CLIENTS, ("anthropic", "anthropic")])
async def test_idle_upstream_times_out(proxy: Proxy, scripted: ScriptedUpstream, client: str, upstream: str) -> None:
    chunks = upstream_events(upstream, SCENARIOS["text"])
    scripted.script = Script([Step(chunks[0]), Step(chunks[1], pause=30.0), *(Step(c) for c in chunks[2:])])
    route(proxy, client, upstream)
    t0 = time.monotonic()
    run = await stream_with_sdk(client, proxy.url)
    assert run.error is not None and "idle" in run.error
    # not before the idle timeout (0.6 s), and while the upstream was still silent
    assert time.monotonic() - t0 >= 0.5
    assert not scripted.pause_ends
    assert "idle for more than" in proxy.tagger.flows[-1].metadata["ccproxy.error"]


async def test_connection_is_reusable_after_a_fault(proxy: Proxy, scripted: ScriptedUpstream) -> None:
    """After an idle timeout the client's keep-alive connection still serves the next request."""
    import httpx

    chunks = upstream_events("openai", SCENARIOS["text"])
    route(proxy, "anthropic", "openai")
    async with httpx.AsyncClient(base_url=proxy.url) as http:
        scripted.script = Script([Step(chunks[0], pause=5.0), *(Step(c) for c in chunks[1:])])
        r1 = await http.post("/v1/messages", json={"model": "m", "stream": True})
        assert b"event: error" in r1.content and b"idle" in r1.content
        scripted.script = Script([Step(c) for c in chunks])
        r2 = await http.post("/v1/messages", json={"model": "m", "stream": True})
        assert rendered_summary("anthropic", r2.content).text == "Hello, wörld ✓"


async def test_gemini_json_array_both_ways(proxy: Proxy, scripted: ScriptedUpstream) -> None:
    """Gemini without alt=sse: a JSON array, streamed element by element, in and out."""
    import json

    import httpx

    from ccproxy.lightllm.stream import StreamConverter

    # a Gemini client that did not ask for SSE, fed by an Anthropic upstream
    route(proxy, "gemini", "anthropic")
    scripted.script = Script([Step(c) for c in upstream_events("anthropic", SCENARIOS["parallel_tools"])])
    async with httpx.AsyncClient(base_url=proxy.url) as http:
        r = await http.post("/v1beta/models/gemini-x:streamGenerateContent", json={"contents": []})
    assert r.headers["content-type"].startswith("application/json")
    chunks = json.loads(r.content)
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    got = rendered_summary("gemini", r.content)
    assert [c[0] for c in got.tool_calls] == ["get_weather", "get_time"]

    # a Gemini upstream answering with the array, converted for an Anthropic client
    conv = StreamConverter("anthropic", "gemini", RequestContext(model="m", gemini_sse=False))
    array = conv.feed(b"".join(upstream_events("anthropic", SCENARIOS["text"]))) + conv.close()
    pieces = [array[i : i + 40] for i in range(0, len(array), 40)]
    scripted.script = Script([Step(p) for p in pieces], content_type="application/json; charset=UTF-8")
    route(proxy, "anthropic", "gemini")
    async with httpx.AsyncClient(base_url=proxy.url) as http:
        r = await http.post("/v1beta/models/gemini-x:streamGenerateContent", json={"contents": []})
    assert r.headers["content-type"].startswith("text/event-stream")
    assert rendered_summary("anthropic", r.content).text == "Hello, wörld ✓"


async def test_client_that_leaves_mid_stream(proxy: Proxy, scripted: ScriptedUpstream) -> None:
    """The idle timer of an abandoned stream fires into nothing: no response event, no crash."""
    import asyncio

    import httpx

    chunks = upstream_events("openai", SCENARIOS["text"])
    route(proxy, "anthropic", "openai")
    scripted.script = Script([Step(chunks[0]), Step(chunks[1], pause=1.5), *(Step(c) for c in chunks[2:])])
    async with httpx.AsyncClient() as http, http.stream("POST", proxy.url + "/v1/messages", json={}) as r:
        async for _ in r.aiter_raw():
            break
    await asyncio.sleep(1.0)  # past the 0.6 s idle timeout
    flow = proxy.tagger.flows[-1]
    assert flow.error is not None and "disconnected" in flow.error.msg.lower()
    assert flow not in proxy.tagger.responded
    assert flow.metadata["ccproxy.error"].startswith("stream interrupted")
    scripted.script = Script([Step(c) for c in chunks])
    run = await stream_with_sdk("anthropic", proxy.url)
    assert run.error is None and run.summary is not None and run.summary.text == "Hello, wörld ✓"


async def test_unknown_content_encoding_is_an_error_not_a_raw_relay(proxy: Proxy, scripted: ScriptedUpstream) -> None:
    chunks = upstream_events("openai", SCENARIOS["text"])
    scripted.script = Script([Step(c) for c in chunks], headers={"content-encoding": "compress"})
    route(proxy, "anthropic", "openai")
    run = await stream_with_sdk("anthropic", proxy.url)
    assert run.error is not None and "unsupported content-encoding 'compress'" in run.error


async def test_gzip_upstream_is_decoded_for_the_client(proxy: Proxy, scripted: ScriptedUpstream) -> None:
    import gzip

    raw = b"".join(upstream_events("openai_responses", SCENARIOS["parallel_tools"]))
    packed = gzip.compress(raw)
    pieces = [packed[i : i + 64] for i in range(0, len(packed), 64)]
    scripted.script = Script([Step(p) for p in pieces], headers={"content-encoding": "gzip"})
    route(proxy, "openai", "openai_responses")
    run = await stream_with_sdk("openai", proxy.url)
    assert run.error is None and run.summary is not None
    assert run.summary.core() == rendered_summary("openai_responses", raw).core()
    flow = proxy.tagger.flows[-1]
    assert flow.response.headers["content-encoding"] == "gzip" and flow.response.raw_content == packed
