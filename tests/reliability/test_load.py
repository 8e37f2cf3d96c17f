"""Load and resource faults through the real daemon: 500 concurrent streams (same-format and
converted) with exact event sequences, file descriptors flat over 5,000 requests, a slow-reading
client not blamed on the upstream, and slow-loris under a lowered open-files limit."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ccproxy.lightllm.ir import WIRES
from ccproxy.mitm_compat import LISTEN_BACKLOG
from tests.lightllm_stream.test_convert import SCENARIOS
from tests.lightllm_stream.test_engine import upstream_events
from tests.support.daemon import DaemonProcess, provider_entry
from tests.support.fake_provider import FakeProvider, Recorded, Reply

pytestmark = pytest.mark.timeout(600)

REPO = Path(__file__).resolve().parents[2]
IDLE = 1.0


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    server = FakeProvider().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def daemon(fake: FakeProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    config: dict[str, Any] = {
        "ccproxy": {
            "providers": {w: provider_entry(fake.hostport, w) for w in WIRES},
            "hooks": {"inbound": ["tests.lightllm_stream.route_hook"]},
            "lightllm": {"stream_idle_timeout": IDLE},
            "flows": {"max_flows": 200, "persist": False},
        }
    }
    d = DaemonProcess(tmp_path_factory.mktemp("load"), config, env={"PYTHONPATH": str(REPO)})
    d.start()
    yield d
    d.stop()


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


_VOLATILE = re.compile(rb'"(id|created|created_at|responseId|item_id|message_id)":\s*("[^"]*"|\d+)')


def normalise(body: bytes) -> bytes:
    """The stream without the per-response ids and timestamps that differ between runs."""
    return _VOLATILE.sub(rb'"\1": "-"', body)


REQUESTS = {
    "anthropic": (
        "/v1/messages",
        {"model": "m", "max_tokens": 8, "stream": True, "messages": [{"role": "user", "content": "hi"}]},
    ),
    "openai": ("/v1/chat/completions", {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}),
}


def stream_reply(rec: Recorded) -> Reply:
    return Reply(events=upstream_events(rec.headers.get("x-test-fake-wire", "anthropic"), SCENARIOS["parallel_tools"]))


def failure_report(failed: list[tuple[int, BaseException]], daemon: DaemonProcess) -> str:
    """Which of the streams failed and how, with what the daemon logged above INFO: one failure
    aborting the gather would hide whether it was one reset or all of them, and why."""
    kinds: dict[str, int] = {}
    for _, exc in failed:
        kinds[type(exc).__name__] = kinds.get(type(exc).__name__, 0) + 1
    examples = "; ".join(f"#{i}: {type(e).__name__}: {e}" for i, e in failed[:3])
    noted = [ln for ln in daemon.logs().splitlines() if " INFO " not in ln][-20:]
    return f"{len(failed)} of 500 streams failed {kinds} (e.g. {examples}); daemon log: {noted}"


def test_the_listener_accepts_a_deep_queue(daemon: DaemonProcess) -> None:
    """500 clients connecting at once must not overflow asyncio's default backlog of 100
    (the kernel would reset connections it completed): ss shows the socket's accept queue."""
    ss = shutil.which("ss")
    if ss is None:
        pytest.skip("ss not found (install the iproute2 package)")
    port = daemon.url.rsplit(":", 1)[1]
    out = subprocess.run([ss, "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    assert [line.split()[2] for line in out.splitlines()] == [str(LISTEN_BACKLOG)], out


async def test_500_concurrent_streams_exact_events(daemon: DaemonProcess, fake: FakeProvider) -> None:
    """250 anthropic->anthropic (relayed) and 250 openai client -> anthropic upstream (converted),
    all at once: every client receives exactly the event sequence a lone request receives."""
    cases = [("anthropic", "anthropic")] * 250 + [("openai", "anthropic")] * 250
    limits = httpx.Limits(max_connections=600, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=daemon.url, timeout=300, limits=limits, trust_env=False) as c:

        async def one(client: str, upstream: str) -> bytes:
            path, body = REQUESTS[client]
            headers = {"x-test-upstream-wire": upstream, "x-test-fake-wire": upstream}
            r = await c.post(path, json=body, headers=headers)
            assert r.status_code == 200, r.text
            return normalise(r.content)

        fake.queue(stream_reply, stream_reply)
        reference = {
            ("anthropic", "anthropic"): await one("anthropic", "anthropic"),
            ("openai", "anthropic"): await one("openai", "anthropic"),
        }
        assert (
            b"[DONE]" in reference[("openai", "anthropic")] and b"message_stop" in reference[("anthropic", "anthropic")]
        )
        fake.queue(*([stream_reply] * len(cases)))
        results = await asyncio.gather(*(one(*case) for case in cases), return_exceptions=True)
    failed = [(i, r) for i, r in enumerate(results) if isinstance(r, BaseException)]
    assert not failed, failure_report(failed, daemon)
    bodies = [r for r in results if isinstance(r, bytes)]
    mismatched = [i for i, (case, body) in enumerate(zip(cases, bodies, strict=True)) if body != reference[case]]
    assert not mismatched, f"{len(mismatched)} of 500 streams differ, e.g. #{mismatched[0]}"


def test_fds_flat_over_5000_requests(daemon: DaemonProcess) -> None:
    assert daemon.proc is not None
    pid = daemon.proc.pid
    with httpx.Client(base_url=daemon.url, timeout=30, trust_env=False) as warm:
        warm.get("/v1/models")
    before = fds(pid)

    def batch(n: int, keepalive: bool) -> None:
        limits = httpx.Limits(max_keepalive_connections=10 if keepalive else 0)
        with httpx.Client(base_url=daemon.url, timeout=30, limits=limits, trust_env=False) as c:
            for _ in range(n):
                r = c.post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "x"}]})
                assert r.status_code == 200

    batch(4000, keepalive=True)
    batch(1000, keepalive=False)  # a new connection (and upstream connection) each time
    deadline = time.monotonic() + 30
    while fds(pid) > before + 4 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert fds(pid) <= before + 4, f"fds grew from {before} to {fds(pid)} over 5,000 requests"


