"""OpenAI Chat Completions: parse and render requests, responses and errors."""

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
    native,
    parse_args,
    reasoning_for,
    restore_ids,
    split_data_uri,
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
    dropped,
    effort_for,
    extras_for,
    hint,
    keep,
    need,
    put,
)
from ccproxy.lightllm.vocab import openai_chat as vocab

W: Wire = "openai"

_REQ_KEYS = {
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "stop",
    "stream",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "reasoning_effort",
    "user",
    "metadata",
}
_REASONING_KEYS = ("reasoning_content", "reasoning")


# ---- content parts -------------------------------------------------------------------------


def _parse_part(c: Any, where: str) -> Any:
    c = as_obj(c, where)
    t = c.get("type")
    if t == "text":
        part: Any = TextPart(text=need(c, "text", where, str))
        keep(part, W, c, {"type", "text"})
    elif t == "refusal":
        part = TextPart(text=need(c, "refusal", where, str))
        keep(part, W, c, {"type", "refusal"}, refusal=True)
    elif t == "image_url":
        iu = as_obj(need(c, "image_url", where), f"{where}.image_url")
        url = need(iu, "url", f"{where}.image_url", str)
        split = split_data_uri(url)
        part = MediaPart(kind="image", url=None if split else url)
        if split:
            part.media_type, part.data = split
        keep(part, W, c, {"type", "image_url"}, image_url=iu)
    elif t == "file":
        f = as_obj(need(c, "file", where), f"{where}.file")
        part = MediaPart(kind="document", filename=f.get("filename"))
        fd = f.get("file_data")
        split = split_data_uri(fd) if isinstance(fd, str) else None
        if split:
            part.media_type, part.data = split
        elif isinstance(fd, str):
            part.data = fd
        if isinstance(f.get("file_id"), str):
            part.url = "file:" + f["file_id"]
        keep(part, W, c, {"type", "file"}, file=f)
    elif t == "input_audio":
        a = as_obj(need(c, "input_audio", where), f"{where}.input_audio")
        part = MediaPart(kind="audio", media_type=f"audio/{a.get('format', 'wav')}", data=a.get("data"))
        keep(part, W, c, {"type", "input_audio"})
    else:
        part = OpaquePart(origin=W, data=c)
    return part


def _render_part(p: Any, where: str) -> dict[str, Any] | None:
    if isinstance(p, TextPart):
        if p.signature is not None:
            dropped("Gemini thoughtSignature on a text part", W)
        if hint(p, W, "refusal"):
            return {"type": "refusal", "refusal": p.text, **extras_for(p, W, where)}
        return {"type": "text", "text": p.text, **extras_for(p, W, where)}
    if isinstance(p, MediaPart):
        if p.kind == "image":
            url = data_uri(p.media_type, p.data) if p.data is not None else p.url
            if url is None or url.startswith("file:"):
                dropped("image given by provider file id", W)
                return None
            iu = dict(hint(p, W, "image_url") or {})
            iu["url"] = url
            return {"type": "image_url", "image_url": iu, **extras_for(p, W, where)}
        if p.kind == "audio":
            fmt = (p.media_type or "audio/wav").split("/")[-1]
            return {
                "type": "input_audio",
                "input_audio": {"data": p.data, "format": fmt},
                **extras_for(p, W, where),
            }
        f = dict(hint(p, W, "file") or {})
        if p.data is not None:
            f["file_data"] = f.get("file_data") if hint(p, W, "file") else data_uri(p.media_type, p.data)
        elif p.text is not None:
            f["file_data"] = data_uri(p.media_type or "text/plain", _b64(p.text))
        elif p.url is not None and p.url.startswith("file:"):
            f["file_id"] = p.url[5:]
        else:
            # OpenAI Chat takes no document URL; the model gets the link as text.
            dropped("document URL (sent as text)", W)
            return {"type": "text", "text": p.url or ""}
        if p.filename is not None:
            f["filename"] = p.filename
        elif "file_data" in f and "filename" not in f:
            f["filename"] = "document.pdf" if (p.media_type or "").endswith("pdf") else "document"
        return {"type": "file", "file": f, **extras_for(p, W, where)}
    if isinstance(p, OpaquePart):
        if p.origin == W:
            return p.data
        dropped(f"{p.origin} block {p.data.get('type')!r}", W)
        return None
    dropped(f"{type(p).__name__} inside a content list", W)
    return None


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _parse_content(m: dict[str, Any], where: str) -> tuple[list[Any], str]:
    if "content" not in m:
        return [], "absent"
    c = m["content"]
    if c is None:
        return [], "null"
    if isinstance(c, str):
        return [TextPart(text=c)], "str"
    return [_parse_part(x, f"{where}.content[{i}]") for i, x in enumerate(as_list(c, f"{where}.content"))], "list"


