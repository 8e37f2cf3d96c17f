"""Sessions and their turns, built from stored flows (`/flows` JSON with bodies, redacted).

Pure: flows in, JSON-ready dicts out; the addon and `flows view --html` do the I/O.
Sessions are the conversations of ``flows.conversations`` (session id, Anthropic metadata,
session header, else message-prefix matching). A turn is one flow: the request as the client
sent it, the upstream request when the flow was converted, the response, the stream timeline
and what changed since the previous turn of the same thread.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast, get_args

from ccproxy.flows.bodies import body_bytes, body_json
from ccproxy.flows.conversations import Conversation, group_conversations
from ccproxy.flows.tokens import body_usage
from ccproxy.lightllm.gemini import model_from_path
from ccproxy.lightllm.ir import Wire
from ccproxy.viewer.normalize import parse_request_side, parse_response_side

_WIRES = frozenset(get_args(Wire))
# (model, wire, host, (input incl. cached, output, cache read, cache write), at) -> USD or None
Pricer = Callable[[str | None, str | None, str | None, tuple[int, int, int, int], float], Decimal | None]
_PRODUCT = re.compile(r"[A-Za-z][\w.+-]*(?:/[A-Za-z][\w.+-]*)?")


def _wire(value: Any) -> Wire | None:
    return cast(Wire, value) if value in _WIRES else None


def _meta(flow: dict[str, Any]) -> dict[str, Any]:
    return flow.get("ccproxy") or {}


def client_request(flow: dict[str, Any]) -> dict[str, Any]:
    return flow.get("client_request") or flow.get("request") or {}


def client_family(flow: dict[str, Any]) -> str:
    """The client's product from its User-Agent (`claude-cli/1.0 (...)` -> `claude-cli`)."""
    ua = str((client_request(flow).get("headers") or {}).get("user-agent") or "")
    match = _PRODUCT.match(ua.strip())
    if match is None:
        return "unknown"
    name = match.group(0)
    # `Anthropic/Python 0.40` keeps both words; `claude-cli/1.0.3` drops its version
    head, _, tail = name.partition("/")
    return name if tail and not tail[:1].isdigit() else head


def flow_model(flow: dict[str, Any]) -> str | None:
    body = body_json(client_request(flow))
    if isinstance(body, dict) and isinstance(body.get("model"), str):
        return str(body["model"])
    return model_from_path(str(client_request(flow).get("path") or ""))


def _usage(flow: dict[str, Any]) -> tuple[int, int, int, int] | None:
    m = _meta(flow)
    wire = m.get("upstream_wire") or m.get("client_wire")
    usage = body_usage(body_bytes(flow.get("response")), wire)
    if usage is None:
        return None
    return usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, usage.cache_write_tokens


def _failed(flow: dict[str, Any]) -> bool:
    resp = flow.get("client_response") or flow.get("response")
    return bool(flow.get("error")) or resp is None or int(resp.get("status_code") or 0) >= 400


def _first_user_text(flow: dict[str, Any]) -> str:
    """A hint for the text filter: the opening user message (raw JSON text is enough)."""
    body = body_json(client_request(flow))
    if not isinstance(body, dict):
        return ""
    messages = body.get("messages") or body.get("contents") or body.get("input") or []
    if isinstance(messages, str):
        return messages[:300]
    for m in messages if isinstance(messages, list) else []:
        if isinstance(m, dict) and m.get("role") == "user":
            return json.dumps(m.get("content") or m.get("parts"), ensure_ascii=False)[:300]
    return ""


@dataclass(frozen=True, slots=True)
class FlowFacts:
    """What a sessions-list row needs of one flow: small, so the daemon can keep one per flow."""

    client: str
    provider: str | None
    model: str | None
    wire: str | None
    host: str | None
    usage: tuple[int, int, int, int] | None
    start: float | None
    end: float
    failed: bool
    hint: str


def flow_facts(flow: dict[str, Any]) -> FlowFacts:
    m = _meta(flow)
    return FlowFacts(
        client=client_family(flow),
        provider=str(m["provider"]) if m.get("provider") else None,
        model=flow_model(flow),
        wire=m.get("upstream_wire") or m.get("client_wire"),
        host=(flow.get("request") or {}).get("host"),
        usage=_usage(flow),
        start=float(flow["timestamp_start"]) if flow.get("timestamp_start") is not None else None,
        end=float(flow.get("timestamp_end") or flow.get("timestamp_start") or 0),
        failed=_failed(flow),
        hint=_first_user_text(flow),
    )


