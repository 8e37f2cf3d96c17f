"""Anthropic Messages API: parse and render requests, responses and errors."""

from __future__ import annotations

from typing import Any

from ccproxy.lightllm import citations, ids
from ccproxy.lightllm.common import (
    Direction,
    client_call_id,
    counts_shape,
    put_count,
    reasoning_for,
    restore_ids,
)
from ccproxy.lightllm.ir import (
    ConversionError,
    MediaPart,
    Message,
    OpaquePart,
    Reasoning,
    RedactedThinkingPart,
    Request,
    Response,
    ResponseFormat,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    Wire,
    as_list,
    as_obj,
    budget_for,
    dropped,
    extras_for,
    hint,
    keep,
    need,
    put,
)
from ccproxy.lightllm.vocab import anthropic as vocab

W: Wire = "anthropic"
DEFAULT_MAX_TOKENS = 8192
MIN_BUDGET = 1024

_REQ_KEYS = {
    "model",
    "messages",
    "system",
    "max_tokens",
    "metadata",
    "stop_sequences",
    "stream",
    "temperature",
    "top_p",
    "top_k",
    "tools",
    "tool_choice",
    "thinking",
    "output_config",
}


# ---- content blocks ------------------------------------------------------------------------


def _parse_source(block: dict[str, Any], kind: str, where: str) -> MediaPart:
    src = as_obj(need(block, "source", where), f"{where}.source")
    st = src.get("type")
    part = MediaPart(kind="document" if kind == "document" else "image")
    if st == "base64":
        part.media_type, part.data = src.get("media_type"), need(src, "data", f"{where}.source", str)
    elif st == "url":
        part.url = need(src, "url", f"{where}.source", str)
    elif st == "text":
        part.media_type, part.text = src.get("media_type"), need(src, "data", f"{where}.source", str)
    elif st == "file":
        part.url = "file:" + str(need(src, "file_id", f"{where}.source"))
    else:
        raise ConversionError(f"{where}.source.type: unsupported {st!r}")
    if kind == "document" and isinstance(block.get("title"), str):
        part.filename = block["title"]
    known_src = {"type", "media_type", "data", "url", "file_id"}
    keep(
        part,
        W,
        block,
        {"type", "source", "title"} if kind == "document" else {"type", "source"},
        source_extra={k: v for k, v in src.items() if k not in known_src} or None,
        has_title="title" in block or None,
    )
    return part


def _render_source(p: MediaPart) -> dict[str, Any]:
    src: dict[str, Any]
    if p.text is not None:
        src = {"type": "text", "media_type": p.media_type or "text/plain", "data": p.text}
    elif p.data is not None:
        src = {"type": "base64", "media_type": p.media_type, "data": p.data}
    elif p.url is not None and p.url.startswith("file:"):
        src = {"type": "file", "file_id": p.url[5:]}
    else:
        src = {"type": "url", "url": p.url}
    src.update(hint(p, W, "source_extra") or {})
    out: dict[str, Any] = {"type": "document" if p.kind == "document" else "image", "source": src}
    if p.kind == "document" and p.filename is not None and (hint(p, W, "has_title") or W not in p.hints):
        out["title"] = p.filename
    return out


def _parse_block(b: Any, where: str) -> Any:
    b = as_obj(b, where)
    t = b.get("type")
    if t == "text":
        part: Any = TextPart(text=need(b, "text", where, str))
        cits = b.get("citations")
        if isinstance(cits, list) and cits:
            part.citations = [citations.anthropic_in(c) for c in cits]
        keep(part, W, b, {"type", "text", "citations"} if isinstance(cits, list) else {"type", "text"},
             citations_form=None if not isinstance(cits, list) or cits else "empty")  # fmt: skip
    elif t in ("image", "document"):
        part = _parse_source(b, t, where)
    elif t == "tool_use":
        part = ToolCallPart(id=need(b, "id", where, str), name=need(b, "name", where, str), arguments=b.get("input"))
        keep(part, W, b, {"type", "id", "name", "input"})
    elif t == "tool_result":
        content = b.get("content")
        if isinstance(content, str):
            items: list[Any] = [TextPart(text=content)]
            form = "str"
        elif content is None:
            items, form = [], ("absent" if "content" not in b else "null")
        else:
            items = [_parse_block(c, f"{where}.content[{i}]") for i, c in enumerate(as_list(content, where))]
            form = None
        part = ToolResultPart(
            tool_call_id=need(b, "tool_use_id", where, str), content=items, is_error=b.get("is_error")
        )
        keep(part, W, b, {"type", "tool_use_id", "content", "is_error"}, content=form)
    elif t == "thinking":
        part = ThinkingPart(text=b.get("thinking") or "", signature=b.get("signature"), origin=W)
        keep(part, W, b, {"type", "thinking", "signature"})
    elif t == "redacted_thinking":
        part = RedactedThinkingPart(data=need(b, "data", where, str))
        keep(part, W, b, {"type", "data"})
    elif isinstance(t, str):
        part = OpaquePart(origin=W, data=b)
    else:
        raise ConversionError(f"{where}.type: missing")
    return part


