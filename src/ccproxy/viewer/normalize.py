"""One side of a stored flow (request or response, any wire format) as the viewer's JSON.

Bodies are parsed by lightllm's own parsers into its IR, then flattened into plain dicts that
the page renders: every wire shows the same way, and no vocabulary is repeated here. Pure:
input is the `/flows` JSON of a flow (already redacted), output is JSON-ready data.
"""

from __future__ import annotations

import json
from typing import Any

from ccproxy.flows.bodies import body_bytes, body_json
from ccproxy.lightllm import convert
from ccproxy.lightllm.ir import (
    MediaPart,
    Message,
    OpaquePart,
    RedactedThinkingPart,
    Request,
    Response,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolResultPart,
    Wire,
)
from ccproxy.lightllm.stream import events as ev
from ccproxy.lightllm.stream.converter import make_intake

# Inline images above this size are named, not embedded (a page must stay loadable).
MAX_INLINE_IMAGE = 2 * 1024 * 1024


def part_view(p: Any) -> dict[str, Any]:
    if isinstance(p, TextPart):
        return {"type": "text", "text": p.text}
    if isinstance(p, ThinkingPart):
        return {"type": "thinking", "text": p.text, "signed": p.signature is not None}
    if isinstance(p, RedactedThinkingPart):
        return {"type": "thinking", "text": "", "redacted": True}
    if isinstance(p, ToolCallPart):
        args = p.arguments if p.arguments_raw is None else _maybe_json(p.arguments_raw)
        return {"type": "tool_use", "id": p.id, "name": p.name, "input": args}
    if isinstance(p, ToolResultPart):
        return {
            "type": "tool_result",
            "tool_use_id": p.tool_call_id,
            "name": p.name,
            "is_error": bool(p.is_error),
            "content": [part_view(c) for c in p.content],
        }
    if isinstance(p, MediaPart):
        return _media_view(p)
    if isinstance(p, OpaquePart):
        return {"type": "other", "origin": p.origin, "data": p.data}
    return {"type": "other", "data": str(p)}


