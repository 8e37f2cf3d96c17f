"""The daemon-embedded mitmweb UI: a real master, a real proxied flow, headless Chromium."""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from mitmproxy import addons, options
from mitmproxy.master import Master

from ccproxy.addons.web_inspector import WebInspector

KNOWN_PATH = "/v1/messages/known-flow-7f3a"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def upstream() -> Iterator[int]:
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            body = b'{"type": "message", "content": []}'
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


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
async def inspected(upstream: int) -> AsyncIterator[tuple[WebInspector, int]]:
    proxy_port, web_port = _free_port(), _free_port()
    opts = options.Options(
        mode=[f"reverse:http://127.0.0.1:{upstream}/"], listen_host="127.0.0.1", listen_port=proxy_port
    )
    master = Master(opts)
    master.addons.add(*addons.default_addons())
    inspector = WebInspector(master, port=web_port)
    master.addons.add(inspector)
    task = asyncio.create_task(master.run())
    try:
        await _wait_listening(proxy_port)
        await _wait_listening(web_port)
        yield inspector, proxy_port
    finally:
        master.shutdown()
        await asyncio.wait_for(task, 15)


async def _proxied_request(proxy_port: int) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        response = await client.post(f"http://127.0.0.1:{proxy_port}{KNOWN_PATH}", json={"model": "m"})
    assert response.status_code == 200


async def test_ui_api_lists_the_flow_and_requires_the_token(inspected: tuple[WebInspector, int]) -> None:
    inspector, proxy_port = inspected
    await _proxied_request(proxy_port)
    base = f"http://127.0.0.1:{inspector.port}"
    async with httpx.AsyncClient(trust_env=False) as client:
        denied = await client.get(f"{base}/flows")
        allowed = await client.get(f"{base}/flows", headers={"authorization": f"Bearer {inspector.token}"})
    assert denied.status_code == 403
    assert allowed.status_code == 200
    assert [f["request"]["path"] for f in allowed.json()] == [KNOWN_PATH]
    assert inspector.url == f"{base}/?token={inspector.token}"


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
