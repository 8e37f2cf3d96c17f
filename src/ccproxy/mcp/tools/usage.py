"""`usage_summary`: the token and cost totals of `ccproxy usage`, from the store's usage columns."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any, Literal

from fastmcp import FastMCP
from fastmcp.exceptions import ToolError
from pydantic import Field

from ccproxy.flows.jqchain import JqFilterError
from ccproxy.flows.query import FlowQuery
from ccproxy.mcp.services import McpServices
from ccproxy.mcp.tools.flows import Jq
from ccproxy.usage.prices import Pricer
from ccproxy.usage.report import build_report, when


def register(server: FastMCP, svc: McpServices) -> None:
    @server.tool
    async def usage_summary(
        by: Literal["session", "model", "provider", "client", "day"] = "model",
        since: Annotated[str | None, Field(description="7d, 12h, 30m, or a date (2026-11-30)")] = None,
        until: Annotated[str | None, Field(description="the same forms")] = None,
        jq: Jq = None,
    ) -> dict[str, Any]:
        """Token and cost totals per group, as `ccproxy usage --json` (cost_usd null: price unknown)."""
        now = time.time()
        try:
            query = FlowQuery(since=when(since, now), until=when(until, now))
        except ValueError as e:
            raise ToolError(str(e)) from e
        store = svc.ctx.store
        pricer = Pricer(svc.config.ccproxy.usage.prices)

        def report() -> dict[str, Any]:  # SQLite and pricing: off the event loop
            return build_report(store.rows(query), by, pricer, svc.filters(jq)).as_json()

        try:
            return await asyncio.to_thread(report)
        except JqFilterError as e:
            raise ToolError(str(e)) from e