def _maybe_json(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _media_view(p: MediaPart) -> dict[str, Any]:
    out: dict[str, Any] = {"type": p.kind, "media_type": p.media_type, "name": p.filename}
    size = len(p.data) * 3 // 4 if p.data else len(p.text or "")
    out["size"] = size
    if p.kind == "image" and p.data and size <= MAX_INLINE_IMAGE and (p.media_type or "").startswith("image/"):
        out["data"] = p.data
    if p.url:
        out["url"] = p.url  # shown as text, never fetched: the page loads nothing from elsewhere
    return out


def messages_view(messages: list[Message]) -> list[dict[str, Any]]:
    return [{"role": m.role, "parts": [part_view(p) for p in m.parts]} for m in messages]


def tool_view(t: Tool) -> dict[str, Any]:
    if t.builtin is not None:
        return {"name": t.name, "description": t.description, "builtin": t.builtin}
    return {"name": t.name, "description": t.description, "schema": t.parameters}


def request_view(req: Request) -> dict[str, Any]:
    system = "\n\n".join(p.text for p in req.system or [])
    return {
        "model": req.model,
        "stream": bool(req.stream),
        "system": system if req.system else None,
        "system_size": len(system.encode()),
        "tools": [tool_view(t) for t in req.tools or []],
        "messages": messages_view(req.messages),
    }


def parse_request_side(message: dict[str, Any] | None, wire: Wire | None) -> dict[str, Any]:
    """A request dict of `/flows` as the viewer's request view, or {"error": ...}."""
    if not message or wire is None:
        return {"error": "not an LLM request"}
    body = body_json(message)
    if body is None:
        return {"error": "request body is not JSON"}
    try:
        req = convert.parse_request(body, wire, path=str(message.get("path") or ""))
    except ValueError as e:
        return {"error": str(e)}
    return request_view(req)


def _is_stream(message: dict[str, Any], wire: Wire, path: str) -> bool:
    ctype = str((message.get("headers") or {}).get("content-type", ""))
    return "text/event-stream" in ctype or (wire == "gemini" and "streamGenerateContent" in path)


def parse_response_side(
    message: dict[str, Any] | None, wire: Wire | None, request_path: str = ""
) -> dict[str, Any] | None:
    """A response dict of `/flows` as {parts, stop_reason, usage, status, stream, events}."""
    if not message:
        return None
    out: dict[str, Any] = {"status": message.get("status_code"), "stream": False}
    if wire is None:
        return out
    raw = body_bytes(message) or b""
    if _is_stream(message, wire, request_path):
        sse = "text/event-stream" in str((message.get("headers") or {}).get("content-type", ""))
        out["stream"] = True
        try:
            resp, count = accumulate_stream(raw, wire, gemini_sse=sse)
        except ValueError as e:
            out["error"] = f"stream not readable: {e}"
            return out
        out["events"] = count
    else:
        body = body_json(message)
        if body is None:
            out["error"] = "response body is not JSON" if raw else "empty response body"
            return out
        try:
            resp = convert.parse_response(body, wire)
        except ValueError:
            # an error answer: show the provider's own message
            out["error"] = _error_text(body)
            return out
    out.update(response_view(resp))
    return out


def _error_text(body: Any) -> str:
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return str(err["message"])
        if isinstance(err, str):
            return err
    return json.dumps(body)[:2000]


def response_view(resp: Response) -> dict[str, Any]:
    usage = resp.usage
    return {
        "model": resp.model,
        "parts": [part_view(p) for p in resp.parts],
        "stop_reason": resp.stop_reason,
        "usage": usage.model_dump() if usage is not None else None,
    }


def _extend(resp: Response, kind: type[TextPart] | type[ThinkingPart], text: str) -> None:
    """A delta continues the last part of its kind, or starts one."""
    last = resp.parts[-1] if resp.parts else None
    if isinstance(last, kind):
        last.text += text
    else:
        resp.parts.append(kind(text=text))


def accumulate_stream(raw: bytes, wire: Wire, *, gemini_sse: bool = True) -> tuple[Response, int]:
    """A recorded event stream folded into one IR response, and its number of events."""
    intake = make_intake(wire, gemini_sse=gemini_sse)
    events = intake.feed(raw) + intake.close()
    resp = Response()
    calls: dict[int, tuple[ToolCallPart, list[str]]] = {}
    for e in events:
        if isinstance(e, ev.MessageStart):
            resp.id, resp.model = e.id or None, e.model or None
            if e.usage is not None:
                resp.usage = ev.merge_usage(resp.usage, e.usage)
        elif isinstance(e, ev.TextDelta):
            _extend(resp, TextPart, e.text)
        elif isinstance(e, ev.ThinkingDelta):
            _extend(resp, ThinkingPart, e.text)
        elif isinstance(e, ev.ThinkingSignature):
            last = resp.parts[-1] if resp.parts else None
            if isinstance(last, ThinkingPart):
                last.signature = e.signature
        elif isinstance(e, ev.RedactedThinking):
            resp.parts.append(RedactedThinkingPart(data=e.data))
        elif isinstance(e, ev.ToolCallStart):
            call = ToolCallPart(id=e.id, name=e.name)
            calls[e.index] = (call, [])
            resp.parts.append(call)
        elif isinstance(e, ev.ToolCallDelta) and e.index in calls:
            calls[e.index][1].append(e.arguments)
        elif isinstance(e, ev.UsageUpdate):
            resp.usage = ev.merge_usage(resp.usage, e.usage)
        elif isinstance(e, ev.Stop):
            resp.stop_reason = e.reason
        elif isinstance(e, ev.StreamError):
            resp.stop_reason = "error"
            resp.parts.append(TextPart(text=f"[stream error] {e.message}"))
    for call, chunks in calls.values():
        text = "".join(chunks)
        call.arguments = _maybe_json(text) if text else {}
    return resp, _count_events(raw, gemini_sse=gemini_sse or wire != "gemini")


def _count_events(raw: bytes, *, gemini_sse: bool) -> int:
    if not gemini_sse:  # Gemini's streamed JSON array: one element per chunk
        try:
            doc = json.loads(raw)
        except ValueError:
            return 0
        return len(doc) if isinstance(doc, list) else 1
    return sum(1 for line in raw.splitlines() if line.startswith(b"data:"))
