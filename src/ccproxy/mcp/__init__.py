"""The in-daemon MCP server (FastMCP, streamable HTTP), its tools, and the notification buffer."""

from __future__ import annotations

import importlib.util
import warnings


def quiet_authlib() -> None:
    """fastmcp imports authlib.jose for OAuth providers we do not use; authlib forces its
    deprecation notice on ("always"), which would greet every `ccproxy start`."""
    if importlib.util.find_spec("authlib") is None:
        return
    from authlib.deprecate import AuthlibDeprecationWarning

    warnings.filterwarnings("ignore", category=AuthlibDeprecationWarning)
