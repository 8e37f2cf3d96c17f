"""The daemon-embedded mitmweb UI: a real master, a real proxied flow, headless Chromium."""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from flowkit import make_flow
from mitmproxy import addons, options
from mitmproxy.master import Master
from tests.support.daemon import provider_entry
from tests.support.fake_provider import FakeProvider

from ccproxy.addons.context import DaemonContext
from ccproxy.addons.web_inspector import WebInspector
from ccproxy.config import parse_config
from ccproxy.daemon.chain import build_chain
from ccproxy.flows.store import FlowStore

KNOWN_PATH = "/v1/messages?known-flow-7f3a"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def upstream() -> Iterator[FakeProvider]:
    server = FakeProvider().start()
    yield server
    server.stop()


async def _wait_listening(port: int, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)


@pytest.fixture
async def inspected(upstream: FakeProvider) -> AsyncIterator[tuple[WebInspector, int]]:
    """A master wired like the daemon's (its addon chain and flow store) plus the web inspector."""
    proxy_port, web_port = _free_port(), _free_port()
    config = parse_config(
        {"ccproxy": {"port": proxy_port, "providers": {"anthropic": provider_entry(upstream.hostport, "anthropic")}}},
        Path("."),
    )
    store = FlowStore(None, max_flows=100, max_bytes=10**8)
    store.open()
    reloaded = make_flow("https://api.anthropic.com/v1/messages/reloaded-from-disk")
    assert store.complete(reloaded).result(10)
    ctx = DaemonContext(config=config, store=store)
    opts = options.Options()
    master = Master(opts)
    master.addons.add(*addons.default_addons())
    master.addons.add(*build_chain(ctx))
    opts.update(
        mode=[f"reverse:http://127.0.0.1:9@127.0.0.1:{proxy_port}"], keep_host_header=True, connection_strategy="lazy"
    )
    inspector = WebInspector(master, port=web_port)
    master.addons.add(inspector)
    task = asyncio.create_task(master.run())
    try:
        await _wait_listening(proxy_port)
        await _wait_listening(web_port)
        inspector.view.add(list(store))  # as the daemon does for flows reloaded from disk
        yield inspector, proxy_port
    finally:
        master.shutdown()
        await asyncio.wait_for(task, 15)
        store.close()


async def _proxied_request(proxy_port: int) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        response = await client.post(
            f"http://127.0.0.1:{proxy_port}{KNOWN_PATH}",
            json={"model": "claude-test", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]},
            headers={"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"},
        )
        assert response.status_code == 200
        # The CLI's own control request must not show up in the UI.
        control = await client.get(f"http://127.0.0.1:{proxy_port}/flows")
        assert control.status_code == 200


async def test_ui_api_lists_the_flow_and_requires_the_token(inspected: tuple[WebInspector, int]) -> None:
    inspector, proxy_port = inspected
    await _proxied_request(proxy_port)
    base = f"http://127.0.0.1:{inspector.port}"
    async with httpx.AsyncClient(trust_env=False) as client:
        denied = await client.get(f"{base}/flows")
        allowed = await client.get(f"{base}/flows", headers={"authorization": f"Bearer {inspector.token}"})
    assert denied.status_code == 403
    assert allowed.status_code == 200
    paths = [f["request"]["path"] for f in allowed.json()]
    assert paths == ["/v1/messages/reloaded-from-disk", KNOWN_PATH]
    assert inspector.url == f"{base}/?token={inspector.token}"
    inspector.forget([allowed.json()[0]["id"]])
    async with httpx.AsyncClient(trust_env=False) as client:
        after = await client.get(f"{base}/flows", headers={"authorization": f"Bearer {inspector.token}"})
    assert [f["request"]["path"] for f in after.json()] == [KNOWN_PATH]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)")
async def test_chromium_shows_the_known_flow(inspected: tuple[WebInspector, int], tmp_path: Path) -> None:
    inspector, proxy_port = inspected
    await _proxied_request(proxy_port)
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1280,800",
        "--virtual-time-budget=10000",
    ]

    async def chromium(*extra: str) -> bytes:
        assert CHROMIUM is not None
        proc = await asyncio.create_subprocess_exec(
            CHROMIUM,
            *flags,
            *extra,
            inspector.url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 90)
        assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
        return out

    dom = (await chromium("--dump-dom")).decode(errors="replace")
    assert KNOWN_PATH in dom  # the flow list rendered it
    shot = tmp_path / "flows.png"
    await chromium(f"--screenshot={shot}")
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 10_000