def _render_block(p: Any, direction: Direction, where: str) -> list[dict[str, Any]]:
    if isinstance(p, TextPart):
        if p.signature is not None:
            dropped("Gemini thoughtSignature on a text part", W)
        if not p.citations:
            plain: dict[str, Any] = {"type": "text", "text": p.text}
            if hint(p, W, "citations_form") == "empty":
                plain["citations"] = []
            return [{**plain, **extras_for(p, W, where)}]
        if direction == "request" and W not in p.hints:
            dropped("citations of a foreign answer in the history", W)
            return [{"type": "text", "text": p.text, **extras_for(p, W, where)}]
        blocks: list[dict[str, Any]] = []
        for text, cits in citations.anthropic_blocks(p):
            block: dict[str, Any] = {"type": "text", "text": text}
            found = [x for c in cits if (x := citations.anthropic_out(c, text)) is not None]
            if found:
                block["citations"] = found
            blocks.append(block)
        blocks[-1].update(extras_for(p, W, where))
        return blocks
    if isinstance(p, MediaPart):
        if p.kind == "audio":
            dropped("audio input", W)
            return []
        return [{**_render_source(p), **extras_for(p, W, where)}]
    if isinstance(p, ToolCallPart):
        return [
            {
                "type": "tool_use",
                "id": client_call_id(p, W, direction),
                "name": p.name,
                "input": p.arguments if p.arguments is not None else {},
                **extras_for(p, W, where),
            }
        ]
    if isinstance(p, ToolResultPart):
        out: dict[str, Any] = {"type": "tool_result", "tool_use_id": p.tool_call_id or ""}
        form = hint(p, W, "content")
        texts_only = all(isinstance(c, TextPart) for c in p.content)
        if form == "str" and texts_only and len(p.content) == 1:
            out["content"] = p.content[0].text
        elif form in ("absent", "null") and not p.content:
            if form == "null":
                out["content"] = None
        elif W not in p.hints and texts_only:
            out["content"] = "\n".join(c.text for c in p.content if isinstance(c, TextPart))
        else:
            out["content"] = [b for c in p.content for b in _render_block(c, direction, where)]
        put(out, "is_error", p.is_error)
        return [{**out, **extras_for(p, W, where)}]
    if isinstance(p, ThinkingPart | RedactedThinkingPart):
        r = reasoning_for(p, W, direction)
        if r is None:
            return []
        if isinstance(p, RedactedThinkingPart) and p.origin == W:
            return [{"type": "redacted_thinking", "data": p.data, **extras_for(p, W, where)}]
        return [{"type": "thinking", "thinking": r[0], "signature": r[1] or "", **extras_for(p, W, where)}]
    if isinstance(p, OpaquePart):
        if p.origin == W:
            return [p.data]
        dropped(f"{p.origin} block {p.data.get('type')!r}", W)
        return []
    raise ConversionError(f"{where}: cannot render {type(p).__name__}")


def _parse_content(content: Any, where: str) -> tuple[list[Any], str | None]:
    if isinstance(content, str):
        return [TextPart(text=content)], "str"
    return [_parse_block(b, f"{where}[{i}]") for i, b in enumerate(as_list(content, where))], None


def _render_content(node: Any, parts: list[Any], direction: Direction, where: str) -> Any:
    one_text = len(parts) == 1 and isinstance(parts[0], TextPart) and not parts[0].extras.get(W)
    if hint(node, W, "content") == "str" and one_text:
        return parts[0].text
    return [b for i, p in enumerate(parts) for b in _render_block(p, direction, f"{where}[{i}]")]


