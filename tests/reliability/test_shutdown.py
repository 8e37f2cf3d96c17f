"""SIGTERM drains: the listener stops accepting, in-flight streams get `shutdown_grace`, then
each one still open ends with an error event in its client's format; the daemon exits 0 with
no ERROR and no traceback in its log. 50 concurrent streams through the real daemon."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ccproxy.lightllm.ir import WIRES
from tests.lightllm_stream.clients import stream_with_sdk
from tests.lightllm_stream.test_convert import SCENARIOS
from tests.lightllm_stream.test_engine import upstream_events
from tests.support.daemon import DaemonProcess, provider_entry
from tests.support.fake_provider import FakeProvider, Recorded, Reply

pytestmark = pytest.mark.timeout(300)

REPO = Path(__file__).resolve().parents[2]
GRACE = 2.0
STREAMS = 50
FINISHING = 10  # streams that end on their own within the grace period
# (client, upstream): same-format and converted
PAIRS = [("anthropic", "anthropic"), ("openai", "anthropic"), ("gemini", "openai"), ("openai_responses", "gemini")]


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    server = FakeProvider().start()
    yield server
    server.stop()


@pytest.fixture
def daemon(fake: FakeProvider, tmp_path: Path) -> Iterator[DaemonProcess]:
    config: dict[str, Any] = {
        "ccproxy": {
            "providers": {w: provider_entry(fake.hostport, w) for w in WIRES},
            "hooks": {"inbound": ["tests.lightllm_stream.route_hook"]},
            "lightllm": {"stream_idle_timeout": 120},
            "shutdown_grace": GRACE,
        }
    }
    d = DaemonProcess(tmp_path / "d", config, env={"PYTHONPATH": str(REPO)})
    d.start()
    yield d
    d.stop()


def reply_for(rec: Recorded) -> Reply:
    upstream = rec.headers.get("x-test-fake-wire", "anthropic")  # route_hook drops its own header
    chunks = upstream_events(upstream, SCENARIOS["text"])
    if rec.headers.get("x-test-kind") == "finish":
        return Reply(events=chunks, pause_after=2, pause=GRACE / 4)
    return Reply(events=chunks, stall_after=2)  # two events, then silence until the client leaves


async def test_sigterm_drains_in_flight_streams(daemon: DaemonProcess, fake: FakeProvider) -> None:
    assert daemon.proc is not None
    fake.queue(*([reply_for] * STREAMS))
    jobs = []
    for i in range(STREAMS):
        client, upstream = PAIRS[i % len(PAIRS)]
        kind = "finish" if i < FINISHING else "stall"
        headers = {"x-test-upstream-wire": upstream, "x-test-fake-wire": upstream, "x-test-kind": kind}
        jobs.append(asyncio.create_task(stream_with_sdk(client, daemon.url, headers)))
    # every request has reached the upstream and got its first events
    deadline = time.monotonic() + 120
    while (len(fake.received) < STREAMS or len(fake.sent_at) < 2 * STREAMS) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert len(fake.received) == STREAMS
    daemon.proc.send_signal(signal.SIGTERM)
    await asyncio.sleep(0.3)
    # no longer accepting
    with pytest.raises(httpx.ConnectError):
        httpx.get(daemon.url + "/health", timeout=2, trust_env=False)
    runs = await asyncio.gather(*jobs)
    finished = [r for r in runs[:FINISHING]]
    drained = [r for r in runs[FINISHING:]]
    assert all(r.error is None and r.summary is not None for r in finished), [r.error for r in finished]
    assert all(r.error is not None and "shutting down" in r.error for r in drained), [r.error for r in drained]
    assert daemon.proc.wait(30) == 0
    log = daemon.logs()
    assert "Traceback" not in log and " ERROR " not in log, log[-3000:]
    assert "ended 40 request(s) still in flight" in log
