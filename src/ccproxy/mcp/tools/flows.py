"""Flow tools: the same flow set, filters, redaction, HAR, diff and compare as `ccproxy flows`."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any, Literal

from fastmcp import FastMCP
from fastmcp.exceptions import ToolError
from pydantic import Field

from ccproxy.flows.bodies import body_json, body_text
from ccproxy.flows.compare import compare_flows
from ccproxy.flows.diff import NotEnoughFlows, sliding_diffs
from ccproxy.flows.har import flows_to_har
from ccproxy.mcp.services import McpServices

Jq = Annotated[
    list[str] | None,
    Field(description="jq filters, array -> array, chained with | after flows.default_jq_filters (as --jq)."),
]
Reveal = Annotated[bool, Field(description="Show credential headers (needs mcp.allow_reveal in the config).")]
FlowId = Annotated[str, Field(description="Flow id or a unique prefix of it (list_flows shows them).")]


def row(flow: dict[str, Any]) -> dict[str, Any]:
    req = flow.get("request") or {}
    resp = flow.get("response") or {}
    return {
        "id": flow.get("id"),
        "method": req.get("method"),
        "status": resp.get("status_code"),
        "host": req.get("pretty_host"),
        "path": req.get("path"),
        "user_agent": (flow.get("client_request") or {}).get("headers", {}).get("user-agent"),
        "timestamp_start": flow.get("timestamp_start"),
        "error": flow.get("error"),
        **(flow.get("ccproxy") or {}),
    }


def body_view(message: dict[str, Any] | None) -> dict[str, Any]:
    """A body as JSON when it parses, else as text (base64 for binary), with its type."""
    if not message or message.get("body") is None:
        return {"content_type": None, "json": None, "text": None}
    headers = message.get("headers") or {}
    parsed = body_json(message)
    text = None if parsed is not None else body_text(message)
    out: dict[str, Any] = {"content_type": headers.get("content-type"), "json": parsed, "text": text}
    if parsed is None and text is None:
        out["base64"] = message.get("body")
    return out


def register(server: FastMCP, svc: McpServices) -> None:
    @server.tool
    async def list_flows(
        jq: Jq = None,
        offset: Annotated[int, Field(ge=0, description="Skip this many flows of the set.")] = 0,
        limit: Annotated[int, Field(ge=1, le=500, description="At most this many flows.")] = 50,
    ) -> dict[str, Any]:
        """The filtered flow set, oldest first, one summary row per flow (paged)."""
        flows = await svc.flow_set(jq)
        page = flows[offset : offset + limit]
        return {
            "total": len(flows),
            "offset": offset,
            "limit": limit,
            "next_offset": offset + limit if offset + limit < len(flows) else None,
            "flows": [row(f) for f in page],
        }

    @server.tool
    async def get_flow(flow_id: FlowId, reveal: Reveal = False) -> dict[str, Any]:
        """One flow with bodies: forwarded and client requests, upstream and client responses."""
        return await svc.flow(flow_id, reveal=reveal)

    @server.tool
    async def get_request_body(
        flow_id: FlowId,
        view: Annotated[
            Literal["client", "forwarded"],
            Field(description="client: as the client sent it; forwarded: after hooks and conversion."),
        ] = "forwarded",
    ) -> dict[str, Any]:
        """A request body, parsed as JSON when it is JSON."""
        flow = await svc.flow(flow_id)
        message = flow["client_request"] if view == "client" else flow["request"]
        return {"flow_id": flow["id"], "view": view, **body_view(message)}

    @server.tool
    async def get_response_body(
        flow_id: FlowId,
        view: Annotated[
            Literal["client", "upstream"],
            Field(description="upstream: as the provider sent it; client: what the client got (converted)."),
        ] = "client",
    ) -> dict[str, Any]:
        """A response body; for converted flows the client's and the upstream's differ."""
        flow = await svc.flow(flow_id)
        message = flow["response"]
        if view == "client" and flow.get("client_response"):
            message = flow["client_response"]
        return {"flow_id": flow["id"], "view": view, "status_code": (message or {}).get("status_code"),
                **body_view(message)}  # fmt: skip

    @server.tool
    async def dump_har(jq: Jq = None, reveal: Reveal = False) -> dict[str, Any]:
        """The flow set as a HAR 1.2 document (as `ccproxy flows dump`)."""
        flows = await svc.flow_set(jq, bodies=True, reveal=reveal)
        return await asyncio.to_thread(flows_to_har, flows, reveal_secrets=reveal)

    @server.tool
    async def diff_flows(jq: Jq = None) -> dict[str, Any]:
        """Sliding-window unified diffs of request bodies across the set: f0→f1, f1→f2, ..."""
        flows = await svc.flow_set(jq, bodies=True)
        try:
            pairs = await asyncio.to_thread(lambda: list(sliding_diffs(flows)))
        except NotEnoughFlows as e:
            raise ToolError(str(e)) from e
        return {
            "diffs": [
                {"from": p.left_id, "to": p.right_id, "identical": not p.lines, "diff": "\n".join(p.lines)}
                for p in pairs
            ]
        }

    @server.tool
    async def compare_flow(
        flow_id: Annotated[str | None, Field(description="One flow; omit to compare the whole set.")] = None,
        jq: Jq = None,
    ) -> dict[str, Any]:
        """What ccproxy changed: the client's request against the forwarded one (URL and body)."""
        flows = [await svc.flow(flow_id)] if flow_id else await svc.flow_set(jq, bodies=True)
        comparisons = await asyncio.to_thread(compare_flows, flows)
        injected = {f["id"][:8]: (f.get("ccproxy") or {}).get("mcp_injected") for f in flows}
        return {
            "comparisons": [
                {
                    "flow_id": c.flow_id,
                    "url_change": list(c.url_change) if c.url_change else None,
                    "identical_bodies": c.identical_bodies,
                    "missing_snapshot": c.missing_snapshot,
                    "body_diff": "\n".join(c.body_diff),
                    "mcp_injected": injected.get(c.flow_id),
                }
                for c in comparisons
            ]
        }

    @server.tool
    async def clear_flows(
        jq: Jq = None,
        all: Annotated[bool, Field(description="Every flow, ignoring all filters (as --all).")] = False,
    ) -> dict[str, Any]:
        """Delete the flow set (or every flow) from the daemon."""
        ids = None if all else [str(f["id"]) for f in await svc.flow_set(jq)]
        deleted = await svc.delete(ids) if ids is None or ids else 0
        return {"deleted": deleted}

    @server.resource("ccproxy://flows/{flow_id}", mime_type="application/json")
    async def flow_resource(flow_id: str) -> str:
        """One flow with bodies, secrets redacted."""
        return json.dumps(await svc.flow(flow_id))
