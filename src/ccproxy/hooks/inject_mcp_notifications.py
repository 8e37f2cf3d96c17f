"""inject_mcp_notifications: hand buffered MCP terminal events to the model.

Events posted to `/mcp/notify` for this flow's session (the id `extract_session_id`
recorded, else a session header of the client) are inserted before the final user
message as a synthetic `tasks_get` tool call and its result, in the wire format the
request leaves in. Each event is taken out of the buffer, so it is injected once.
"""

from __future__ import annotations

import logging

from ccproxy.flows.conversations import SESSION_HEADERS
from ccproxy.flows.meta import MCP_INJECTED
from ccproxy.lightllm.ir import WIRES, Wire
from ccproxy.mcp.inject import HISTORY_KEY, insert_before_final_user, render_pair
from ccproxy.mcp.notify import NotificationBuffer
from ccproxy.pipeline import Context, hook

log = logging.getLogger(__name__)

SERVICE = "mcp_notifications"
INJECTED = "metadata." + MCP_INJECTED.removeprefix("ccproxy.")


def _wire(ctx: Context) -> Wire | None:
    wire = ctx.get("metadata.upstream_wire") or ctx.get("metadata.client_wire")
    return wire if wire in WIRES else None


def _applies(ctx: Context) -> bool:
    buffer = ctx.services.get(SERVICE)
    path = ctx.request.path.lower()
    return (
        isinstance(buffer, NotificationBuffer)
        and buffer.sessions() > 0
        and ctx.request.method == "POST"
        and "count_tokens" not in path  # token counting is no turn: keep the events for the next one
        and "counttokens" not in path
        and _wire(ctx) is not None
    )


def _sessions(ctx: Context) -> list[str | None]:
    found: list[str | None] = [ctx.get("session_id")]
    found += [ctx.headers.get(name) for name in SESSION_HEADERS]
    return found


@hook(
    reads=["session_id", "metadata.upstream_wire", "request.headers", "request.body"],
    writes=["request.body", INJECTED],
    guard=_applies,
)
def inject_mcp_notifications(ctx: Context) -> None:
    """Injects buffered MCP terminal events as synthetic tool_use/tool_result."""
    buffer: NotificationBuffer = ctx.services[SERVICE]
    wire = _wire(ctx)
    body = ctx.body
    if wire is None or not isinstance(body, dict) or insert_before_final_user(body, wire, []) is None:
        return  # not a conversation turn (e.g. count_tokens, a tool-result-only turn): keep the events
    events = buffer.take(_sessions(ctx))
    if not events:
        return
    history = insert_before_final_user(body, wire, render_pair(events, wire))
    ctx.set(f"request.body.{HISTORY_KEY[wire]}", history)
    ctx.set(INJECTED, [e.to_dict() for e in events])
    log.info("flow %s: injected %d MCP event(s) as %s", ctx.flow_id, len(events), wire)
