"""Gemini generateContent (v1beta and v1): parse and render requests and responses.

The model and streaming live in the URL (`/v1beta/models/{model}:streamGenerateContent?alt=sse`),
not in the body: parse takes them as arguments and `gemini_path` builds the URL path. Gemini's
JSON accepts both lowerCamel and snake_case keys; which one a node used is kept for round trips.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from ccproxy.lightllm import citations, ids
from ccproxy.lightllm.common import (
    Direction,
    args_obj,
    client_call_id,
    reasoning_for,
    restore_ids,
)
from ccproxy.lightllm.ir import (
    ConversionError,
    MediaPart,
    Message,
    Node,
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
    put,
    tool_names_by_id,
)
from ccproxy.lightllm.vocab import gemini as vocab

W: Wire = "gemini"

_PATH = re.compile(r"/(v1beta1?|v1(?:alpha)?)/(?:.*/)?models/([^/:?]+):(\w+)")


def gemini_path(model: str, stream: bool, version: str = "v1beta") -> str:
    action = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return f"/{version}/models/{model}:{action}"


def parse_path(path: str) -> tuple[str, str, str] | None:
    """(version, model, action) of a Gemini model path, e.g. ("v1beta", "gemini-2.5-pro",
    "generateContent"); None for other paths."""
    m = _PATH.search(path.split("?", 1)[0])
    return (m.group(1), m.group(2), m.group(3)) if m else None


def model_from_path(path: str) -> str | None:
    parsed = parse_path(path)
    return parsed[1] if parsed else None


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _get(d: dict[str, Any], camel: str) -> tuple[Any, bool]:
    """Value of a key in either spelling, and whether the snake_case one was used."""
    if camel in d:
        return d[camel], False
    snake = _snake(camel)
    if snake in d:
        return d[snake], True
    return None, False


def _known(*camels: str) -> set[str]:
    return {n for c in camels for n in (c, _snake(c))}


def _k(node: Node, camel: str) -> str:
    return _snake(camel) if hint(node, W, "snake") else camel


def _kind(mime: str | None) -> str:
    if mime and mime.startswith("image/"):
        return "image"
    if mime and mime.startswith("audio/"):
        return "audio"
    return "document"


# ---- parts ---------------------------------------------------------------------------------


def _parse_part(p: Any, where: str) -> Any:
    p = as_obj(p, where)
    sig, s1 = _get(p, "thoughtSignature")
    thought = p.get("thought")
    text = p.get("text")
    fc, s2 = _get(p, "functionCall")
    fr, s3 = _get(p, "functionResponse")
    inline, s4 = _get(p, "inlineData")
    fdata, s5 = _get(p, "fileData")
    snake = s1 or s2 or s3 or s4 or s5 or None
    known = _known("thoughtSignature", "text", "thought")
    if isinstance(text, str) and thought:
        part: Any = ThinkingPart(text=text, signature=sig, origin=W)
    elif isinstance(text, str):
        part = TextPart(text=text, signature=sig)
    elif isinstance(fc, dict):
        args = fc.get("args")
        part = ToolCallPart(id=fc.get("id"), name=str(fc.get("name", "")), arguments=args, signature=sig)
        known |= _known("functionCall")
        keep(
            part,
            W,
            p,
            known,
            snake=snake,
            fc_extra={k: v for k, v in fc.items() if k not in ("id", "name", "args")} or None,
            has_args="args" in fc or None,
            thought=thought,
        )
        return part
    elif isinstance(fr, dict):
        resp = fr.get("response")
        part = ToolResultPart(
            tool_call_id=fr.get("id"), name=fr.get("name"), content=[TextPart(text=_result_text(resp))]
        )
        if isinstance(resp, dict) and set(resp) == {"error"}:
            part.is_error = True
        known |= _known("functionResponse")
        keep(
            part,
            W,
            p,
            known,
            snake=snake,
            response=resp,
            fr_extra={k: v for k, v in fr.items() if k not in ("id", "name", "response")} or None,
        )
        return part
    elif isinstance(inline, dict):
        mime, bs = _get(inline, "mimeType")
        part = MediaPart(kind=_kind(mime), media_type=mime, data=inline.get("data"))  # type: ignore[arg-type]
        known |= _known("inlineData")
        keep(
            part,
            W,
            p,
            known,
            snake=snake,
            blob_snake=bs or None,
            blob_extra={k: v for k, v in inline.items() if k not in _known("mimeType", "data")} or None,
        )
        return part
    elif isinstance(fdata, dict):
        mime, bs = _get(fdata, "mimeType")
        uri, _ = _get(fdata, "fileUri")
        part = MediaPart(kind=_kind(mime), media_type=mime, url=uri)  # type: ignore[arg-type]
        known |= _known("fileData")
        keep(
            part,
            W,
            p,
            known,
            snake=snake,
            blob_snake=bs or None,
            blob_extra={k: v for k, v in fdata.items() if k not in _known("mimeType", "fileUri")} or None,
        )
        return part
    elif sig is not None and set(p) <= known:
        part = ThinkingPart(text="", signature=sig, origin=W)
        keep(part, W, p, known, snake=snake, bare=True)
        return part
    else:
        return OpaquePart(origin=W, data=p)
    keep(part, W, p, known, snake=snake, thought=thought)
    return part


def _result_text(resp: Any) -> str:
    if isinstance(resp, dict) and len(resp) == 1:
        (v,) = resp.values()
        if isinstance(v, str):
            return v
    return json.dumps(resp, ensure_ascii=False)


def _render_part(p: Any, direction: Direction, names: dict[str, str], where: str) -> list[dict[str, Any]]:
    k = lambda camel: _k(p, camel)  # noqa: E731
    if isinstance(p, TextPart):
        out: dict[str, Any] = {"text": p.text}
        put(out, "thought", hint(p, W, "thought"))
        put(out, k("thoughtSignature"), p.signature)
        return [{**out, **extras_for(p, W, where)}]
    if isinstance(p, ThinkingPart | RedactedThinkingPart):
        r = reasoning_for(p, W, direction)
        if r is None:
            return []
        text, sig = r
        if hint(p, W, "bare"):
            return [{k("thoughtSignature"): sig, **extras_for(p, W, where)}]
        out = {"text": text, "thought": True}
        put(out, k("thoughtSignature"), sig)
        return [{**out, **extras_for(p, W, where)}]
    if isinstance(p, MediaPart):
        kb = (lambda c: _snake(c)) if hint(p, W, "blob_snake") else (lambda c: c)
        if p.data is not None:
            blob = {kb("mimeType"): p.media_type or "application/octet-stream", "data": p.data}
            key = "inlineData"
        elif p.text is not None:
            dropped("plain-text document wrapper (sent as text)", W)
            return [{"text": p.text}]
        elif p.url is not None and not p.url.startswith("file:"):
            blob = {kb("mimeType"): p.media_type or _guess_mime(p), kb("fileUri"): p.url}
            key = "fileData"
        else:
            dropped("media given by provider file id", W)
            return []
        blob.update(hint(p, W, "blob_extra") or {})
        return [{k(key): blob, **extras_for(p, W, where)}]
    if isinstance(p, ToolCallPart):
        fc: dict[str, Any] = {}
        call_id = client_call_id(p, W, direction) if (p.id is not None or direction == "response") else None
        if W in p.hints:
            call_id = None if hint(p, W, "synthetic_id") else p.id
        put(fc, "id", call_id)
        fc["name"] = p.name
        if hint(p, W, "has_args", True) or p.arguments:
            fc["args"] = args_obj(p)
        fc.update(hint(p, W, "fc_extra") or {})
        out = {k("functionCall"): fc}
        put(out, "thought", hint(p, W, "thought"))
        put(out, k("thoughtSignature"), p.signature)
        return [{**out, **extras_for(p, W, where)}]
    if isinstance(p, ToolResultPart):
        name = p.name or names.get(p.tool_call_id or "") or "tool"
        text = "\n".join(c.text for c in p.content if isinstance(c, TextPart))
        orig = hint(p, W, "response")
        if orig is not None and _result_text(orig) == text:
            resp: Any = orig
        else:
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            resp = parsed if isinstance(parsed, dict) else {"error" if p.is_error else "result": text}
        fr: dict[str, Any] = {}
        put(fr, "id", None if hint(p, W, "synthetic_id") else p.tool_call_id)
        fr |= {"name": name, "response": resp}
        fr.update(hint(p, W, "fr_extra") or {})
        media = [c for c in p.content if isinstance(c, MediaPart)]
        if media:
            dropped("media inside a tool result (sent as parts after it)", W)
        return [
            {k("functionResponse"): fr, **extras_for(p, W, where)},
            *(b for c in media for b in _render_part(c, direction, names, where)),
        ]
    if isinstance(p, OpaquePart):
        if p.origin == W:
            return [p.data]
        dropped(f"{p.origin} block {p.data.get('type')!r}", W)
        return []
    raise ConversionError(f"{where}: cannot render {type(p).__name__}")


def _guess_mime(p: MediaPart) -> str:
    url = (p.url or "").lower()
    for ext, mime in (
        (".png", "image/png"),
        (".jpg", "image/jpeg"),
        (".jpeg", "image/jpeg"),
        (".gif", "image/gif"),
        (".webp", "image/webp"),
        (".pdf", "application/pdf"),
    ):
        if url.split("?")[0].endswith(ext):
            return mime
    return "image/jpeg" if p.kind == "image" else "application/pdf"


def _parse_content(c: Any, where: str) -> Message:
    c = as_obj(c, where)
    role = c.get("role")
    parts = [_parse_part(x, f"{where}.parts[{i}]") for i, x in enumerate(as_list(c.get("parts") or [], where))]
    msg = Message(role="assistant" if role == "model" else "user", parts=parts)
    keep(
        msg,
        W,
        c,
        {"role", "parts"},
        role=role,
        has_role="role" in c or None,
        no_parts="parts" not in c or None,
    )
    return msg


def system_context_text(text: str) -> str:
    """A mid-conversation system message for Gemini, whose `contents` take only user and model
    turns and whose one `systemInstruction` sits before the conversation: the text goes in
    place as a user turn, fenced so the model reads it as operator context, not user words."""
    return f"<system>\n{text}\n</system>"


def _render_content(m: Message, direction: Direction, names: dict[str, str], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if m.role == "system" and W not in m.hints:
        texts = [p.text for p in m.parts if isinstance(p, TextPart) and p.text]
        if len(texts) != len(m.parts):
            dropped(f"non-text parts of the system message {where}", W)
        return {"role": "user", "parts": [{"text": system_context_text(t)} for t in texts]}
    if W in m.hints:
        if hint(m, W, "has_role"):
            out["role"] = hint(m, W, "role")
    else:
        out["role"] = "model" if m.role == "assistant" else "user"
    parts = [b for i, p in enumerate(m.parts) for b in _render_part(p, direction, names, f"{where}.parts[{i}]")]
    if parts or not hint(m, W, "no_parts"):
        out["parts"] = parts
    return {**out, **extras_for(m, W, where)}


# ---- requests ------------------------------------------------------------------------------

_GEN_KEYS = _known(
    "temperature",
    "topP",
    "topK",
    "maxOutputTokens",
    "stopSequences",
    "seed",
    "presencePenalty",
    "frequencyPenalty",
    "responseMimeType",
    "responseSchema",
    "responseJsonSchema",
    "thinkingConfig",
)


def parse_request(body: Any, *, model: str | None = None, stream: bool | None = None) -> Request:
    body = as_obj(body, "request")
    req = Request(model=model, stream=stream)
    contents, _ = _get(body, "contents")
    req.messages = _pair_ids(
        restore_ids([_parse_content(c, f"contents[{i}]") for i, c in enumerate(as_list(contents or [], "contents"))])
    )
    si, si_snake = _get(body, "systemInstruction")
    if si is not None:
        sys_msg = _parse_content(si, "systemInstruction")
        req.system = [p for p in sys_msg.parts if isinstance(p, TextPart)]
        sys_hint = {
            "role": hint(sys_msg, W, "role"),
            "has_role": hint(sys_msg, W, "has_role"),
            "extra": sys_msg.extras.get(W),
        }
    gc, gc_snake = _get(body, "generationConfig")
    gen = as_obj(gc, "generationConfig") if gc is not None else {}
    g = lambda camel: _get(gen, camel)[0]  # noqa: E731
    req.temperature, req.top_p, req.top_k = g("temperature"), g("topP"), g("topK")
    req.max_tokens, req.seed, req.stop = g("maxOutputTokens"), g("seed"), g("stopSequences")
    req.presence_penalty, req.frequency_penalty = g("presencePenalty"), g("frequencyPenalty")
    mime = g("responseMimeType")
    schema = g("responseJsonSchema") if g("responseJsonSchema") is not None else g("responseSchema")
    if mime == "application/json" or schema is not None:
        req.response_format = ResponseFormat(type="json_schema" if schema is not None else "json_object", schema=schema)
    tc = g("thinkingConfig")
    if isinstance(tc, dict):
        budget, _ = _get(tc, "thinkingBudget")
        r = Reasoning(
            budget_tokens=budget if isinstance(budget, int) and budget > 0 else None,
            include_thoughts=_get(tc, "includeThoughts")[0],
            effort=_get(tc, "thinkingLevel")[0],
        )
        if budget == 0:
            r.enabled = False
        elif budget is not None:
            r.enabled = True
        keep(
            r,
            W,
            tc,
            _known("thinkingBudget", "includeThoughts", "thinkingLevel"),
            budget=budget,
            snake=any(k in tc for k in ("thinking_budget", "include_thoughts", "thinking_level")) or None,
        )
        req.reasoning = r
    tools, tools_snake = _get(body, "tools")
    if tools is not None:
        req.tools = []
        # Older clients send one Tool object instead of a list; the API takes both.
        tools_obj = isinstance(tools, dict)
        for i, t in enumerate([tools] if tools_obj else as_list(tools, "tools")):
            t = as_obj(t, f"tools[{i}]")
            decls, snake = _get(t, "functionDeclarations")
            if isinstance(decls, list) and set(t) <= _known("functionDeclarations"):
                for j, d in enumerate(decls):
                    req.tools.append(_parse_decl(as_obj(d, f"tools[{i}].functionDeclarations[{j}]"), i, snake))
            else:
                req.tools.append(Tool(name=next(iter(t), "builtin"), builtin=t, builtin_origin=W))
    tcfg, _ = _get(body, "toolConfig")
    if isinstance(tcfg, dict):
        fcc, _ = _get(tcfg, "functionCallingConfig")
        fcc = fcc if isinstance(fcc, dict) else {}
        mode = fcc.get("mode", "AUTO")
        allowed, _ = _get(fcc, "allowedFunctionNames")
        choice = ToolChoice(mode={"ANY": "required", "NONE": "none"}.get(mode, "auto"))  # type: ignore[arg-type]
        if mode == "ANY" and isinstance(allowed, list) and len(allowed) == 1:
            choice.mode, choice.name = "tool", allowed[0]
        keep(choice, W, tcfg, (), raw=tcfg)
        req.tool_choice = choice
    keep(
        req,
        W,
        body,
        _known("contents", "systemInstruction", "generationConfig", "tools", "toolConfig"),
        gen_extra={k: v for k, v in gen.items() if k not in _GEN_KEYS} or None,
        has_gen=gc is not None or None,
        gen_snake=gc_snake or None,
        si_snake=si_snake or None,
        tools_snake=tools_snake or None,
        tools_obj=(tools is not None and isinstance(tools, dict)) or None,
        sys=sys_hint if si is not None else None,
        mime=mime,
        schema_key=next(
            (
                k
                for k in ("responseJsonSchema", "response_json_schema", "responseSchema", "response_schema")
                if k in gen
            ),
            None,
        ),
        stop_null=("stopSequences" in gen and req.stop is None) or None,
    )
    return req


def _pair_ids(messages: list[Message]) -> list[Message]:
    """Gemini often sends functionCall/functionResponse without ids (it matches by name and
    order); other formats link results to calls by id. Give id-less calls an id and each
    id-less response the id of the earliest unanswered call of the same name. The ids are
    marked synthetic so a Gemini render leaves them out again."""
    open_calls: list[ToolCallPart] = []
    for mi, m in enumerate(messages):
        for pi, p in enumerate(m.parts):
            if isinstance(p, ToolCallPart):
                if p.id is None:
                    p.id = f"gemini_call_{mi}_{pi}"
                    p.hints.setdefault(W, {})["synthetic_id"] = True
                open_calls.append(p)
            elif isinstance(p, ToolResultPart) and p.tool_call_id is None:
                match = next((c for c in open_calls if c.name == p.name), None)
                if match is not None:
                    open_calls.remove(match)
                    p.tool_call_id = match.id
                    p.hints.setdefault(W, {})["synthetic_id"] = True
            elif isinstance(p, ToolResultPart):
                open_calls = [c for c in open_calls if c.id != p.tool_call_id]
    return messages


def _parse_decl(d: dict[str, Any], group: int, snake: bool) -> Tool:
    key = next((k for k in ("parametersJsonSchema", "parameters_json_schema", "parameters") if k in d), None)
    tool = Tool(name=str(d.get("name", "")), description=d.get("description"), parameters=d.get(key) if key else None)
    keep(
        tool,
        W,
        d,
        {"name", "description", "parametersJsonSchema", "parameters_json_schema", "parameters"},
        group=group,
        schema_key=key,
        snake=snake or None,
        has_desc="description" in d or None,
    )
    return tool


def render_request(req: Request, *, model: str | None = None) -> dict[str, Any]:
    same = W in req.hints
    names = tool_names_by_id(req.messages)
    out: dict[str, Any] = {}
    out["contents"] = []
    for i, m in enumerate(req.messages):
        content = _render_content(m, "request", names, f"contents[{i}]")
        if not content.get("parts") and not same:
            # Only another provider's reasoning state was in it; Gemini rejects empty parts.
            dropped(f"contents[{i}] (nothing left for Gemini)", W)
            continue
        out["contents"].append(content)
    if req.system is not None:
        sh = hint(req, W, "sys") or {}
        si: dict[str, Any] = {}
        if sh.get("has_role") or not same:
            si["role"] = sh.get("role") or "user"
        si["parts"] = [{"text": s.text, **extras_for(s, W, "systemInstruction")} for s in req.system]
        out["system_instruction" if hint(req, W, "si_snake") else "systemInstruction"] = {
            **si,
            **(sh.get("extra") or {}),
        }
    if req.tools is not None:
        rendered_tools = _render_tools(req.tools, same)
        out["tools"] = rendered_tools[0] if hint(req, W, "tools_obj") and len(rendered_tools) == 1 else rendered_tools
    if req.tool_choice is not None:
        raw = hint(req.tool_choice, W, "raw")
        if raw is not None:
            out["toolConfig"] = raw
        else:
            tc = req.tool_choice
            fcc: dict[str, Any] = {"mode": {"auto": "AUTO", "none": "NONE", "required": "ANY", "tool": "ANY"}[tc.mode]}
            if tc.mode == "tool" and tc.name:
                fcc["allowedFunctionNames"] = [tc.name]
            out["toolConfig"] = {"functionCallingConfig": fcc}
            if tc.parallel is not None:
                dropped("parallel tool call setting", W)
    gen = _render_generation(req, same)
    if gen or hint(req, W, "has_gen"):
        out["generation_config" if hint(req, W, "gen_snake") else "generationConfig"] = gen
    if req.user is not None or req.metadata:
        dropped("user / metadata", W)
    out.update(extras_for(req, W, "request"))
    return out


def _render_tools(tools: list[Tool], same: bool) -> list[dict[str, Any]]:
    groups: dict[int, list[dict[str, Any]]] = {}
    order: list[Any] = []
    for t in tools:
        if t.builtin is not None:
            if t.builtin_origin == W:
                order.append(t.builtin)
            else:
                dropped(f"{t.builtin_origin} built-in tool {t.name!r}", W)
            continue
        d: dict[str, Any] = {"name": t.name}
        if t.description is not None or hint(t, W, "has_desc"):
            d["description"] = t.description
        if t.parameters is not None:
            # parametersJsonSchema takes full JSON Schema; `parameters` only an OpenAPI subset.
            d[hint(t, W, "schema_key") or "parametersJsonSchema"] = t.parameters
        if t.strict is not None:
            dropped("tool strict flag", W)
        g = hint(t, W, "group", -1)
        if g not in groups:
            groups[g] = []
            order.append((g, hint(t, W, "snake")))
        groups[g].append({**d, **extras_for(t, W, f"tools[{t.name}]")})
    return [
        {("function_declarations" if o[1] else "functionDeclarations"): groups[o[0]]} if isinstance(o, tuple) else o
        for o in order
    ]


def _render_generation(req: Request, same: bool) -> dict[str, Any]:
    gen: dict[str, Any] = {}
    snake = bool(hint(req, W, "gen_snake"))
    k = (lambda c: _snake(c)) if snake else (lambda c: c)
    put(gen, k("temperature"), req.temperature)
    put(gen, k("topP"), req.top_p)
    put(gen, k("topK"), req.top_k)
    put(gen, k("maxOutputTokens"), req.max_tokens)
    put(gen, k("stopSequences"), req.stop)
    if hint(req, W, "stop_null"):
        gen[k("stopSequences")] = None
    put(gen, k("seed"), req.seed)
    put(gen, k("presencePenalty"), req.presence_penalty)
    put(gen, k("frequencyPenalty"), req.frequency_penalty)
    rf = req.response_format
    mime = hint(req, W, "mime")
    if rf is not None and rf.type != "text":
        gen[k("responseMimeType")] = mime or "application/json"
        if rf.schema_ is not None:
            gen[hint(req, W, "schema_key") or "responseJsonSchema"] = rf.schema_
    elif mime is not None:
        gen[k("responseMimeType")] = mime
    r = req.reasoning
    if r is not None:
        tc: dict[str, Any] = {}
        kt = lambda camel: _k(r, camel)  # noqa: E731
        if same:
            put(tc, kt("thinkingBudget"), hint(r, W, "budget"))
        elif r.enabled is False or r.effort == "none":
            tc["thinkingBudget"] = 0
        else:
            put(tc, "thinkingBudget", budget_for(r))
        if r.include_thoughts is not None:
            tc[kt("includeThoughts")] = r.include_thoughts
        elif not same and r.enabled is not False and (r.summary is not None or r.budget_tokens is not None):
            tc["includeThoughts"] = True  # the client asked to see thinking
        if same:
            put(tc, kt("thinkingLevel"), r.effort)
        gen[k("thinkingConfig")] = {**tc, **extras_for(r, W, "thinkingConfig")}
    gen.update(hint(req, W, "gen_extra") or {})
    return gen


# ---- responses -----------------------------------------------------------------------------


def parse_response(body: Any) -> Response:
    body = as_obj(body, "response")
    if "error" in body and "candidates" not in body:
        raise ConversionError("response: is an error body")
    cands = as_list(body.get("candidates") or [], "response.candidates")
    resp = Response(id=body.get("responseId"), model=body.get("modelVersion"))
    hints: dict[str, Any] = {"has_cands": "candidates" in body or None}
    if cands:
        c = as_obj(cands[0], "candidates[0]")
        if "content" in c:
            msg = _parse_content(c["content"], "candidates[0].content")
            resp.parts = msg.parts
            hints["content_hints"], hints["content_extra"] = msg.hints.get(W), msg.extras.get(W)
            texts = [p.text if isinstance(p, TextPart) else "" for p in resp.parts]
            for p, found in zip(resp.parts, citations.gemini_in(c.get("groundingMetadata"), texts), strict=True):
                if found and isinstance(p, TextPart):
                    p.citations = found
        fr = c.get("finishReason")
        stop = vocab.finish_in(fr, has_calls=any(isinstance(p, ToolCallPart) for p in resp.parts))
        resp.stop_reason = stop
        hints.update(
            finish=fr,
            cand_extra={k: v for k, v in c.items() if k not in ("content", "finishReason")},
            has_content="content" in c,
            more=cands[1:] or None,
        )
    elif isinstance(body.get("promptFeedback"), dict) and body["promptFeedback"].get("blockReason"):
        resp.stop_reason = "refusal"
    u = body.get("usageMetadata")
    if isinstance(u, dict):
        resp.usage = vocab.usage_in(u)
        hints["usage"] = u
    keep(resp, W, body, {"candidates", "usageMetadata", "modelVersion", "responseId"}, **hints)
    return resp


def _text_parts_at(rendered: list[dict[str, Any]], parts: list[Any]) -> list[tuple[int, TextPart]]:
    """Pair each answer text part with its index among the rendered parts (segment partIndex)."""
    texts = iter(p for p in parts if isinstance(p, TextPart))
    out: list[tuple[int, TextPart]] = []
    for i, r in enumerate(rendered):
        if "text" in r and not r.get("thought"):
            p = next(texts, None)
            if p is None:
                break
            out.append((i, p))
    return out


def render_response(resp: Response, *, model: str | None = None) -> dict[str, Any]:
    same = W in resp.hints
    cand: dict[str, Any] = {}
    if resp.parts or not same or hint(resp, W, "has_content"):
        msg = Message(role="assistant", parts=resp.parts)
        if same:
            msg.hints[W] = hint(resp, W, "content_hints") or {}
            if hint(resp, W, "content_extra"):
                msg.extras[W] = hint(resp, W, "content_extra")
        cand["content"] = _render_content(msg, "response", {}, "candidates[0].content")
        if not same:
            grounding = citations.gemini_out(_text_parts_at(cand["content"].get("parts", []), resp.parts))
            put(cand, "groundingMetadata", grounding)
    fr = hint(resp, W, "finish")
    if not (same and ((fr is None and resp.stop_reason is None) or _consistent(fr, resp.stop_reason))):
        fr = vocab.finish_out(resp.stop_reason)
    if fr is not None:
        cand["finishReason"] = fr
    cand.update(hint(resp, W, "cand_extra") or ({} if same else {"index": 0}))
    out: dict[str, Any] = {}
    if not same or hint(resp, W, "has_cands"):
        out["candidates"] = [cand, *(hint(resp, W, "more") or [])] if (cand or not same) else []
    if resp.usage is not None:
        orig = hint(resp, W, "usage")
        if isinstance(orig, dict) and vocab.usage_in(orig) == resp.usage:
            out["usageMetadata"] = orig
        else:
            out["usageMetadata"] = vocab.usage_out(resp.usage)
    name = model or resp.model
    if name is not None:
        out["modelVersion"] = name
    if same and resp.id is not None:
        out["responseId"] = resp.id
    elif not same:
        out["responseId"] = ids.client_id(W, resp.id)
    if not same and resp.created is not None:
        out["createTime"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(resp.created))
    out.update(extras_for(resp, W, "response"))
    return out


def _consistent(fr: Any, sr: Any) -> bool:
    if not isinstance(fr, str):
        return False
    parsed = vocab.FINISH_IN.get(fr)
    return parsed == sr or (parsed == "end_turn" and sr == "tool_use")