def session_row(conv: Conversation, price: Pricer | None = None) -> dict[str, Any]:
    return facts_row(conv.key, conv.source, [flow_facts(f) for f in conv.flows], price)


def facts_row(key: str, source: str, facts: Sequence[FlowFacts], price: Pricer | None = None) -> dict[str, Any]:
    tokens = [0, 0, 0, 0]
    cost: Decimal | None = None
    for f in facts:
        if f.usage is None:
            continue
        tokens = [a + b for a, b in zip(tokens, f.usage, strict=True)]
        if price is not None:
            one = price(f.model, f.wire, f.host, f.usage, f.start or 0.0)
            if one is not None:
                cost = (cost or Decimal(0)) + one
    starts = [f.start for f in facts if f.start is not None]
    return {
        "key": key,
        "source": source,
        "clients": sorted({f.client for f in facts}),
        "providers": sorted({f.provider for f in facts if f.provider}),
        "models": sorted({f.model for f in facts if f.model}),
        "turns": len(facts),
        "first": min(starts) if starts else None,
        "last": max(f.end for f in facts) if facts else None,
        "input_tokens": tokens[0],
        "output_tokens": tokens[1],
        "cache_read_tokens": tokens[2],
        "cache_write_tokens": tokens[3],
        "cost_usd": float(cost) if cost is not None else None,
        "errors": sum(1 for f in facts if f.failed),
        "hint": facts[0].hint if facts else "",
    }


def session_rows(flows: Sequence[dict[str, Any]], price: Pricer | None = None) -> list[dict[str, Any]]:
    return [session_row(c, price) for c in group_conversations(flows)]


# ---- turns ---------------------------------------------------------------------------------


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def _timeline(flow: dict[str, Any], response: dict[str, Any] | None) -> dict[str, Any] | None:
    if not response or not response.get("stream"):
        return None
    req = flow.get("request") or {}
    resp = flow.get("response") or {}
    stream = _meta(flow).get("stream") or {}
    start = req.get("timestamp_start")
    ttfb = stream.get("first_byte_s")
    if ttfb is None and start and resp.get("timestamp_start"):
        ttfb = resp["timestamp_start"] - start
    last = stream.get("duration_s")
    if last is not None and ttfb is not None and resp.get("timestamp_start") and start:
        last += resp["timestamp_start"] - start  # the tap's clock starts at the response headers
    elif start and resp.get("timestamp_end"):
        last = resp["timestamp_end"] - start
    return {
        "ttfb_ms": round(ttfb * 1000, 1) if ttfb is not None else None,
        "last_event_ms": round(last * 1000, 1) if last is not None else None,
        "events": response.get("events"),
    }


def raw_view(flow: dict[str, Any]) -> dict[str, Any]:
    """The redacted request/response as `/flows` shows them (bodies as sent: the page
    pretty-prints JSON when the section is opened)."""

    def side(message: dict[str, Any] | None) -> dict[str, Any] | None:
        if not message:
            return None
        head = {k: v for k, v in message.items() if k not in ("body", "body_encoding")}
        return {"head": head, "body": message.get("body") or "", "base64": message.get("body_encoding") == "base64"}

    out = {
        "client_request": side(client_request(flow)),
        "client_response": side(flow.get("client_response") or flow.get("response")),
    }
    if _converted(flow):
        out["upstream_request"] = side(flow.get("request"))
        out["upstream_response"] = side(flow.get("response"))
    return out


def _converted(flow: dict[str, Any]) -> bool:
    m = _meta(flow)
    return bool(m.get("upstream_wire")) and m.get("upstream_wire") != m.get("client_wire")


def build_turn(flow: dict[str, Any], index: int, *, raw: bool) -> dict[str, Any]:
    m = _meta(flow)
    cwire, uwire = _wire(m.get("client_wire")), _wire(m.get("upstream_wire") or m.get("client_wire"))
    creq = client_request(flow)
    path = str(creq.get("path") or "")
    client_resp = flow.get("client_response") or flow.get("response")
    response = parse_response_side(client_resp, cwire, path)
    turn: dict[str, Any] = {
        "index": index,
        "flow_id": flow.get("id"),
        "time": flow.get("timestamp_start"),
        "method": creq.get("method"),
        "path": path,
        "provider": m.get("provider"),
        "client": client_family(flow),
        "client_wire": cwire,
        "upstream_wire": uwire,
        "converted": _converted(flow),
        "error": flow.get("error"),
        "request": parse_request_side(creq, cwire),
        "response": response,
        "timeline": _timeline(flow, response),
    }
    if turn["converted"]:
        up = flow.get("request")
        turn["upstream"] = {
            "request": parse_request_side(up, uwire),
            "response": parse_response_side(flow.get("response"), uwire, str((up or {}).get("path") or "")),
            "host": (up or {}).get("host"),
            "path": (up or {}).get("path"),
        }
    if raw:
        turn["raw"] = raw_view(flow)
    return turn


