"""The MCP server's bearer token from the config (mcp.auth_token or mcp.auth_token_file)."""

from __future__ import annotations

from pathlib import Path

from ccproxy.access.local import is_loopback_bind
from ccproxy.config.models import Mcp


def resolve_token(mcp: Mcp) -> str | None:
    """The bearer token from the config; ValueError (naming the key) when unusable."""
    if mcp.auth_token_file:
        path = Path(mcp.auth_token_file).expanduser()
        try:
            from_file = path.read_text().strip()
        except OSError as e:
            raise ValueError(f"mcp.auth_token_file: cannot read {path}: {e.strerror}") from e
        if not from_file:
            raise ValueError(f"mcp.auth_token_file: {path} is empty")
        return from_file
    if mcp.auth_token is not None and not mcp.auth_token.strip():
        raise ValueError("mcp.auth_token: empty")
    token = mcp.auth_token.strip() if mcp.auth_token else None
    if token is None and not is_loopback_bind(mcp.host):
        raise ValueError(
            f"mcp.host is {mcp.host!r}, not a loopback address: set mcp.auth_token (or mcp.auth_token_file)"
        )
    return token