def test_slow_reading_client_is_not_blamed_on_the_upstream(daemon: DaemonProcess, fake: FakeProvider) -> None:
    """The upstream sends 8 MiB at once; the client reads nothing for 3 x the idle timeout
    (backpressure stops the chunks), then everything: the stream is whole, no idle error."""
    delta = json.dumps(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "x" * 32768}}
    )
    events = upstream_events("anthropic", SCENARIOS["text"])
    big = [events[0], events[1], *([f"event: content_block_delta\ndata: {delta}\n\n".encode()] * 256), *events[2:]]
    fake.queue(Reply(events=big))
    body = json.dumps(REQUESTS["anthropic"][1]).encode()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", daemon.port))
        s.sendall(
            b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            b"x-test-upstream-wire: anthropic\r\n" + f"content-length: {len(body)}\r\n\r\n".encode() + body
        )
        first = s.recv(1024)
        assert first.startswith(b"HTTP/1.1 200")
        time.sleep(3 * IDLE)
        s.settimeout(60)
        out = bytearray(first)
        while not out.endswith(b"0\r\n\r\n"):
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            out += chunk
    assert b"idle" not in out[-4096:], bytes(out[-600:])
    assert b"message_stop" in out[-4096:]
    assert out.count(b"content_block_delta") >= 256


@pytest.mark.skipif(shutil.which("prlimit") is None, reason="prlimit (util-linux) is needed to lower the fd limit")
def test_slow_loris_under_an_fd_limit(fake: FakeProvider, tmp_path: Path) -> None:
    """256 open files; 400 connections that send half a request head and wait. The over-cap ones
    get an immediate 503, the rest are closed at header_timeout; /health answers throughout and
    the log holds no 'Too many open files' flood."""
    config = {
        "ccproxy": {
            "providers": {"anthropic": provider_entry(fake.hostport, "anthropic")},
            "header_timeout": 2.0,
            "flows": {"persist": False},
        }
    }
    d = DaemonProcess(tmp_path / "loris", config, wrap=["prlimit", "--nofile=256:256"])
    d.start()
    try:
        attackers = []
        for _ in range(400):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
            s.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            attackers.append(s)
        during = httpx.get(d.url + "/health", timeout=10, trust_env=False)  # never hangs, never a reset
        assert during.status_code in (200, 503) and during.headers["content-type"] == "application/json"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if httpx.get(d.url + "/health", timeout=10, trust_env=False).status_code == 200:
                break
            time.sleep(0.2)
        assert httpx.get(d.url + "/health", timeout=10, trust_env=False).status_code == 200
        # every attacker was either refused (503) or closed: none holds a descriptor any more
        answers = []
        for s in attackers:
            s.settimeout(30)
            try:
                answers.append(s.recv(4096))
            except OSError:
                answers.append(b"")
            s.close()
        refused = sum(a.startswith(b"HTTP/1.1 503") for a in answers)
        assert refused > 0 and all(a == b"" or a.startswith(b"HTTP/1.1 503") for a in answers)
        assert d.proc is not None and fds(d.proc.pid) < 200
        log = d.logs()
        assert "Traceback" not in log
        assert log.count("Too many open files") <= 3
    finally:
        d.stop()