def _render_content(node: Any, parts: list[Any], where: str, *, assistant: bool = False) -> Any:
    form = hint(node, W, "content")
    plain = all(isinstance(p, TextPart) and not p.extras.get(W) and not hint(p, W, "refusal") for p in parts)
    if form == "str" and len(parts) == 1 and plain:
        return parts[0].text
    if form in ("null", "absent") and not parts:
        return None
    if form is None and plain and (assistant or len(parts) <= 1):
        # An answer's text blocks are contiguous: one string, the form every client reads.
        # Several user blocks (e.g. reminders + prompt) stay separate parts.
        return "".join(p.text for p in parts) if parts else (None if assistant else "")
    rendered = [r for i, p in enumerate(parts) if (r := _render_part(p, f"{where}[{i}]")) is not None]
    return rendered


# ---- messages ------------------------------------------------------------------------------


def _parse_message(m: dict[str, Any], where: str) -> Message:
    role = need(m, "role", where, str)
    parts, form = _parse_content(m, where)
    if role == "tool":
        result = ToolResultPart(tool_call_id=m.get("tool_call_id"), content=parts)
        keep(result, W, m, {"role", "tool_call_id", "content"}, content=form)
        msg = Message(role="user", parts=[result])
        keep(msg, W, {}, (), role="tool")
        return msg
    if role in ("system", "developer"):
        msg = Message(role="system", parts=parts)
        keep(msg, W, m, {"role", "content"}, content=form, role=role)
        return msg
    if role == "user":
        msg = Message(role="user", parts=parts)
        keep(msg, W, m, {"role", "content"}, content=form)
        return msg
    if role != "assistant":
        raise ConversionError(f"{where}.role: unsupported {role!r}")
    lead: list[Any] = []
    rkey = next((k for k in _REASONING_KEYS if isinstance(m.get(k), str)), None)
    if rkey is not None:
        lead.append(ThinkingPart(text=m[rkey], origin=W))
    refusal = m.get("refusal")
    calls = [
        _parse_call(c, f"{where}.tool_calls[{i}]") for i, c in enumerate(as_list(m.get("tool_calls") or [], where))
    ]
    msg = Message(role="assistant", parts=[*lead, *parts, *calls])
    ann = m.get("annotations")
    if isinstance(ann, list) and form == "str" and parts:
        found = [c for a in ann if (c := citations.url_annotation_in(a, nested=True)) is not None]
        parts[0].citations = found or None
    if isinstance(refusal, str):
        r = TextPart(text=refusal)
        keep(r, W, {}, (), refusal_field=True)
        msg.parts.insert(len(lead) + len(parts), r)
    keep(
        msg,
        W,
        m,
        {"role", "content", "tool_calls", "refusal", "annotations", *_REASONING_KEYS},
        content=form,
        annotations=[m["annotations"]] if "annotations" in m else None,  # boxed: null is a value
        reasoning_key=rkey,
        tool_calls=("tool_calls" in m and ((m["tool_calls"] is None and "null") or "list")) or None,
        refusal=("refusal" in m and refusal is None) or None,
    )
    return msg


def _parse_call(c: Any, where: str) -> ToolCallPart:
    c = as_obj(c, where)
    fn = as_obj(need(c, "function", where), f"{where}.function")
    raw = fn.get("arguments")
    raw_s = raw if isinstance(raw, str) else None
    part = ToolCallPart(
        id=c.get("id"),
        name=need(fn, "name", f"{where}.function", str),
        arguments=parse_args(raw_s) if raw_s is not None else raw,
        arguments_raw=raw_s,
    )
    keep(
        part,
        W,
        c,
        {"id", "type", "function"},
        fn_extra={k: v for k, v in fn.items() if k not in ("name", "arguments")} or None,
    )
    return part


