"""OpenAI Responses API: parse and render requests and (non-streamed) responses.

Input items map one to one onto IR messages (a function_call item is an assistant message with
one tool call); converting to another wire merges adjacent same-role messages first."""

from __future__ import annotations

import base64
import time
from typing import Any

from ccproxy.lightllm import citations, ids
from ccproxy.lightllm.common import (
    Direction,
    args_json,
    client_call_id,
    data_uri,
    parse_args,
    reasoning_for,
    restore_ids,
    split_data_uri,
)
from ccproxy.lightllm.ir import (
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
    dropped,
    effort_for,
    extras_for,
    hint,
    keep,
    need,
    put,
)
from ccproxy.lightllm.vocab import openai_responses as vocab

W: Wire = "openai_responses"

_REQ_KEYS = {
    "model",
    "input",
    "instructions",
    "max_output_tokens",
    "temperature",
    "top_p",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "text",
    "reasoning",
    "stream",
    "user",
    "metadata",
}
# Content-part types; any other opaque type of this wire is a whole input/output item.
_CONTENT_TYPES = {"input_text", "output_text", "input_image", "input_file", "input_audio", "refusal"}


# ---- content parts -------------------------------------------------------------------------


def _parse_part(c: Any, where: str) -> Any:
    c = as_obj(c, where)
    t = c.get("type")
    if t in ("input_text", "output_text"):
        part: Any = TextPart(text=need(c, "text", where, str))
        ann = c.get("annotations")
        if isinstance(ann, list):
            part.citations = [x for a in ann if (x := citations.url_annotation_in(a, nested=False))] or None
        keep(part, W, c, {"type", "text", "annotations"}, t=t, annotations=[ann] if "annotations" in c else None)
    elif t == "refusal":
        part = TextPart(text=need(c, "refusal", where, str))
        keep(part, W, c, {"type", "refusal"}, t=t)
    elif t == "input_image":
        url = c.get("image_url")
        split = split_data_uri(url) if isinstance(url, str) else None
        part = MediaPart(kind="image", url=None if split else url)
        if split:
            part.media_type, part.data = split
        if isinstance(c.get("file_id"), str):
            part.url = "file:" + c["file_id"]
        keep(part, W, c, {"type", "image_url", "file_id"})
    elif t == "input_file":
        part = MediaPart(kind="document", filename=c.get("filename"))
        fd = c.get("file_data")
        split = split_data_uri(fd) if isinstance(fd, str) else None
        if split:
            part.media_type, part.data = split
        elif isinstance(fd, str):
            part.data = fd
        if isinstance(c.get("file_url"), str):
            part.url = c["file_url"]
        if isinstance(c.get("file_id"), str):
            part.url = "file:" + c["file_id"]
        keep(
            part,
            W,
            c,
            {"type", "file_data", "file_url", "file_id", "filename"},
            raw_data=fd if not split else None,
        )
    else:
        part = OpaquePart(origin=W, data=c)
    return part