# ---- requests ------------------------------------------------------------------------------


def parse_request(body: Any) -> Request:
    body = as_obj(body, "request")
    req = Request(model=body.get("model"))
    if "system" in body:
        system, form = _parse_content(body["system"], "system")
        req.system = [p for p in system if isinstance(p, TextPart)]
        req.hints.setdefault(W, {})["system"] = form
    msgs = as_list(need(body, "messages", "request"), "messages")
    for i, m in enumerate(msgs):
        m = as_obj(m, f"messages[{i}]")
        role = need(m, "role", f"messages[{i}]", str)
        # "system" inside messages: mid-conversation system text (Claude Code 2.1.x sends it).
        if role not in ("user", "assistant", "system"):
            raise ConversionError(f"messages[{i}].role: unsupported {role!r}")
        parts, form = _parse_content(need(m, "content", f"messages[{i}]"), f"messages[{i}].content")
        msg = Message(role=role, parts=parts)
        keep(msg, W, m, {"role", "content"}, content=form)
        req.messages.append(msg)
    req.messages = restore_ids(req.messages)
    req.max_tokens = body.get("max_tokens")
    req.temperature, req.top_p, req.top_k = body.get("temperature"), body.get("top_p"), body.get("top_k")
    req.stop = body.get("stop_sequences")
    req.stream = body.get("stream")
    meta = body.get("metadata")
    if isinstance(meta, dict):
        req.user = meta.get("user_id")
        req.hints.setdefault(W, {})["metadata"] = meta
    if "tools" in body:
        req.tools = [_parse_tool(t, f"tools[{i}]") for i, t in enumerate(as_list(body["tools"], "tools"))]
    if "tool_choice" in body:
        req.tool_choice = _parse_tool_choice(as_obj(body["tool_choice"], "tool_choice"))
    thinking, oc = body.get("thinking"), body.get("output_config")
    if isinstance(thinking, dict) or (isinstance(oc, dict) and "effort" in oc):
        r = Reasoning()
        if isinstance(thinking, dict):
            r.enabled = thinking.get("type") != "disabled"
            r.budget_tokens = thinking.get("budget_tokens")
            keep(r, W, thinking, {"type", "budget_tokens"}, thinking_type=thinking.get("type"))
        if isinstance(oc, dict) and oc.get("effort") is not None:
            r.effort = oc["effort"]
        req.reasoning = r
    if isinstance(oc, dict):
        fmt = oc.get("format")
        if isinstance(fmt, dict):
            req.response_format = ResponseFormat(type="json_schema", schema=fmt.get("schema"))
            keep(req.response_format, W, fmt, {"type", "schema"})
        req.hints.setdefault(W, {})["output_config"] = oc
    keep(req, W, body, _REQ_KEYS, **req.hints.get(W, {}))
    return req


def _parse_tool(t: Any, where: str) -> Tool:
    t = as_obj(t, where)
    if t.get("type") not in (None, "custom"):
        return Tool(name=str(t.get("name", t["type"])), builtin=t, builtin_origin=W)
    tool = Tool(
        name=need(t, "name", where, str),
        description=t.get("description"),
        parameters=t.get("input_schema"),
        strict=t.get("strict"),
    )
    keep(tool, W, t, {"name", "description", "input_schema", "strict"})
    return tool


def _parse_tool_choice(tc: dict[str, Any]) -> ToolChoice:
    mode = {"auto": "auto", "any": "required", "tool": "tool", "none": "none"}.get(tc.get("type", "auto"), "auto")
    dpu = tc.get("disable_parallel_tool_use")
    choice = ToolChoice(mode=mode, name=tc.get("name"), parallel=None if dpu is None else not dpu)  # type: ignore[arg-type]
    keep(choice, W, tc, {"type", "name", "disable_parallel_tool_use"})
    return choice


