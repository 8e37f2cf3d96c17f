"""The MCP server's switches on the real daemon: bearer token, mcp.enabled, a non-loopback host
without a token, `ccproxy status --mcp`, `ccproxy mcp config`."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport

from tests.support.daemon import DaemonProcess, free_port

TOKEN = "mcp-token-0123456789abcdef"


async def test_token_enforced(start_daemon: Callable[..., DaemonProcess], tmp_path: Path) -> None:
    token_file = tmp_path / "mcp.token"
    token_file.write_text(TOKEN + "\n")
    d = start_daemon({"ccproxy": {"mcp": {"auth_token_file": str(token_file)}}})
    port = d.config["ccproxy"]["mcp"]["port"]
    for url in (f"http://127.0.0.1:{port}/mcp", d.url + "/mcp"):
        with pytest.raises(httpx.HTTPStatusError, match="401"):
            async with Client(StreamableHttpTransport(url)) as c:
                await c.list_tools()
        with pytest.raises(httpx.HTTPStatusError, match="401"):
            async with Client(StreamableHttpTransport(url, auth="wrong-token")) as c:
                await c.list_tools()
        async with Client(StreamableHttpTransport(url, auth=TOKEN)) as c:
            assert "list_flows" in {t.name for t in await c.list_tools()}
    r = httpx.post(f"http://127.0.0.1:{port}/mcp", json={}, timeout=10, trust_env=False)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert TOKEN not in d.logs()
    # The snippet carries the token (with a warning on stderr) so that it works as printed.
    out = d.cli("mcp", "config", "--client", "claude")
    assert out.returncode == 0, out.stderr
    assert shlex.split(out.stdout) == [
        "claude", "mcp", "add", "--transport", "http", "ccproxy", f"http://127.0.0.1:{port}/mcp",
        "--header", f"Authorization: Bearer {TOKEN}",
    ]  # fmt: skip
    assert "bearer token" in out.stderr


@pytest.mark.parametrize(
    ("mcp", "message"),
    [
        ({"host": "0.0.0.0"}, "mcp.host is '0.0.0.0', not a loopback address: set mcp.auth_token"),
        ({"auth_token_file": "/nonexistent/ccproxy-token"}, "mcp.auth_token_file: cannot read /nonexistent"),
        ({"auth_token": "a", "auth_token_file": "b"}, "mcp.auth_token or mcp.auth_token_file, not both"),
    ],
)
def test_refuses_to_start(tmp_path: Path, mcp: dict[str, str], message: str) -> None:
    d = DaemonProcess(tmp_path / "cfg", {"ccproxy": {"mcp": mcp}})
    result = d.cli("start", timeout=120)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_port_in_use_is_one_line(tmp_path: Path, start_daemon: Callable[..., DaemonProcess]) -> None:
    first = start_daemon({"ccproxy": {}}, name="first")
    taken = first.config["ccproxy"]["mcp"]["port"]
    d = DaemonProcess(tmp_path / "second", {"ccproxy": {"mcp": {"port": taken}}})
    result = d.cli("start", timeout=120)
    assert result.returncode == 1
    assert f"mcp listener: 127.0.0.1:{taken} is already in use (set mcp.port" in result.stderr


def test_status_mcp_and_config(start_daemon: Callable[..., DaemonProcess]) -> None:
    on = start_daemon({"ccproxy": {}}, name="on")
    port = on.config["ccproxy"]["mcp"]["port"]
    status = on.cli("status", "--mcp", "--json")
    assert status.returncode == 0, status.stdout
    report = json.loads(status.stdout)
    assert report["components"]["mcp"] is True
    assert report["health"]["listeners"]["mcp"] == f"127.0.0.1:{port}"
    out = on.cli("mcp", "config")
    assert out.stdout.strip() == f"claude mcp add --transport http ccproxy http://127.0.0.1:{port}/mcp"
    assert out.stderr == ""
    codex = on.cli("mcp", "config", "--client", "codex").stdout
    assert f'[mcp_servers.ccproxy]\nurl = "http://127.0.0.1:{port}/mcp"' in codex
    gemini = on.cli("mcp", "config", "--client", "gemini").stdout
    assert json.loads(gemini.split("\n", 1)[1]) == {
        "mcpServers": {"ccproxy": {"httpUrl": f"http://127.0.0.1:{port}/mcp"}}
    }
    generic = json.loads(on.cli("mcp", "config", "--client", "json").stdout)
    assert generic["mcpServers"]["ccproxy"] == {"type": "http", "url": f"http://127.0.0.1:{port}/mcp"}


def test_disabled(start_daemon: Callable[..., DaemonProcess]) -> None:
    port = free_port()
    off = start_daemon({"ccproxy": {"mcp": {"enabled": False, "port": port}}}, name="off")
    status = off.cli("status", "--mcp")
    assert status.returncode == 4  # the MCP bit of the "down" mask
    r = httpx.post(off.url + "/mcp", json={}, timeout=10, trust_env=False)
    assert r.status_code == 404 and "mcp.enabled: false" in r.json()["error"]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/mcp", timeout=5, trust_env=False)
    # /mcp/notify still buffers: the injection hook does not need the MCP server.
    ok = httpx.post(off.url + "/mcp/notify", json={"task_id": "t", "status": "done"}, timeout=10, trust_env=False)
    assert ok.json() == {"buffered": 1}
    cfg = off.cli("mcp", "config")
    assert cfg.returncode == 1 and "mcp.enabled: false" in cfg.stderr