def _render_part(p: Any, role: str, where: str) -> dict[str, Any] | None:
    if isinstance(p, TextPart):
        if p.signature is not None:
            dropped("Gemini thoughtSignature on a text part", W)
        t = hint(p, W, "t") or ("output_text" if role == "assistant" else "input_text")
        if t == "refusal":
            return {"type": "refusal", "refusal": p.text, **extras_for(p, W, where)}
        out: dict[str, Any] = {"type": t, "text": p.text}
        ann = hint(p, W, "annotations")  # boxed, as null is a value
        if ann is not None:
            out["annotations"] = ann[0]
        elif t == "output_text" and W not in p.hints:
            found = (citations.responses_annotation(c, len(p.text)) for c in p.citations or ())
            out["annotations"] = [a for a in found if a is not None]
        return {**out, **extras_for(p, W, where)}
    if isinstance(p, MediaPart):
        if p.kind == "image":
            img: dict[str, Any] = {"type": "input_image"}
            if p.url is not None and p.url.startswith("file:"):
                img["file_id"] = p.url[5:]
            else:
                img["image_url"] = data_uri(p.media_type, p.data) if p.data is not None else p.url
            if W not in p.hints:
                img["detail"] = "auto"
            return {**img, **extras_for(p, W, where)}
        if p.kind == "audio":
            dropped("audio input", W)
            return None
        f: dict[str, Any] = {"type": "input_file"}
        if p.data is not None:
            f["file_data"] = hint(p, W, "raw_data") or data_uri(p.media_type, p.data)
        elif p.text is not None:
            f["file_data"] = data_uri(p.media_type or "text/plain", base64.b64encode(p.text.encode()).decode())
        elif p.url is not None and p.url.startswith("file:"):
            f["file_id"] = p.url[5:]
        elif p.url is not None:
            f["file_url"] = p.url
        put(f, "filename", p.filename)
        if "file_data" in f and "filename" not in f:
            f["filename"] = "document.pdf" if (p.media_type or "").endswith("pdf") else "document"
        return {**f, **extras_for(p, W, where)}
    if isinstance(p, OpaquePart):
        if p.origin == W:
            return p.data
        dropped(f"{p.origin} block {p.data.get('type')!r}", W)
        return None
    dropped(f"{type(p).__name__} inside message content", W)
    return None


# ---- items ---------------------------------------------------------------------------------


def _parse_reasoning(it: dict[str, Any]) -> ThinkingPart:
    summary = it.get("summary") or []
    content = it.get("content") or []
    texts = [s.get("text", "") for s in summary if isinstance(s, dict)]
    if not texts:
        texts = [c.get("text", "") for c in content if isinstance(c, dict)]
    part = ThinkingPart(text="\n\n".join(texts), signature=it.get("encrypted_content"), origin=W)
    keep(
        part,
        W,
        it,
        {"type", "summary", "content", "encrypted_content"},
        summary=summary,
        content=it.get("content"),
        has_content="content" in it or None,
        has_enc="encrypted_content" in it or None,
    )
    return part


def _render_reasoning(
    p: ThinkingPart | RedactedThinkingPart, direction: Direction, where: str
) -> dict[str, Any] | None:
    r = reasoning_for(p, W, direction)
    if r is None:
        return None
    text, sig = r
    out: dict[str, Any] = {"type": "reasoning"}
    if W not in p.hints:
        out["id"] = f"rs_ccproxy_{abs(hash(sig or text)) % 10**12}"
    orig = hint(p, W, "summary")
    joined = "\n\n".join(s.get("text", "") for s in orig if isinstance(s, dict)) if orig is not None else None
    if orig is not None and (joined == text or (not orig and hint(p, W, "content") is not None)):
        out["summary"] = orig
    else:
        out["summary"] = [{"type": "summary_text", "text": text}] if text else []
    if hint(p, W, "has_content"):
        out["content"] = hint(p, W, "content")
    if sig is not None or hint(p, W, "has_enc"):
        out["encrypted_content"] = sig
    return {**out, **extras_for(p, W, where)}


def _parse_item(it: Any, where: str) -> Message:
    it = as_obj(it, where)
    t = it.get("type", "message")
    if t == "message":
        role = need(it, "role", where, str)
        content = need(it, "content", where)
        if isinstance(content, str):
            parts: list[Any] = [TextPart(text=content)]
            form: str | None = "str"
        else:
            parts = [_parse_part(c, f"{where}.content[{i}]") for i, c in enumerate(as_list(content, where))]
            form = None
        ir_role = {"developer": "system", "system": "system", "assistant": "assistant"}.get(role, "user")
        msg = Message(role=ir_role, parts=parts)  # type: ignore[arg-type]
        keep(msg, W, it, {"role", "content"}, content=form, role=role)
        return msg
    if t == "function_call":
        raw = it.get("arguments")
        call = ToolCallPart(
            id=need(it, "call_id", where, str),
            name=need(it, "name", where, str),
            arguments=parse_args(raw) if isinstance(raw, str) else raw,
            arguments_raw=raw if isinstance(raw, str) else None,
        )
        keep(call, W, it, {"type", "call_id", "name", "arguments"})
        return Message(role="assistant", parts=[call])
    if t == "function_call_output":
        out = it.get("output")
        if isinstance(out, str):
            content_parts: list[Any] = [TextPart(text=out)]
            form = "str"
        else:
            content_parts = [_parse_part(c, f"{where}.output[{i}]") for i, c in enumerate(as_list(out, where))]
            form = None
        result = ToolResultPart(tool_call_id=need(it, "call_id", where, str), content=content_parts)
        keep(result, W, it, {"type", "call_id", "output"}, content=form)
        return Message(role="user", parts=[result])
    if t == "reasoning":
        return Message(role="assistant", parts=[_parse_reasoning(it)])
    role = "assistant" if t.endswith("_call") or t in ("compaction", "mcp_list_tools") else "user"
    return Message(role=role, parts=[OpaquePart(origin=W, data=it)])  # type: ignore[arg-type]