def _render_call(p: ToolCallPart, direction: Direction, lead: list[Any], where: str) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": p.name, "arguments": args_json(p), **(hint(p, W, "fn_extra") or {})}
    return {
        "id": client_call_id(p, W, direction, lead),
        "type": "function",
        "function": fn,
        **extras_for(p, W, where),
    }


def _render_assistant(m: Message, direction: Direction, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {"role": "assistant"}
    thinking = [p for p in m.parts if isinstance(p, ThinkingPart | RedactedThinkingPart)]
    calls = [p for p in m.parts if isinstance(p, ToolCallPart)]
    refusal_field = [p for p in m.parts if isinstance(p, TextPart) and hint(p, W, "refusal_field")]
    content = [
        p
        for p in m.parts
        if not isinstance(p, ThinkingPart | RedactedThinkingPart | ToolCallPart) and p not in refusal_field
    ]
    if W not in m.hints and any(not isinstance(p, TextPart) for p in content):
        # Assistant content is text only in Chat Completions.
        for p in content:
            if not isinstance(p, TextPart):
                dropped(f"assistant {getattr(p, 'origin', '')} {p.type} part", W)
        content = [p for p in content if isinstance(p, TextPart)]
    if hint(m, W, "content") != "absent" or content:
        out["content"] = _render_content(m, content, f"{where}.content", assistant=True)
    ann = hint(m, W, "annotations")
    if ann is not None:
        out["annotations"] = ann[0]
    elif W not in m.hints and direction == "response" and isinstance(out.get("content"), str):
        placed: list[tuple[int, TextPart]] = []
        at = 0
        for p in content:
            if isinstance(p, TextPart):
                placed.append((at, p))
                at += len(p.text)
        found = citations.chat_annotations(placed)
        if found:
            out["annotations"] = found
    if refusal_field:
        out["refusal"] = refusal_field[0].text
    elif hint(m, W, "refusal"):
        out["refusal"] = None
    # Reasoning: our own is re-emitted as reasoning_content; a foreign provider's opaque state
    # rides on the first tool call id (the only field every Chat client echoes back).
    own = [p for p in thinking if isinstance(p, ThinkingPart) and native(p, W)]
    foreign = [p for p in thinking if p not in own]
    texts = [p.text for p in thinking if isinstance(p, ThinkingPart) and p.text]
    if texts and (own or direction == "response"):
        out[hint(m, W, "reasoning_key") or "reasoning_content"] = "\n\n".join(texts)
    lead: list[Any] = []
    if foreign:
        if direction == "request":
            for f in foreign:
                reasoning_for(f, W, direction)  # logs the drop
        elif calls:
            lead = foreign
        else:
            dropped("reasoning signature (no tool call to carry it)", W)
    if calls:
        out["tool_calls"] = [
            _render_call(p, direction, lead if i == 0 else [], f"{where}.tool_calls[{i}]") for i, p in enumerate(calls)
        ]
    elif hint(m, W, "tool_calls") == "list":
        out["tool_calls"] = []
    elif hint(m, W, "tool_calls") == "null":
        out["tool_calls"] = None
    return {**out, **extras_for(m, W, where)}


def _render_messages(req: Request) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if req.system:
        if all(W in s.hints for s in req.system):
            for s in req.system:
                role = hint(s, W, "role") or "system"
                content = s.text if hint(s, W, "content") == "str" else [{"type": "text", "text": s.text}]
                out.append({"role": role, "content": content, **(hint(s, W, "msg_extra") or {})})
        else:
            out.append({"role": "system", "content": "\n\n".join(s.text for s in req.system)})
    for i, m in enumerate(req.messages):
        where = f"messages[{i}]"
        if m.role == "assistant":
            a = _render_assistant(m, "request", where)
            if W not in m.hints and a.get("content") is None and not a.get("tool_calls"):
                # Only another provider's reasoning state was in it: an empty turn is rejected.
                dropped(f"{where} (nothing left for OpenAI Chat)", W)
                continue
            out.append(a)
            continue
        if m.role == "system":
            content = _render_content(m, m.parts, f"{where}.content")
            out.append({"role": hint(m, W, "role") or "system", "content": content, **extras_for(m, W, where)})
            continue
        results = [p for p in m.parts if isinstance(p, ToolResultPart)]
        rest = [p for p in m.parts if not isinstance(p, ToolResultPart)]
        for r in results:
            tool: dict[str, Any] = {"role": "tool", "tool_call_id": r.tool_call_id or ""}
            if r.is_error and W not in r.hints:
                dropped("tool_result is_error flag (kept as text)", W)
            if any(isinstance(c, MediaPart) for c in r.content):
                # Tool messages take text only; images follow in a user message.
                dropped("image inside a tool result (moved to a user message)", W)
                rest = [c for c in r.content if isinstance(c, MediaPart)] + rest
            texts = [c for c in r.content if isinstance(c, TextPart)]
            tool["content"] = _render_content(r, texts, f"{where}.tool")
            if tool["content"] is None and hint(r, W, "content") == "absent":
                del tool["content"]
            out.append({**tool, **extras_for(r, W, where)})
        if rest or not results:
            if hint(m, W, "role") == "tool":
                continue
            content = _render_content(m, rest, f"{where}.content")
            msg: dict[str, Any] = {"role": "user"}
            if content is not None or hint(m, W, "content") != "absent":
                msg["content"] = content
            out.append({**msg, **extras_for(m, W, where)})
    return out


# ---- requests ------------------------------------------------------------------------------


def parse_request(body: Any) -> Request:
    body = as_obj(body, "request")
    req = Request(model=body.get("model"))
    msgs = as_list(need(body, "messages", "request"), "messages")
    parsed = [_parse_message(as_obj(m, f"messages[{i}]"), f"messages[{i}]") for i, m in enumerate(msgs)]
    lead = 0
    while lead < len(parsed) and parsed[lead].role == "system":
        lead += 1
    if lead:
        req.system = []
        for m, raw in zip(parsed[:lead], msgs[:lead], strict=True):
            form = hint(m, W, "content")
            texts = [p for p in m.parts if isinstance(p, TextPart)]
            if form != "str" and (len(texts) != 1 or texts[0].extras or len(m.parts) != 1):
                lead = 0  # unusual system content: keep the messages as they are
                req.system = None
                break
            s = texts[0].model_copy()
            keep(
                s,
                W,
                {},
                (),
                role=hint(m, W, "role"),
                content=form,
                msg_extra={k: v for k, v in raw.items() if k not in ("role", "content")} or None,
            )
            req.system.append(s)
    req.messages = restore_ids(parsed[lead:])
    mt = body.get("max_completion_tokens", body.get("max_tokens"))
    req.max_tokens = mt
    req.temperature, req.top_p, req.seed = body.get("temperature"), body.get("top_p"), body.get("seed")
    req.presence_penalty, req.frequency_penalty = body.get("presence_penalty"), body.get("frequency_penalty")
    stop = body.get("stop")
    req.stop = [stop] if isinstance(stop, str) else stop
    req.stream = body.get("stream")
    req.user = body.get("user")
    req.metadata = body.get("metadata")
    if "tools" in body:
        req.tools = [_parse_tool(t, f"tools[{i}]") for i, t in enumerate(as_list(body["tools"], "tools"))]
    if "tool_choice" in body or "parallel_tool_calls" in body:
        req.tool_choice = _parse_tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
    if "response_format" in body:
        req.response_format = _parse_format(as_obj(body["response_format"], "response_format"))
    if body.get("reasoning_effort") is not None:
        req.reasoning = Reasoning(effort=body["reasoning_effort"], enabled=body["reasoning_effort"] != "none")
    keep(
        req,
        W,
        body,
        _REQ_KEYS,
        max_key="max_completion_tokens"
        if "max_completion_tokens" in body
        else ("max_tokens" if "max_tokens" in body else None),
        stop_str=isinstance(stop, str) or None,
        tool_choice="tool_choice" in body or None,
    )
    return req


def _parse_tool(t: Any, where: str) -> Tool:
    t = as_obj(t, where)
    if t.get("type") != "function" or not isinstance(t.get("function"), dict):
        return Tool(name=str(t.get("type")), builtin=t, builtin_origin=W)
    fn = t["function"]
    tool = Tool(
        name=need(fn, "name", f"{where}.function", str),
        description=fn.get("description"),
        parameters=fn.get("parameters"),
        strict=fn.get("strict"),
    )
    keep(
        tool,
        W,
        t,
        {"type", "function"},
        fn_extra={k: v for k, v in fn.items() if k not in ("name", "description", "parameters", "strict")} or None,
    )
    return tool


def _parse_tool_choice(tc: Any, parallel: Any) -> ToolChoice:
    choice = ToolChoice(parallel=parallel)
    if isinstance(tc, str):
        choice.mode = {"auto": "auto", "none": "none", "required": "required"}.get(tc, "auto")  # type: ignore[assignment]
    elif isinstance(tc, dict):
        choice.mode, choice.name = "tool", (tc.get("function") or {}).get("name")
        keep(choice, W, tc, {"type", "function"})
    return choice


def _parse_format(rf: dict[str, Any]) -> ResponseFormat:
    t = rf.get("type")
    if t == "json_schema":
        js = as_obj(need(rf, "json_schema", "response_format"), "response_format.json_schema")
        out = ResponseFormat(
            type="json_schema",
            schema=js.get("schema"),
            name=js.get("name"),
            strict=js.get("strict"),
            description=js.get("description"),
        )
        keep(
            out,
            W,
            rf,
            {"type", "json_schema"},
            js_extra={k: v for k, v in js.items() if k not in ("schema", "name", "strict", "description")} or None,
        )
        return out
    out = ResponseFormat(type="json_object" if t == "json_object" else "text")
    keep(out, W, rf, {"type"})
    return out


def render_request(req: Request, *, model: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"model": model or req.model, "messages": _render_messages(req)}
    if req.max_tokens is not None:
        out[hint(req, W, "max_key") or "max_completion_tokens"] = req.max_tokens
    for key in ("temperature", "top_p", "seed", "presence_penalty", "frequency_penalty"):
        put(out, key, getattr(req, key))
    if req.top_k is not None:
        dropped("top_k", W)
    if req.stop is not None:
        out["stop"] = req.stop[0] if hint(req, W, "stop_str") and len(req.stop) == 1 else req.stop
    put(out, "stream", req.stream)
    put(out, "user", req.user)
    put(out, "metadata", req.metadata)
    if req.tools is not None:
        out["tools"] = [_render_tool(t) for t in req.tools if t.builtin is None or t.builtin_origin == W]
        for t in req.tools:
            if t.builtin is not None and t.builtin_origin != W:
                dropped(f"{t.builtin_origin} built-in tool {t.name!r}", W)
    tc = req.tool_choice
    if tc is not None:
        if hint(req, W, "tool_choice") or W not in req.hints:
            if tc.mode == "tool":
                out["tool_choice"] = {"type": "function", "function": {"name": tc.name}, **extras_for(tc, W)}
            else:
                out["tool_choice"] = tc.mode
        if (tc.parallel is not None and req.tools) or (tc.parallel is not None and W in req.hints):
            out["parallel_tool_calls"] = tc.parallel
    rf = req.response_format
    if rf is not None:
        if rf.type == "json_schema":
            js: dict[str, Any] = {"name": rf.name or "response"}
            put(js, "description", rf.description)
            js["schema"] = rf.schema_
            put(js, "strict", rf.strict)
            js.update(hint(rf, W, "js_extra") or {})
            out["response_format"] = {"type": "json_schema", "json_schema": js, **extras_for(rf, W)}
        else:
            out["response_format"] = {"type": rf.type, **extras_for(rf, W)}
    r = req.reasoning
    if r is not None:
        effort = "none" if r.enabled is False else effort_for(r)
        if effort is not None:
            out["reasoning_effort"] = {"max": "high", "xhigh": "high"}.get(effort, effort)
        if r.summary is not None or r.include_thoughts:
            dropped("reasoning summary / include_thoughts", W)
    out.update(extras_for(req, W, "request"))
    return out


def _render_tool(t: Tool) -> dict[str, Any]:
    if t.builtin is not None:
        return t.builtin
    fn: dict[str, Any] = {"name": t.name}
    put(fn, "description", t.description)
    put(fn, "parameters", t.parameters)
    put(fn, "strict", t.strict)
    fn.update(hint(t, W, "fn_extra") or {})
    return {"type": "function", "function": fn, **extras_for(t, W, f"tools[{t.name}]")}


# ---- responses -----------------------------------------------------------------------------


def parse_response(body: Any) -> Response:
    body = as_obj(body, "response")
    if "error" in body and "choices" not in body:
        raise ConversionError("response: is an error body")
    choices = as_list(need(body, "choices", "response"), "response.choices")
    resp = Response(id=body.get("id"), model=body.get("model"), created=body.get("created"))
    hints: dict[str, Any] = {}
    if choices:
        ch = as_obj(choices[0], "choices[0]")
        msg = _parse_message(as_obj(need(ch, "message", "choices[0]"), "choices[0].message"), "choices[0].message")
        resp.parts = msg.parts
        fr = ch.get("finish_reason")
        stop = vocab.finish_in(fr)
        if stop == "end_turn" and any(isinstance(p, ToolCallPart) for p in msg.parts):
            stop = "tool_use"  # some compatible servers say "stop" after tool calls
        if stop == "refusal" or (stop == "end_turn" and any(hint(p, W, "refusal_field") for p in msg.parts)):
            stop = "refusal"
        resp.stop_reason = stop
        hints.update(
            finish=fr,
            msg_hints=msg.hints.get(W),
            msg_extra=msg.extras.get(W),
            choice_extra={k: v for k, v in ch.items() if k not in ("message", "finish_reason")},
            more_choices=choices[1:] or None,
        )
    # Perplexity (OpenAI-compatible) lists the answer's sources beside the choices
    sources = citations.perplexity_in(body)
    first_text = next((p for p in resp.parts if isinstance(p, TextPart)), None)
    if sources and first_text is not None:
        first_text.citations = [*(first_text.citations or []), *sources]
    u = body.get("usage")
    if isinstance(u, dict):
        resp.usage = vocab.usage_in(u)
        hints["usage"] = u
    keep(resp, W, body, {"id", "object", "created", "model", "choices", "usage"}, **hints)
    return resp


def render_response(resp: Response, *, model: str | None = None) -> dict[str, Any]:
    same = W in resp.hints
    msg = Message(role="assistant", parts=resp.parts)
    if same:
        msg.hints[W] = hint(resp, W, "msg_hints") or {}
        if hint(resp, W, "msg_extra"):
            msg.extras[W] = hint(resp, W, "msg_extra")
    message = _render_assistant(msg, "response", "choices[0].message")
    if not same:
        message.setdefault("content", None)
        message.setdefault("refusal", None)
    fr = hint(resp, W, "finish")
    sr = resp.stop_reason
    if not (same and ((fr is None and sr is None) or (isinstance(fr, str) and _consistent(fr, sr, resp)))):
        fr = vocab.finish_out(sr)
    choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": fr}
    choice.update(hint(resp, W, "choice_extra") or {"logprobs": None})
    out: dict[str, Any] = {
        "id": resp.id if W in resp.hints and resp.id is not None else ids.client_id(W, resp.id),
        "object": "chat.completion",
        "created": resp.created if resp.created is not None else int(time.time()),
        "model": model or resp.model or "unknown",
        "choices": [choice, *(hint(resp, W, "more_choices") or [])],
    }
    if resp.usage is not None:
        orig = hint(resp, W, "usage")
        if isinstance(orig, dict) and vocab.usage_in(orig) == resp.usage:
            out["usage"] = orig
        else:
            out["usage"] = vocab.usage_out(resp.usage)
    out.update(extras_for(resp, W, "response"))
    return out


def _consistent(fr: str, sr: Any, resp: Response) -> bool:
    parsed = vocab.FINISH_IN.get(fr)
    if parsed == sr:
        return True
    return fr == "stop" and sr in ("tool_use", "refusal")
