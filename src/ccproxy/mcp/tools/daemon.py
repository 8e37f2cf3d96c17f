"""Daemon tools: the synthetic model catalog, the hook pipeline, the namespace jail; the
`ccproxy://status` resource."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from fastmcp import FastMCP

from ccproxy import __version__
from ccproxy.lightllm import models_list
from ccproxy.mcp.services import McpServices


def status(svc: McpServices) -> dict[str, Any]:
    ctx = svc.ctx
    return {
        "version": __version__,
        "ready": ctx.ready,
        "uptime_s": round(time.time() - ctx.started_at, 3),
        "listeners": dict(ctx.listeners),
        "flows": len(ctx.store),
        "mcp_notifications_pending_sessions": ctx.notifications.sessions(),
    }


def register(server: FastMCP, svc: McpServices) -> None:
    @server.tool
    def list_models() -> dict[str, Any]:
        """The models ccproxy can route (the synthetic GET /v1/models list, OpenAI form)."""
        c = svc.config.ccproxy
        return models_list.openai_list(models_list.collect(c.transform_rules, c.providers))

    @server.tool
    def pipeline_status() -> dict[str, Any]:
        """The hook DAG of each stage: hooks in execution order, their reads/writes and levels."""
        from ccproxy.pipeline import build_pipelines
        from ccproxy.pipeline.render import describe

        return describe(build_pipelines(svc.config.ccproxy.hooks))

    @server.tool
    async def namespace_status() -> dict[str, Any]:
        """Readiness of the namespace jail (`ccproxy namespace status`): tools, WireGuard, userns."""
        from ccproxy.jail.system import collect_status

        st = await asyncio.to_thread(collect_status)  # runs probes: off the event loop
        return {"ok": st.ok, **st.to_json(), "listener": svc.ctx.listeners.get("wireguard")}

    @server.resource("ccproxy://status", mime_type="application/json")
    def status_resource() -> str:
        """Daemon version, readiness, listeners, flow count."""
        return json.dumps(status(svc))
