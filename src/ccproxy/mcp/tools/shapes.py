"""Shape tools: the shapes in force, and saving a captured request as a provider's shape
(the same as `ccproxy shapes list` and `ccproxy shapes save`; docs/shapes.md)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastmcp import FastMCP
from fastmcp.exceptions import ToolError

from ccproxy.mcp.services import McpServices


def register(server: FastMCP, svc: McpServices) -> None:
    @server.tool
    async def list_shapes() -> list[dict[str, Any]]:
        """The shape in force per provider: local file, packaged (official SDKs) or none."""
        from ccproxy.shapes.store import shape_rows

        return await asyncio.to_thread(shape_rows, svc.config)  # reads the shape files

    @server.tool
    async def capture_shape(provider: str, jq: list[str] | None = None, request_only: bool = False) -> dict[str, Any]:
        """Save the newest successful generation request to `provider` (in the jq-filtered flow
        set) as its shape, with credentials and ids removed. `request_only` replaces the file
        with one request-only flow instead of appending to its history."""
        from ccproxy.shapes.capture import CaptureError, pick_capture, save_shape

        flows = await svc.flow_set(jq, bodies=True)
        try:
            chosen = pick_capture(flows, provider, svc.config)
        except CaptureError as e:
            raise ToolError(str(e)) from e
        path = await asyncio.to_thread(save_shape, svc.config, provider, chosen, request_only=request_only)
        req = chosen["request"]
        return {
            "provider": provider,
            "path": str(path),
            "flow_id": chosen.get("id"),
            "request": f"{req.get('method')} {req.get('path')}",
        }
