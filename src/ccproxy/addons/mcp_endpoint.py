"""`/mcp` and `POST /mcp/notify` on the reverse (proxy) listener.

`/mcp/notify` buffers an external MCP server's terminal event for the session's next LLM
request; `/mcp` is the same MCP server instance as mcp.host:mcp.port, served through
mitmproxy's ASGI bridge. That bridge delivers a response once it is complete, which suits
MCP's request/response POSTs; the standalone GET event stream never completes, so it is
answered 405 here (the spec's "no stream offered"), and clients that want it use :4030.
Neither is recorded as a flow nor forwarded.
"""

from __future__ import annotations

import logging

from mitmproxy import http

from ccproxy.addons.context import DaemonContext
from ccproxy.addons.control import json_response
from ccproxy.addons.listener import is_reverse
from ccproxy.flows import meta
from ccproxy.mcp.guard import origin_allowed
from ccproxy.mcp.notify import parse_event
from ccproxy.mitm_compat import serve_asgi

log = logging.getLogger(__name__)

NOTIFY_PATH = "/mcp/notify"
MCP_PATH = "/mcp"


class McpEndpointAddon:
    def __init__(self, ctx: DaemonContext) -> None:
        self.ctx = ctx

    async def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error or not is_reverse(flow):
            return
        path = flow.request.path.split("?", 1)[0].rstrip("/")
        if path == NOTIFY_PATH:
            flow.metadata[meta.CONTROL] = True
            flow.response = self.notify(flow.request)
        elif path == MCP_PATH:
            flow.metadata[meta.CONTROL] = True
            await self.bridge(flow)

    def notify(self, req: http.Request) -> http.Response:
        if req.method != "POST":
            return json_response(405, {"error": f"{req.method} not allowed on {NOTIFY_PATH} (POST a JSON event)"})
        origin = req.headers.get("origin")
        if origin is not None and not origin_allowed(origin):
            # A web page may POST here without a CORS preflight (text/plain); it must not reach a prompt.
            return json_response(403, {"error": f"Origin {origin!r} is not allowed"})
        try:
            event = parse_event(req.raw_content or b"")
        except ValueError as e:
            return json_response(400, {"error": str(e)})
        count = self.ctx.notifications.push(event)
        log.info("mcp notify: buffered task %s (%s) for %s", event.task_id, event.status, event.session_id or "any")
        return json_response(200, {"buffered": count})

    async def bridge(self, flow: http.HTTPFlow) -> None:
        app = self.ctx.mcp_app
        if app is None:
            flow.response = json_response(404, {"error": "the MCP server is off (mcp.enabled: false)"})
        elif flow.request.method == "GET":
            flow.response = http.Response.make(
                405,
                b'{"error": "no event stream on the proxy listener; use mcp.host:mcp.port for GET /mcp"}',
                {"content-type": "application/json", "allow": "POST, DELETE"},
            )
        else:
            await serve_asgi(app, flow)