def _render_items(m: Message, direction: Direction, where: str) -> list[dict[str, Any]]:
    """One IR message → Responses items: texts/media grouped into message items, tool calls,
    results and reasoning each their own item, in order."""
    items: list[dict[str, Any]] = []
    pending: list[Any] = []
    role = hint(m, W, "role") or ("developer" if m.role == "system" else m.role)

    def flush() -> None:
        if not pending:
            return
        texts = all(isinstance(p, TextPart) and not p.extras.get(W) and not hint(p, W, "t") for p in pending)
        if hint(m, W, "content") == "str" and len(pending) == 1 and texts:
            content: Any = pending[0].text
        elif W not in m.hints and direction == "request" and role == "assistant":
            # Earlier assistant turns go back as plain text: output_text parts would need the
            # id/status of an item OpenAI stored.
            for p in pending:
                if not isinstance(p, TextPart):
                    dropped(f"assistant {getattr(p, 'origin', '')} {p.type} part", W)
            content = "".join(p.text for p in pending if isinstance(p, TextPart))
        else:
            content = [r for i, p in enumerate(pending) if (r := _render_part(p, role, f"{where}[{i}]")) is not None]
        item: dict[str, Any] = {"role": role, "content": content}
        if W not in m.hints:
            item = {"type": "message", **item}
            if role == "assistant" and direction == "response":
                item |= {"id": f"msg_ccproxy_{len(items)}", "status": "completed"}
        items.append({**item, **extras_for(m, W, where)})
        pending.clear()

    for i, p in enumerate(m.parts):
        w = f"{where}.parts[{i}]"
        if isinstance(p, ToolCallPart):
            flush()
            call: dict[str, Any] = {
                "type": "function_call",
                "call_id": client_call_id(p, W, direction),
                "name": p.name,
                "arguments": args_json(p),
            }
            if W not in p.hints and direction == "response":
                call |= {"id": f"fc_{call['call_id'][:40]}", "status": "completed"}
            items.append({**call, **extras_for(p, W, w)})
        elif isinstance(p, ToolResultPart):
            flush()
            items.append(_render_result(p, w))
        elif isinstance(p, ThinkingPart | RedactedThinkingPart):
            flush()
            r = _render_reasoning(p, direction, w)
            if r is not None:
                items.append(r)
        elif isinstance(p, OpaquePart) and p.origin == W and p.data.get("type") not in _CONTENT_TYPES:
            flush()
            items.append(p.data)
        else:
            pending.append(p)
    flush()
    return items


def _render_result(p: ToolResultPart, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "function_call_output", "call_id": p.tool_call_id or ""}
    texts_only = all(isinstance(c, TextPart) for c in p.content)
    if hint(p, W, "content") == "str" and len(p.content) == 1 and texts_only:
        out["output"] = p.content[0].text
    elif W not in p.hints and texts_only:
        out["output"] = "\n".join(c.text for c in p.content if isinstance(c, TextPart))
    else:
        out["output"] = [r for i, c in enumerate(p.content) if (r := _render_part(c, "user", f"{where}[{i}]"))]
    if p.is_error and W not in p.hints:
        dropped("tool_result is_error flag (kept as text)", W)
    return {**out, **extras_for(p, W, where)}


