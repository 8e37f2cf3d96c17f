"""Control endpoints on the reverse listener: /, /health, /flows.

They are answered before any other addon sees the flow, and such flows are not
recorded. Only the reverse (loopback) listener serves them: a jailed program
talking to a real host never reaches them. Every control request passes the local
access check first (loopback Host, no foreign Origin, the token for reveal/DELETE).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from mitmproxy import http

from ccproxy import __version__
from ccproxy.addons.context import DaemonContext
from ccproxy.addons.listener import is_reverse
from ccproxy.flows import meta
from ccproxy.flows.query import NEXT_HEADER, FlowQuery, parse_query
from ccproxy.flows.serialize import flow_json


def json_response(status: int, payload: Any) -> http.Response:
    return http.Response.make(status, json.dumps(payload).encode(), {"content-type": "application/json"})


def _flag(req: http.Request, name: str) -> bool:
    return req.query.get(name, "").lower() in ("1", "true", "yes")


def is_control_path(raw_path: str) -> bool:
    """Whether a path names a control endpoint (`/` is the base-URL probe, not one)."""
    path = raw_path.split("?", 1)[0]
    return path in ("/health", "/health/", "/flows") or path.startswith("/flows/")


def is_sensitive(req: http.Request) -> bool:
    """Reveals secrets or deletes: needs the local token even on loopback. The export holds
    whole stored flows (credentials too with flows.store_secrets)."""
    path = req.path.split("?", 1)[0]
    return req.method == "DELETE" or _flag(req, "reveal") or path.rstrip("/") == "/flows/export"


class ControlAddon:
    def __init__(self, ctx: DaemonContext) -> None:
        self.ctx = ctx

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.ctx.ready else "starting",
            "version": __version__,
            "uptime_s": round(time.time() - self.ctx.started_at, 3),
            "listeners": self.ctx.listeners,
            "flows": len(self.ctx.store),
        }

    async def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error or not is_reverse(flow):
            return
        req = flow.request
        if is_control_path(req.path):
            port = flow.client_conn.sockname[1]
            refusal = self.ctx.access.check_control(
                req.headers, port, sensitive=is_sensitive(req), host=req.host_header
            )
            if refusal is not None:
                flow.metadata[meta.CONTROL] = True
                flow.response = json_response(refusal.status, {"error": refusal.message})
                return
        bare = req.path.split("?", 1)[0]
        # `/flows/` is an empty flow id (an unset shell variable), never "every flow".
        path = bare if bare.startswith("/flows/") else bare.rstrip("/") or "/"
        answer = self._route(req, path)
        if answer is None and (path == "/flows" or path.startswith("/flows/")):
            flow.metadata[meta.CONTROL] = True  # claimed now: no other addon may touch it meanwhile
            answer = await self._flows(req, path)
        if answer is not None:
            flow.metadata[meta.CONTROL] = True
            flow.response = answer

    async def _flows(self, req: http.Request, path: str) -> http.Response:
        """/flows endpoints: they read SQLite, so the work runs off the event loop."""
        store = self.ctx.store
        method = req.method
        if path == "/flows":
            if method == "GET":
                try:
                    query = parse_query(req.query)
                except ValueError as e:
                    return json_response(400, {"error": str(e)})
                live = store.live_flows()  # snapshotted before the query: see FlowStore.json_page
                page = await asyncio.to_thread(
                    store.json_page,
                    query,
                    bodies=_flag(req, "bodies"),
                    reveal=_flag(req, "reveal"),
                    live=live,
                    rows=_flag(req, "table"),
                )
                headers = {"content-type": "application/json"}
                if page.next_cursor is not None:
                    headers[NEXT_HEADER] = str(page.next_cursor)
                return http.Response.make(200, page.text.encode(), headers)
            if method == "DELETE":
                raw_ids = req.query.get("ids")
                ids = [i for i in raw_ids.split(",") if i] if raw_ids is not None else None
                return json_response(200, {"deleted": await asyncio.to_thread(self.ctx.delete_flows, ids)})
            return json_response(405, {"error": f"{method} not allowed on /flows"})
        if path == "/flows/export" and method == "GET":
            wanted = tuple(i for i in (req.query.get("ids") or "").split(",") if i)
            data = await asyncio.to_thread(lambda: b"".join(store.raw_records(FlowQuery(ids=wanted))))
            return http.Response.make(200, data, {"content-type": "application/octet-stream"})
        key = path.removeprefix("/flows/").rstrip("/")
        if not key:  # `/flows/` (an unset shell variable) names no flow, never "every flow"
            return json_response(404, {"error": "no flow ''"})
        reveal = _flag(req, "reveal")

        def one() -> tuple[str | None, str | None]:
            flow = store.find(key)
            if flow is None:
                return None, None
            return flow.id, json.dumps(flow_json(flow, bodies=True, reveal=reveal)) if method == "GET" else None

        fid, text = await asyncio.to_thread(one)
        if fid is None:
            return json_response(404, {"error": f"no flow {key!r}"})
        if method == "GET" and text is not None:
            return http.Response.make(200, text.encode(), {"content-type": "application/json"})
        if method == "DELETE":
            return json_response(200, {"deleted": await asyncio.to_thread(self.ctx.delete_flows, [fid])})
        return json_response(405, {"error": f"{method} not allowed on /flows/{{id}}"})

    def _route(self, req: http.Request, path: str) -> http.Response | None:
        method = req.method
        if path == "/" and method in ("GET", "HEAD"):
            # Some clients probe the base URL before their first request.
            return json_response(200, {"name": "ccproxy", "version": __version__})
        if path == "/health" and method in ("GET", "HEAD"):
            # 503 while starting: a client (or test) that sees 200 finds every listener up.
            return json_response(200 if self.ctx.ready else 503, self.health())
        return None
