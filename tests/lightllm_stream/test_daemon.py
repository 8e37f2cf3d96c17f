"""Through the real daemon (`python -m ccproxy start`): SDK clients of each format, the fake
provider answering in another, streamed; latency, upstream reset, garbage, idle stall.

Most tests let one daemon serve every direction: the test-only inbound hook
`tests.lightllm_stream.route_hook` declares the upstream's format per request. The last test
goes through real `lightllm.transforms` rules and the TransformAddon, one daemon per upstream.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ccproxy.lightllm.ir import WIRES
from tests.support.daemon import DaemonProcess, provider_entry
from tests.support.fake_provider import FakeProvider, Reply

from .clients import stream_with_sdk
from .oracles import rendered_summary
from .test_convert import SCENARIOS
from .test_engine import upstream_events

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parents[2]
IDLE_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def fake(shared_fake: FakeProvider) -> FakeProvider:
    return shared_fake


@pytest.fixture(scope="module")
def daemon(fake: FakeProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    config: dict[str, Any] = {
        "ccproxy": {
            "providers": {w: provider_entry(fake.hostport, w) for w in WIRES},
            "hooks": {"inbound": ["ccproxy.hooks.extract_session_id", "tests.lightllm_stream.route_hook"]},
            "lightllm": {"stream_idle_timeout": IDLE_TIMEOUT},
        }
    }
    d = DaemonProcess(tmp_path_factory.mktemp("daemon"), config, env={"PYTHONPATH": str(REPO)})
    d.start()
    yield d
    d.stop()


def headers(upstream: str) -> dict[str, str]:
    return {"x-test-upstream-wire": upstream}


def last_flow(daemon: DaemonProcess) -> dict[str, Any]:
    flows = daemon.flows()
    assert flows, "the daemon recorded no flow"
    return flows[-1]


@pytest.mark.parametrize("upstream", WIRES)
@pytest.mark.parametrize("client", WIRES)
async def test_every_direction_through_the_daemon(
    daemon: DaemonProcess, fake: FakeProvider, client: str, upstream: str
) -> None:
    chunks = upstream_events(upstream, SCENARIOS["parallel_tools"])
    fake.queue(Reply(events=chunks))
    run = await stream_with_sdk(client, daemon.url, headers(upstream))
    assert run.error is None
    assert run.summary is not None
    assert run.summary.core() == rendered_summary(upstream, b"".join(chunks)).core()


@pytest.mark.parametrize(
    ("client", "upstream"),
    [("anthropic", "openai"), ("openai", "gemini"), ("gemini", "openai_responses"), ("openai_responses", "anthropic")],
)
async def test_first_event_reaches_the_sdk_before_the_upstream_pause_ends(
    daemon: DaemonProcess, fake: FakeProvider, client: str, upstream: str
) -> None:
    chunks = upstream_events(upstream, SCENARIOS["text"])
    fake.queue(Reply(events=chunks))
    await stream_with_sdk(client, daemon.url, headers(upstream))  # warm-up: SDK models load lazily
    fake.sent_at.clear()
    pause = 0.7  # below the idle timeout
    fake.queue(Reply(events=chunks, pause_after=2, pause=pause))
    run = await stream_with_sdk(client, daemon.url, headers(upstream))
    assert run.error is None and run.first_event_wall is not None
    pause_end = fake.sent_at[1] + pause
    assert run.first_event_wall < pause_end, "the first converted event waited for the upstream pause"


FAULTS = [("anthropic", "openai"), ("openai", "anthropic"), ("openai_responses", "gemini"), ("gemini", "anthropic")]


@pytest.mark.parametrize(("client", "upstream"), FAULTS)
async def test_upstream_reset(daemon: DaemonProcess, fake: FakeProvider, client: str, upstream: str) -> None:
    chunks = upstream_events(upstream, SCENARIOS["parallel_tools"])
    fake.queue(Reply(events=chunks, reset_after=3))
    run = await stream_with_sdk(client, daemon.url, headers(upstream))
    assert run.error is not None and "upstream stream failed" in run.error


@pytest.mark.parametrize(("client", "upstream"), FAULTS)
async def test_garbage_event(daemon: DaemonProcess, fake: FakeProvider, client: str, upstream: str) -> None:
    chunks = upstream_events(upstream, SCENARIOS["text"])
    fake.queue(Reply(events=[chunks[0], b"data: {garbage\n\n", *chunks[1:]]))
    run = await stream_with_sdk(client, daemon.url, headers(upstream))
    assert run.error is not None and "not JSON" in run.error


@pytest.mark.parametrize(("client", "upstream"), [*FAULTS, ("anthropic", "anthropic")])
async def test_idle_stall(daemon: DaemonProcess, fake: FakeProvider, client: str, upstream: str) -> None:
    chunks = upstream_events(upstream, SCENARIOS["text"])
    fake.queue(Reply(events=chunks, stall_after=2))
    t0 = time.monotonic()
    run = await stream_with_sdk(client, daemon.url, headers(upstream))
    assert run.error is not None and "idle" in run.error
    assert IDLE_TIMEOUT <= time.monotonic() - t0 < IDLE_TIMEOUT + 5


async def test_flow_records_both_sides(daemon: DaemonProcess, fake: FakeProvider) -> None:
    chunks = upstream_events("gemini", SCENARIOS["text"])
    fake.queue(Reply(events=chunks))
    run = await stream_with_sdk("anthropic", daemon.url, headers("gemini"))
    assert run.error is None
    flow = daemon.flows(bodies="1")[-1]
    assert flow["response"]["body"] == b"".join(chunks).decode()  # the upstream's Gemini stream
    sent = flow["client_response"]["body"].encode()  # what the Anthropic SDK received
    assert rendered_summary("anthropic", sent).text == "Hello, wörld ✓"
    assert flow["client_response"]["headers"]["content-type"].startswith("text/event-stream")
    assert flow["ccproxy"]["upstream_wire"] == "gemini" and flow["ccproxy"]["client_wire"] == "anthropic"


async def test_fault_is_recorded_on_the_flow(daemon: DaemonProcess, fake: FakeProvider) -> None:
    chunks = upstream_events("openai", SCENARIOS["text"])
    fake.queue(Reply(events=chunks, reset_after=2))
    run = await stream_with_sdk("anthropic", daemon.url, headers("openai"))
    assert run.error is not None
    flow = daemon.flows(bodies="1")[-1]
    assert "upstream stream failed" in flow["error"]
    assert (
        flow["client_response"]["body"]
        .rstrip()
        .endswith('"type":"api_error","message":' + repr_json(flow["error"]) + "}}")
    )


def repr_json(s: str) -> str:
    import json

    return json.dumps(s, ensure_ascii=False)


@pytest.fixture(scope="module", params=WIRES)
def transform_daemon(
    request: pytest.FixtureRequest, fake: FakeProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, DaemonProcess]]:
    """A daemon whose one transform rule sends every request to the provider of one wire."""
    upstream: str = request.param
    rule: dict[str, Any] = {"match_host": ".*", "action": "transform", "dest_provider": upstream}
    if upstream == "gemini":
        rule["dest_model"] = "gemini-test"
    config: dict[str, Any] = {
        "ccproxy": {
            "providers": {w: provider_entry(fake.hostport, w) for w in WIRES},
            "lightllm": {"transforms": [rule], "stream_idle_timeout": IDLE_TIMEOUT},
        }
    }
    d = DaemonProcess(tmp_path_factory.mktemp(f"transform-{upstream}"), config)
    d.start()
    yield upstream, d
    d.stop()


@pytest.mark.parametrize("client", WIRES)
async def test_transform_rule_streams_convert_end_to_end(
    transform_daemon: tuple[str, DaemonProcess], fake: FakeProvider, client: str
) -> None:
    """The real routing: a `transform` rule converts the request, the stream comes back converted."""
    upstream, daemon = transform_daemon  # same wire: the rule degrades to a redirect, bytes pass through
    chunks = upstream_events(upstream, SCENARIOS["parallel_tools"])
    fake.queue(Reply(events=chunks))
    run = await stream_with_sdk(client, daemon.url)
    assert run.error is None
    assert run.summary is not None
    assert run.summary.core() == rendered_summary(upstream, b"".join(chunks)).core()
    flow = daemon.flows()[-1]
    assert (flow["ccproxy"]["client_wire"], flow["ccproxy"]["upstream_wire"]) == (client, upstream)