# ---- requests ------------------------------------------------------------------------------


def parse_request(body: Any) -> Request:
    body = as_obj(body, "request")
    req = Request(model=body.get("model"))
    inp = body.get("input")
    if isinstance(inp, str):
        req.messages = [Message(role="user", parts=[TextPart(text=inp)])]
    elif inp is not None:
        req.messages = [_parse_item(it, f"input[{i}]") for i, it in enumerate(as_list(inp, "input"))]
    req.messages = restore_ids(req.messages)
    if isinstance(body.get("instructions"), str):
        req.system = [TextPart(text=body["instructions"])]
    req.max_tokens = body.get("max_output_tokens")
    req.temperature, req.top_p = body.get("temperature"), body.get("top_p")
    req.stream, req.user, req.metadata = body.get("stream"), body.get("user"), body.get("metadata")
    if "tools" in body:
        req.tools = [_parse_tool(t, f"tools[{i}]") for i, t in enumerate(as_list(body["tools"], "tools"))]
    if "tool_choice" in body or "parallel_tool_calls" in body:
        tc = body.get("tool_choice")
        choice = ToolChoice(parallel=body.get("parallel_tool_calls"))
        if isinstance(tc, str):
            choice.mode = tc if tc in ("auto", "none", "required") else "auto"  # type: ignore[assignment]
        elif isinstance(tc, dict):
            choice.mode, choice.name = "tool", tc.get("name")
            keep(choice, W, tc, {"type", "name"})
        req.tool_choice = choice
    text = body.get("text")
    if isinstance(text, dict) and isinstance(text.get("format"), dict):
        f = text["format"]
        ft = f.get("type")
        req.response_format = ResponseFormat(
            type=ft if ft in ("json_object", "json_schema") else "text",
            schema=f.get("schema"),
            name=f.get("name"),
            strict=f.get("strict"),
            description=f.get("description"),
        )
        keep(req.response_format, W, f, {"type", "schema", "name", "strict", "description"})
    r = body.get("reasoning")
    if isinstance(r, dict):
        req.reasoning = Reasoning(effort=r.get("effort"), summary=r.get("summary"))
        if r.get("effort") is not None:
            req.reasoning.enabled = r["effort"] != "none"
        keep(
            req.reasoning,
            W,
            r,
            {"effort", "summary"},
            summary_null=("summary" in r and r["summary"] is None) or None,
        )
    if body.get("previous_response_id"):
        # The earlier turns live on OpenAI's servers; another provider cannot see them.
        req.hints.setdefault(W, {})
    keep(
        req,
        W,
        body,
        _REQ_KEYS,
        input_str=isinstance(inp, str) or None,
        has_input="input" in body or None,
        text=text if isinstance(text, dict) else None,
        tool_choice="tool_choice" in body or None,
        instructions_null=("instructions" in body and body["instructions"] is None) or None,
        reasoning_null=("reasoning" in body and r is None) or None,
    )
    return req


def _parse_tool(t: Any, where: str) -> Tool:
    t = as_obj(t, where)
    if t.get("type") != "function":
        return Tool(name=str(t.get("name") or t.get("type")), builtin=t, builtin_origin=W)
    tool = Tool(
        name=need(t, "name", where, str),
        description=t.get("description"),
        parameters=t.get("parameters"),
        strict=t.get("strict"),
    )
    keep(
        tool,
        W,
        t,
        {"type", "name", "description", "parameters", "strict"},
        has_desc="description" in t or None,
        has_strict="strict" in t or None,
    )
    return tool