def render_request(req: Request, *, model: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    out["model"] = model or req.model
    same = W in req.hints
    max_tokens = req.max_tokens if req.max_tokens is not None or same else DEFAULT_MAX_TOKENS
    thinking = _render_thinking(req, max_tokens, same)
    if thinking is not None and thinking.get("type") == "enabled" and req.max_tokens is None and not same:
        max_tokens = max(DEFAULT_MAX_TOKENS, thinking["budget_tokens"] + 4096)
    put(out, "max_tokens", max_tokens)
    out["messages"] = []
    for i, m in enumerate(req.messages):
        content = _render_content(m, m.parts, "request", f"messages[{i}].content")
        if m.role == "system":
            content = _system_message_content(m, content, i)
        if content == [] and not same:
            # Everything in it was another provider's (reasoning state): Anthropic rejects empty turns.
            dropped(f"messages[{i}] (nothing left for Anthropic)", W)
            continue
        out["messages"].append({"role": m.role, "content": content, **extras_for(m, W, f"messages[{i}]")})
    if req.system is not None:
        if req.hints.get(W, {}).get("system") == "str" and len(req.system) == 1 and not req.system[0].extras:
            out["system"] = req.system[0].text
        elif same or any(s.extras.get(W) for s in req.system):
            out["system"] = [b for s in req.system for b in _render_block(s, "request", "system")]
        else:
            out["system"] = "\n\n".join(s.text for s in req.system)
    meta = dict(hint(req, W, "metadata") or {})
    if req.user is not None:
        meta["user_id"] = req.user
    if meta or hint(req, W, "metadata") is not None:
        out["metadata"] = meta
    if req.metadata:
        dropped("metadata (Anthropic only takes metadata.user_id)", W)
    put(out, "stop_sequences", req.stop)
    put(out, "stream", req.stream)
    reasoning_on = thinking is not None and thinking.get("type") != "disabled"
    for key, value in (("temperature", req.temperature), ("top_p", req.top_p), ("top_k", req.top_k)):
        if value is not None and reasoning_on and not same and key != "top_p":
            dropped(f"{key} (not allowed with extended thinking)", W)
            continue
        put(out, key, value)
    if req.seed is not None:
        dropped("seed", W)
    for key in ("presence_penalty", "frequency_penalty"):
        if getattr(req, key) is not None:
            dropped(key, W)
    if req.tools is not None:
        out["tools"] = [_render_tool(t) for t in req.tools if t.builtin is None or t.builtin_origin == W]
        for t in req.tools:
            if t.builtin is not None and t.builtin_origin != W:
                dropped(f"{t.builtin_origin} built-in tool {t.name!r}", W)
    if req.tool_choice is not None:
        out["tool_choice"] = _render_tool_choice(req.tool_choice)
    put(out, "thinking", thinking)
    oc = dict(hint(req, W, "output_config") or {})
    if req.reasoning is not None and req.reasoning.effort is not None and (same or "effort" in oc):
        oc["effort"] = req.reasoning.effort
    rf = req.response_format
    if rf is not None and rf.type == "json_schema" and rf.schema_ is not None:
        oc["format"] = {
            "type": "json_schema",
            "schema": rf.schema_,
            **extras_for(rf, W, "output_config.format"),
        }
    elif rf is not None and rf.type == "json_object":
        dropped("response_format json_object (no schema to enforce)", W)
    if oc or hint(req, W, "output_config") is not None:
        out["output_config"] = oc
    out.update(extras_for(req, W, "request"))
    return out


def _system_message_content(m: Message, content: Any, i: int) -> Any:
    """A system message in `messages` takes text only (a string or text blocks)."""
    if isinstance(content, str) or W in m.hints:
        return content
    texts = [b for b in content if b.get("type") == "text"]
    if len(texts) != len(content):
        dropped(f"non-text parts of the system message messages[{i}]", W)
    return texts


def _render_thinking(req: Request, max_tokens: int | None, same: bool) -> dict[str, Any] | None:
    r = req.reasoning
    if r is None:
        return None
    ttype = hint(r, W, "thinking_type")
    if same and ttype is None:
        return None  # effort alone lives in output_config
    if r.enabled is False or r.effort == "none":
        return {"type": "disabled", **extras_for(r, W)}
    if ttype == "adaptive" or (ttype is None and r.budget_tokens is None and r.effort is None):
        if ttype is None:
            return {"type": "adaptive"}
        return {"type": "adaptive", **extras_for(r, W)}
    budget = budget_for(r)
    if budget is None:
        return {"type": ttype or "enabled", **extras_for(r, W)}
    if not same and req.max_tokens is not None and budget >= req.max_tokens:
        budget = req.max_tokens - 1
        if budget < MIN_BUDGET:
            dropped("thinking (max_tokens leaves no room for the 1024-token minimum budget)", W)
            return None
    return {
        "type": ttype or "enabled",
        "budget_tokens": max(budget, MIN_BUDGET) if not same else budget,
        **extras_for(r, W),
    }


def _render_tool(t: Tool) -> dict[str, Any]:
    if t.builtin is not None:
        return t.builtin
    out: dict[str, Any] = {"name": t.name}
    put(out, "description", t.description)
    out["input_schema"] = t.parameters if t.parameters is not None else {"type": "object", "properties": {}}
    put(out, "strict", t.strict)
    return {**out, **extras_for(t, W, f"tools[{t.name}]")}


def _render_tool_choice(tc: ToolChoice) -> dict[str, Any]:
    out: dict[str, Any] = {"type": {"auto": "auto", "required": "any", "tool": "tool", "none": "none"}[tc.mode]}
    put(out, "name", tc.name if tc.mode == "tool" else None)
    if tc.parallel is not None:
        if tc.mode == "none":
            dropped("parallel_tool_calls with tool_choice none", W)
        else:
            out["disable_parallel_tool_use"] = not tc.parallel
    return {**out, **extras_for(tc, W, "tool_choice")}


# ---- responses -----------------------------------------------------------------------------

_USAGE_KEYS = vocab.USAGE_KEYS


def parse_response(body: Any) -> Response:
    body = as_obj(body, "response")
    if body.get("type") == "error":
        raise ConversionError("response: is an error body")
    content = as_list(need(body, "content", "response"), "response.content")
    resp = Response(id=body.get("id"), model=body.get("model"))
    resp.parts = [_parse_block(b, f"content[{i}]") for i, b in enumerate(content)]
    sr = body.get("stop_reason")
    resp.stop_reason = vocab.stop_in(sr)
    resp.stop_sequence = body.get("stop_sequence")
    hints: dict[str, Any] = {"stop_reason": sr, "has_stop_sequence": "stop_sequence" in body}
    u = body.get("usage")
    if isinstance(u, dict):
        resp.usage = vocab.usage_in(u)
        hints["usage_shape"] = counts_shape(u, _USAGE_KEYS)
        hints["usage_extra"] = {k: v for k, v in u.items() if k not in _USAGE_KEYS}
    keep(
        resp,
        W,
        body,
        {"id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"},
        **hints,
    )
    return resp


def render_response(resp: Response, *, model: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": resp.id if W in resp.hints and resp.id is not None else ids.client_id(W, resp.id),
        "type": "message",
        "role": "assistant",
        "model": model or resp.model or "unknown",
    }
    out["content"] = [b for i, p in enumerate(resp.parts) for b in _render_block(p, "response", f"content[{i}]")]
    sr = resp.stop_reason
    orig = hint(resp, W, "stop_reason")
    same_reason = orig is not None and vocab.stop_in(orig) == sr
    if same_reason or (sr is None and W in resp.hints):
        out["stop_reason"] = orig
    else:
        out["stop_reason"] = vocab.stop_out(sr)
    if resp.stop_sequence is not None or hint(resp, W, "has_stop_sequence", True):
        out["stop_sequence"] = resp.stop_sequence
    if resp.usage is not None:
        u = resp.usage
        shape = hint(resp, W, "usage_shape") or {}
        usage: dict[str, Any] = {}
        put_count(usage, "input_tokens", u.input_tokens - u.cache_read_tokens - u.cache_write_tokens, shape)
        put_count(usage, "output_tokens", u.output_tokens, shape)
        default = "put" if W in resp.hints else "absent"
        put_count(usage, "cache_creation_input_tokens", u.cache_write_tokens, shape, default=default)
        put_count(usage, "cache_read_input_tokens", u.cache_read_tokens, shape, default=default)
        extra = hint(resp, W, "usage_extra")
        if extra is not None:
            usage.update(extra)
        elif u.reasoning_tokens:
            usage["output_tokens_details"] = {"thinking_tokens": u.reasoning_tokens}
        out["usage"] = usage
    else:
        out["usage"] = {"input_tokens": 0, "output_tokens": 0}
    out.update(extras_for(resp, W, "response"))
    return out
