"""Conversation tools: flows grouped as `ccproxy flows list --group` groups them, and one
conversation's turns in order (roles, text, tool calls, token usage), read through lightllm."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastmcp import FastMCP
from fastmcp.exceptions import ToolError
from pydantic import Field

from ccproxy.flows.bodies import body_bytes, body_json
from ccproxy.flows.conversations import flow_usage, group_conversations
from ccproxy.lightllm.convert import parse_request, parse_response
from ccproxy.lightllm.ir import WIRES, Message, TextPart, ToolCallPart, ToolResultPart
from ccproxy.lightllm.stream import events as ev
from ccproxy.lightllm.stream.converter import make_intake
from ccproxy.mcp.services import McpServices
from ccproxy.mcp.tools.flows import Jq


def _parts(parts: list[Any]) -> dict[str, Any]:
    text = "".join(p.text for p in parts if isinstance(p, TextPart))
    calls = [{"id": p.id, "name": p.name, "arguments": p.arguments} for p in parts if isinstance(p, ToolCallPart)]
    results = [
        {
            "tool_call_id": p.tool_call_id,
            "text": "".join(c.text for c in p.content if isinstance(c, TextPart)),
            "is_error": p.is_error,
        }
        for p in parts
        if isinstance(p, ToolResultPart)
    ]
    return {"text": text, "tool_calls": calls, "tool_results": results}


def _message(m: Message, flow_id: str) -> dict[str, Any]:
    return {"flow_id": flow_id, "role": m.role, **_parts(m.parts)}


def _streamed_reply(raw: bytes, wire: Any) -> list[Any]:
    """Text and tool calls of an event stream, accumulated from lightllm's stream events."""
    intake = make_intake(wire)
    text: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    for event in [*intake.feed(raw), *intake.close()]:
        if isinstance(event, ev.TextDelta):
            text.append(event.text)
        elif isinstance(event, ev.ToolCallStart):
            calls[event.index] = {"id": event.id, "name": event.name, "arguments": ""}
        elif isinstance(event, ev.ToolCallDelta) and event.index in calls:
            calls[event.index]["arguments"] += event.arguments
    parts: list[Any] = [TextPart(text="".join(text))] if text else []
    parts += [ToolCallPart(id=c["id"], name=c["name"], arguments_raw=c["arguments"]) for c in calls.values()]
    return parts


def flow_turns(flow: dict[str, Any], seen: int) -> tuple[list[dict[str, Any]], int]:
    """The turns this flow added after the `seen` messages of earlier flows, and its reply."""
    md = flow.get("ccproxy") or {}
    wire = md.get("client_wire")
    fid = str(flow.get("id"))
    if wire not in WIRES:
        return [], seen
    client = flow.get("client_request") or flow.get("request")
    body = body_json(client)
    turns: list[dict[str, Any]] = []
    if isinstance(body, dict):
        try:
            req = parse_request(body, wire, path=(client or {}).get("path"))
        except ValueError:
            req = None
        if req is not None:
            new = req.messages[seen:] if len(req.messages) >= seen else req.messages
            turns += [_message(m, fid) for m in new]
            seen = len(req.messages)
    response = flow.get("client_response") or flow.get("response")
    reply = body_json(response)
    parts: list[Any] = []
    try:
        if isinstance(reply, dict):
            parts = parse_response(reply, wire).parts
        elif (raw := body_bytes(response)) and "event-stream" in str((response or {}).get("headers", {})):
            parts = _streamed_reply(raw, wire)
    except ValueError:
        parts = []
    usage = flow_usage(flow)
    turns.append(
        {
            "flow_id": fid,
            "role": "assistant",
            **_parts(parts),
            "usage": {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens},
        }
    )
    return turns, seen + 1


def conversation_turns(flows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    turns: list[dict[str, Any]] = []
    seen = 0
    for flow in flows:
        added, seen = flow_turns(flow, seen)
        turns += added
    return turns


def register(server: FastMCP, svc: McpServices) -> None:
    @server.tool
    async def list_conversations(jq: Jq = None) -> dict[str, Any]:
        """Flows grouped into conversations (session id, session header or shared history)."""
        flows = await svc.flow_set(jq, bodies=True)
        groups = await asyncio.to_thread(group_conversations, flows)
        return {"conversations": [c.to_dict() for c in groups]}

    @server.tool
    async def get_conversation(
        key: Annotated[str, Field(description="A conversation key from list_conversations.")],
        jq: Jq = None,
    ) -> dict[str, Any]:
        """One conversation's turns in order: role, text, tool calls and results, token usage."""
        flows = await svc.flow_set(jq, bodies=True)

        def build() -> dict[str, Any] | None:
            for c in group_conversations(flows):
                if c.key == key:
                    return {**c.to_dict(), "turns": conversation_turns(c.flows)}
            return None

        found = await asyncio.to_thread(build)
        if found is None:
            raise ToolError(f"no conversation {key!r} in the flow set (keys come from list_conversations)")
        return found
