"""What MCP tools may use of the daemon: the flow set through the CLI's jq chain and
redaction, the store, the config. Tools get one of these explicitly (no globals).

Serialising flows and running jq are CPU work, so they run in a worker thread; the
store is only read (a snapshot of its flows) and written on the event loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastmcp.exceptions import ToolError

from ccproxy.flows.jqchain import JqFilterError
from ccproxy.flows.serialize import flow_json
from ccproxy.flows.service import compile_flow_chain, run_flow_chain

if TYPE_CHECKING:
    from mitmproxy import http

    from ccproxy.daemon.context import DaemonContext


@dataclass
class McpServices:
    ctx: DaemonContext

    @property
    def config(self) -> Any:
        return self.ctx.config

    def check_reveal(self, reveal: bool) -> bool:
        """Secrets show only when the caller asks and the config allows it."""
        if reveal and not self.ctx.config.ccproxy.mcp.allow_reveal:
            raise ToolError("reveal=true needs mcp.allow_reveal: true in ccproxy.yaml")
        return reveal

    def filters(self, jq: Sequence[str] | None) -> list[str]:
        return [*self.ctx.config.ccproxy.flows.default_jq_filters, *(jq or [])]

    async def flow_set(
        self, jq: Sequence[str] | None = None, *, bodies: bool = False, reveal: bool = False
    ) -> list[dict[str, Any]]:
        """The flow set exactly as `ccproxy flows ... --jq` resolves it."""
        reveal = self.check_reveal(reveal)
        try:
            chain = compile_flow_chain(self.filters(jq))
        except JqFilterError as e:
            raise ToolError(str(e)) from e
        snapshot = list(self.ctx.store)

        def work() -> list[dict[str, Any]]:
            text = json.dumps([flow_json(f, bodies=bodies, reveal=reveal) for f in snapshot])
            return run_flow_chain(chain, text)

        try:
            return await asyncio.to_thread(work)
        except JqFilterError as e:
            raise ToolError(str(e)) from e

    def find(self, flow_id: str) -> http.HTTPFlow:
        flow = self.ctx.store.find(flow_id)
        if flow is None:
            raise ToolError(f"no flow {flow_id!r} (ids come from list_flows; a unique prefix is enough)")
        return flow

    async def flow(self, flow_id: str, *, reveal: bool = False) -> dict[str, Any]:
        reveal = self.check_reveal(reveal)
        found = self.find(flow_id)
        return await asyncio.to_thread(flow_json, found, bodies=True, reveal=reveal)