def render_request(req: Request, *, model: str | None = None) -> dict[str, Any]:
    same = W in req.hints
    out: dict[str, Any] = {"model": model or req.model}
    if req.system is not None:
        out["instructions"] = "\n\n".join(s.text for s in req.system)
    elif hint(req, W, "instructions_null"):
        out["instructions"] = None
    if (
        hint(req, W, "input_str")
        and len(req.messages) == 1
        and len(req.messages[0].parts) == 1
        and isinstance(req.messages[0].parts[0], TextPart)
    ):
        out["input"] = req.messages[0].parts[0].text
    elif req.messages or not same or hint(req, W, "has_input"):
        out["input"] = [it for i, m in enumerate(req.messages) for it in _render_items(m, "request", f"input[{i}]")]
    put(out, "max_output_tokens", req.max_tokens)
    put(out, "temperature", req.temperature)
    put(out, "top_p", req.top_p)
    for key in ("top_k", "seed", "presence_penalty", "frequency_penalty"):
        if getattr(req, key) is not None:
            dropped(key, W)
    if req.stop is not None:
        dropped("stop sequences", W)
    put(out, "stream", req.stream)
    put(out, "user", req.user)
    put(out, "metadata", req.metadata)
    if req.tools is not None:
        out["tools"] = [_render_tool(t, same) for t in req.tools if t.builtin is None or t.builtin_origin == W]
        for t in req.tools:
            if t.builtin is not None and t.builtin_origin != W:
                dropped(f"{t.builtin_origin} built-in tool {t.name!r}", W)
    tc = req.tool_choice
    if tc is not None:
        if hint(req, W, "tool_choice") or not same:
            if tc.mode == "tool":
                out["tool_choice"] = {"type": "function", "name": tc.name, **extras_for(tc, W)}
            else:
                out["tool_choice"] = tc.mode
        put(out, "parallel_tool_calls", tc.parallel)
    text = dict(hint(req, W, "text") or {})
    rf = req.response_format
    if rf is not None:
        fmt: dict[str, Any] = {"type": rf.type}
        if rf.type == "json_schema":
            fmt["name"] = rf.name or "response"
            put(fmt, "description", rf.description)
            fmt["schema"] = rf.schema_
            put(fmt, "strict", rf.strict)
        text["format"] = {**fmt, **extras_for(rf, W)}
    if text:
        out["text"] = text
    r = req.reasoning
    if r is not None:
        ro: dict[str, Any] = {}
        effort = "none" if r.enabled is False and not same else effort_for(r)
        if effort is not None or same:
            ro["effort"] = effort if same else {"max": "high", "xhigh": "high"}.get(effort or "", effort)
        if r.summary is not None or (r.include_thoughts and not same):
            ro["summary"] = r.summary or "auto"
        elif hint(r, W, "summary_null"):
            ro["summary"] = None
        out["reasoning"] = {**ro, **extras_for(r, W)}
        if ro.get("effort") is None and not same:
            out["reasoning"].pop("effort", None)
    elif hint(req, W, "reasoning_null"):
        out["reasoning"] = None
    if not same and any(isinstance(p, ThinkingPart) and p.origin == W for m in req.messages for p in m.parts):
        # Encrypted reasoning only comes back when asked for (stateless use).
        out["include"] = ["reasoning.encrypted_content"]
    out.update(extras_for(req, W, "request"))
    return out


def _render_tool(t: Tool, same: bool) -> dict[str, Any]:
    if t.builtin is not None:
        return t.builtin
    out: dict[str, Any] = {"type": "function", "name": t.name}
    if t.description is not None or hint(t, W, "has_desc"):
        out["description"] = t.description
    out["parameters"] = t.parameters if t.parameters is not None else {"type": "object", "properties": {}}
    if t.strict is not None or hint(t, W, "has_strict"):
        out["strict"] = t.strict
    elif not same:
        # Responses defaults strict to true, which rejects most hand-written schemas.
        out["strict"] = False
    return {**out, **extras_for(t, W, f"tools[{t.name}]")}


# ---- responses -----------------------------------------------------------------------------


