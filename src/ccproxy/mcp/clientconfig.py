"""What registers ccproxy's MCP server in each client (`ccproxy mcp config`). Pure text."""

from __future__ import annotations

import json
import shlex
from typing import Literal

from ccproxy.config.models import Mcp

Client = Literal["claude", "codex", "gemini", "json"]
CLIENTS: tuple[Client, ...] = ("claude", "codex", "gemini", "json")
TOKEN_ENV = "CCPROXY_MCP_TOKEN"
NAME = "ccproxy"


def server_url(mcp: Mcp) -> str:
    host = mcp.host
    if host in ("0.0.0.0", "::", ""):  # a wildcard bind is reached on loopback from this machine
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{mcp.port}/mcp"


def snippet(client: Client, mcp: Mcp, token: str | None) -> str:
    url = server_url(mcp)
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    if client == "claude":
        argv = ["claude", "mcp", "add", "--transport", "http", NAME, url]
        for name, value in auth.items():
            argv += ["--header", f"{name}: {value}"]
        return shlex.join(argv)
    if client == "codex":
        lines = ["# ~/.codex/config.toml", f"[mcp_servers.{NAME}]", f"url = {json.dumps(url)}"]
        if token:
            lines.append(f"bearer_token_env_var = {json.dumps(TOKEN_ENV)}  # export {TOKEN_ENV}=<mcp.auth_token>")
        return "\n".join(lines)
    if client == "gemini":
        entry: dict[str, object] = {"httpUrl": url, **({"headers": auth} if auth else {})}
        return "// ~/.gemini/settings.json\n" + json.dumps({"mcpServers": {NAME: entry}}, indent=2)
    return json.dumps({"mcpServers": {NAME: {"type": "http", "url": url, **({"headers": auth} if auth else {})}}},
                      indent=2)  # fmt: skip
