"""The synthetic `tasks_get` exchange that carries buffered MCP events into a request body.

Built once in Anthropic form (one assistant turn of `tool_use` blocks, one user turn of the
matching `tool_result` blocks) and rendered through the lightllm IR for the other wires, so
each wire gets its own spelling of a tool call and its result. Pure functions, no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from ccproxy.lightllm.convert import parse_request, render_request
from ccproxy.lightllm.ir import Wire
from ccproxy.mcp.notify import McpEvent

TOOL_NAME = "tasks_get"
# Where each wire keeps its conversation, and the key that names a turn's speaker.
HISTORY_KEY: dict[Wire, str] = {
    "anthropic": "messages",
    "openai": "messages",
    "openai_responses": "input",
    "gemini": "contents",
}


def tool_use_id(index: int, event: McpEvent) -> str:
    # Anthropic accepts [A-Za-z0-9_-] only; a digest keeps arbitrary task ids out of the id.
    digest = hashlib.sha256(f"{event.server or ''}\0{event.task_id}".encode()).hexdigest()[:16]
    return f"toolu_ccproxy_mcp_{index}_{digest}"


def result_text(event: McpEvent) -> str:
    return f"status: {event.status}" + (f"\n{event.text}" if event.text else "")


def anthropic_pair(events: Sequence[McpEvent]) -> list[dict[str, Any]]:
    uses, results = [], []
    for i, event in enumerate(events):
        tid = tool_use_id(i, event)
        args = {"task_id": event.task_id, **({"server": event.server} if event.server else {})}
        uses.append({"type": "tool_use", "id": tid, "name": TOOL_NAME, "input": args})
        results.append(
            {"type": "tool_result", "tool_use_id": tid, "content": [{"type": "text", "text": result_text(event)}]}
        )
    return [{"role": "assistant", "content": uses}, {"role": "user", "content": results}]


def render_pair(events: Sequence[McpEvent], wire: Wire) -> list[dict[str, Any]]:
    """The exchange as history items of `wire` (messages, Responses input items, Gemini contents)."""
    pair = anthropic_pair(events)
    if wire == "anthropic":
        return pair
    ir = parse_request({"model": "ccproxy-mcp", "max_tokens": 1, "messages": pair}, "anthropic")
    items = render_request(ir, wire).get(HISTORY_KEY[wire])
    if not isinstance(items, list):
        raise ValueError(f"lightllm rendered no {HISTORY_KEY[wire]} for {wire}")
    return items


def _is_user_turn(item: Any, wire: Wire) -> bool:
    if not isinstance(item, dict):
        return False
    if wire == "gemini":
        return item.get("role", "user") == "user" and not any(
            isinstance(p, dict) and "functionResponse" in p for p in item.get("parts") or []
        )
    if wire == "openai_responses":
        return item.get("role") == "user" and item.get("type", "message") == "message"
    if wire == "anthropic" and isinstance(item.get("content"), list):
        # A user turn made only of tool results answers the model; it is not the user's message.
        blocks = item["content"]
        if blocks and all(isinstance(b, dict) and b.get("type") == "tool_result" for b in blocks):
            return False
    return item.get("role") == "user"


def insert_before_final_user(body: dict[str, Any], wire: Wire, items: list[dict[str, Any]]) -> list[Any] | None:
    """The body's new history with `items` before its last user turn; None when it has none."""
    key = HISTORY_KEY[wire]
    history = body.get(key)
    if wire == "openai_responses" and isinstance(history, str):
        history = [{"role": "user", "content": history}]
    if not isinstance(history, list):
        return None
    for i in range(len(history) - 1, -1, -1):
        if _is_user_turn(history[i], wire):
            return [*history[:i], *items, *history[i:]]
    return None
