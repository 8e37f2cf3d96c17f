"""MCP tools and resources, one module per topic.

Every module here defines ``register(server, services)``; the server registers all of
them, so a new tool is one new (or edited) module in this package and nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastmcp import FastMCP

    from ccproxy.mcp.services import McpServices

Register = Callable[["FastMCP", "McpServices"], None]


def registrars() -> list[tuple[str, Register]]:
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if callable(register):
            found.append((info.name, register))
    return found