def parse_response(body: Any) -> Response:
    body = as_obj(body, "response")
    output = as_list(need(body, "output", "response"), "response.output")
    resp = Response(id=body.get("id"), model=body.get("model"))
    ca = body.get("created_at")
    resp.created = int(ca) if isinstance(ca, int | float) else None
    for i, it in enumerate(output):
        msg = _parse_item(it, f"output[{i}]")
        if msg.role == "assistant" and msg.hints.get(W, {}).get("role") == "assistant" and msg.parts:
            # Group marker: the first part remembers the message item it came from.
            first = msg.parts[0]
            first.hints.setdefault(W, {})["item"] = {"extra": msg.extras.get(W, {}), "n": len(msg.parts)}
            for p in msg.parts[1:]:
                p.hints.setdefault(W, {})["cont"] = True
        resp.parts.extend(msg.parts)
    status = body.get("status")
    details = body.get("incomplete_details")
    reason = details.get("reason") if isinstance(details, dict) else None
    resp.stop_reason = vocab.status_in(
        status,
        reason,
        has_calls=any(isinstance(p, ToolCallPart) for p in resp.parts),
        refused=any(isinstance(p, TextPart) and hint(p, W, "t") == "refusal" for p in resp.parts),
    )
    u = body.get("usage")
    if isinstance(u, dict):
        resp.usage = vocab.usage_in(u)
    keep(
        resp,
        W,
        body,
        {"id", "object", "created_at", "model", "output", "status", "incomplete_details", "usage"},
        status=status,
        stop=resp.stop_reason,
        incomplete=details,
        usage=u,
        has_incomplete="incomplete_details" in body or None,
    )
    return resp


def render_response(resp: Response, *, model: str | None = None) -> dict[str, Any]:
    same = W in resp.hints
    output: list[dict[str, Any]] = []
    i = 0
    parts = resp.parts
    while i < len(parts):
        p = parts[i]
        item_hint = hint(p, W, "item")
        if isinstance(p, TextPart | MediaPart) or (isinstance(p, OpaquePart) and item_hint):
            j = i + 1
            n = item_hint["n"] if item_hint else None
            while j < len(parts) and (
                (n is not None and j - i < n and hint(parts[j], W, "cont"))
                or (n is None and isinstance(parts[j], TextPart) and not hint(parts[j], W, "item"))
            ):
                j += 1
            msg = Message(role="assistant", parts=parts[i:j])
            msg.hints[W] = {"role": "assistant"}
            if item_hint:
                msg.extras[W] = item_hint["extra"]
            items = _render_items(msg, "response", f"output[{len(output)}]")
            if not item_hint:
                for it in items:
                    if it.get("role") == "assistant":
                        it.setdefault("type", "message")
                        it.setdefault("id", f"msg_ccproxy_{len(output)}")
                        it.setdefault("status", "completed")
            output.extend(items)
            i = j
            continue
        msg = Message(role="assistant", parts=[p])
        if isinstance(p, OpaquePart) and p.origin == W:
            output.append(p.data)
        else:
            output.extend(_render_items(msg, "response", f"output[{len(output)}]"))
        i += 1
    status = hint(resp, W, "status")
    sr = resp.stop_reason
    derived = "completed" if sr == "refusal" and same and status == "completed" else vocab.status_out(sr)
    if not same or status is None or sr != hint(resp, W, "stop"):
        status = derived
    out: dict[str, Any] = {
        "id": resp.id if W in resp.hints and resp.id is not None else ids.client_id(W, resp.id),
        "object": "response",
        "created_at": resp.created if resp.created is not None else int(time.time()),
        "model": model or resp.model or "unknown",
        "output": output,
        "status": status,
    }
    if same:
        if hint(resp, W, "has_incomplete"):
            out["incomplete_details"] = hint(resp, W, "incomplete")
    else:
        reason = vocab.incomplete_reason(sr)
        out["incomplete_details"] = {"reason": reason} if status == "incomplete" else None
        out |= {"parallel_tool_calls": True, "tool_choice": "auto", "tools": [], "error": None}
    if resp.usage is not None:
        orig = hint(resp, W, "usage")
        if isinstance(orig, dict) and vocab.usage_in(orig) == resp.usage:
            out["usage"] = orig
        else:
            out["usage"] = vocab.usage_out(resp.usage)
    elif hint(resp, W, "usage", 0) is None:
        out["usage"] = None
    out.update(extras_for(resp, W, "response"))
    return out
