"""What MCP tools may use of the daemon: the flow set through the CLI's service layer (jq
chain with push-down, redaction), the store, the config. Tools get one of these explicitly.

The store reads SQLite and serialising or filtering flows is CPU work, so all of it runs in
a worker thread; only the snapshot of in-flight flows is taken on the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from fastmcp.exceptions import ToolError

from ccproxy.flows.client import join_pages
from ccproxy.flows.jqchain import JqFilterError
from ccproxy.flows.query import ALL, FlowQuery
from ccproxy.flows.serialize import flow_json
from ccproxy.flows.service import resolve_flow_set

if TYPE_CHECKING:
    from mitmproxy import http

    from ccproxy.addons.context import DaemonContext
    from ccproxy.flows.store import FlowStore


@dataclass
class StoreLister:
    """The service layer's FlowLister over the daemon's own store (what `GET /flows` answers)."""

    store: FlowStore
    live: list[http.HTTPFlow]

    def list_text(self, bodies: bool = False, reveal: bool = False, query: FlowQuery = ALL, rows: bool = False) -> str:
        pages: list[str] = []
        while True:
            page = self.store.json_page(query, bodies=bodies, reveal=reveal, live=self.live, rows=rows)
            pages.append(page.text)
            if page.next_cursor is None:
                return join_pages(pages)
            query = replace(query, after=page.next_cursor)


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
        lister = StoreLister(self.ctx.store, self.ctx.store.live_flows())
        try:
            return await asyncio.to_thread(resolve_flow_set, lister, self.filters(jq), bodies=bodies, reveal=reveal)
        except JqFilterError as e:
            raise ToolError(str(e)) from e

    async def flow(self, flow_id: str, *, reveal: bool = False) -> dict[str, Any]:
        reveal = self.check_reveal(reveal)

        def one() -> dict[str, Any] | None:
            found = self.ctx.store.find(flow_id)
            return flow_json(found, bodies=True, reveal=reveal) if found is not None else None

        result = await asyncio.to_thread(one)
        if result is None:
            raise ToolError(f"no flow {flow_id!r} (ids come from list_flows; a unique prefix is enough)")
        return result

    async def delete(self, ids: list[str] | None) -> int:
        return await asyncio.to_thread(self.ctx.delete_flows, ids)