def _changes(turn: dict[str, Any], previous: dict[str, Any] | None, digests: dict[int, list[str]]) -> dict[str, Any]:
    """What differs from the previous turn of the same thread (same opening message).
    `digests`: message digests per turn index, filled here (each history is hashed once)."""
    req = turn["request"]
    msgs = req.get("messages") or []
    new = digests[turn["index"]] = [_digest(x) for x in msgs]
    if previous is None:
        return {"first": True, "appended": len(msgs), "common": 0}
    prev = previous["request"]
    old = digests[previous["index"]]
    common = 0
    while common < min(len(old), len(new)) and old[common] == new[common]:
        common += 1
    prev_tools = {t["name"]: _digest(t) for t in prev.get("tools") or []}
    tools = {t["name"]: _digest(t) for t in req.get("tools") or []}
    return {
        "first": False,
        "previous": previous["index"],
        "common": common,
        "appended": len(new) - common,
        # an earlier message was edited or dropped (compaction, a rewritten history)
        "rewritten": len(old) - common if common < len(old) else 0,
        "system_changed": prev.get("system") != req.get("system"),
        "system_size_before": prev.get("system_size"),
        "tools_added": sorted(set(tools) - set(prev_tools)),
        "tools_removed": sorted(set(prev_tools) - set(tools)),
        "tools_changed": sorted(n for n in set(tools) & set(prev_tools) if tools[n] != prev_tools[n]),
    }


def _pair_tools(turns: list[dict[str, Any]]) -> None:
    """Name every tool_result after its tool_use, and mark the calls that got a result."""
    calls: dict[str, dict[str, Any]] = {}
    results: set[str] = set()

    def walk(parts: list[dict[str, Any]]) -> None:
        for p in parts:
            if p.get("type") == "tool_use" and p.get("id"):
                calls.setdefault(p["id"], p)
            elif p.get("type") == "tool_result" and p.get("tool_use_id"):
                results.add(p["tool_use_id"])

    def sides(t: dict[str, Any]) -> list[dict[str, Any]]:
        out = [t["request"]]
        if t.get("upstream"):
            out.append(t["upstream"]["request"])
        return out

    for t in turns:
        for side in sides(t):
            for m in side.get("messages") or []:
                walk(m["parts"])
        walk((t.get("response") or {}).get("parts") or [])
    for t in turns:
        for side in sides(t):
            for m in side.get("messages") or []:
                for p in m["parts"]:
                    if p.get("type") == "tool_result":
                        call = calls.get(p.get("tool_use_id") or "")
                        if call is not None:
                            p["name"] = p.get("name") or call["name"]
                            p["paired"] = True
                    elif p.get("type") == "tool_use":
                        p["paired"] = p.get("id") in results
        for p in (t.get("response") or {}).get("parts") or []:
            if p.get("type") == "tool_use":
                p["paired"] = p.get("id") in results


def conversation_view(conv: Conversation, *, raw: bool = False, price: Pricer | None = None) -> dict[str, Any]:
    turns = [build_turn(f, i, raw=raw) for i, f in enumerate(conv.flows)]
    _pair_tools(turns)
    last_of_thread: dict[str, dict[str, Any]] = {}
    digests: dict[int, list[str]] = {}
    for t in turns:
        msgs = t["request"].get("messages") or []
        thread = _digest(msgs[0]) if msgs else f"flow:{t['flow_id']}"
        t["changes"] = _changes(t, last_of_thread.get(thread), digests)
        last_of_thread[thread] = t
    # Only what is new is sent per turn; the page rebuilds the full history from the previous one.
    full = [list(t["request"].get("messages") or []) for t in turns]
    for t in turns:
        ch = t["changes"]
        if not ch["first"]:
            t["request"]["messages"] = full[t["index"]][ch["common"] :]
    return {"session": session_row(conv, price), "turns": turns}


def find_session(flows: Sequence[dict[str, Any]], key: str) -> Conversation | None:
    return next((c for c in group_conversations(flows) if c.key == key), None)


def export_data(flows: Sequence[dict[str, Any]], price: Pricer | None = None) -> dict[str, Any]:
    """Everything the page needs, for the self-contained HTML file."""
    convs = group_conversations(flows)
    return {
        "sessions": [session_row(c, price) for c in convs],
        "conversations": {c.key: conversation_view(c, raw=True, price=price) for c in convs},
    }
