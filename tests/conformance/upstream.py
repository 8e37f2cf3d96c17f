"""The provider side of a conformance cell: answers in the upstream's own format (the builders'
hand-written native bodies; streams rendered event by event), errors, and readers that pull a
feature back out of the request the upstream received."""

from __future__ import annotations

import json
from typing import Any

from ccproxy.lightllm.ir import Usage
from ccproxy.lightllm.stream import RequestContext
from ccproxy.lightllm.stream.converter import make_renderer
from ccproxy.lightllm.stream.events import (
    MessageStart,
    Stop,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ThinkingSignature,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    UsageUpdate,
)
from tests.lightllm.lightllm_builders import Answer, response
from tests.support.canned import sse
from tests.support.fake_provider import Reply

URL = "https://example.com/paris"


def events(a: Answer) -> list[StreamEvent]:
    out: list[StreamEvent] = [MessageStart("msg_up", "upstream-model", Usage(input_tokens=a.input_tokens))]
    if a.thinking is not None:
        out.append(ThinkingDelta(a.thinking))
        if a.signature:
            out.append(ThinkingSignature(a.signature))
    if a.text is not None:
        out.append(TextDelta(a.text))
    for i, k in enumerate(a.calls):
        out += [ToolCallStart(i, k.id, k.name), ToolCallDelta(i, json.dumps(k.args)), ToolCallEnd(i)]
    usage = Usage(
        input_tokens=a.input_tokens,
        output_tokens=a.output_tokens,
        cache_read_tokens=a.cached_tokens,
        reasoning_tokens=a.reasoning_tokens,
    )
    return [*out, UsageUpdate(usage), Stop(a.stop)]


def stream_chunks(wire: str, evs: list[StreamEvent]) -> list[bytes]:
    r = make_renderer(wire, RequestContext(model="upstream-model", include_usage=True))
    return [c for c in (r.render([e]) for e in evs) if c]


def answer(wire: str, a: Answer, stream: bool) -> Reply:
    if stream:
        return Reply(events=stream_chunks(wire, events(a)))
    return Reply(json=response(wire, a))


def interleaved_chat() -> Reply:
    """Two tool calls whose argument deltas alternate, as OpenAI Chat streams parallel calls."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        c = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
             "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip
        return sse(None, c)

    def call(i: int, cid: str | None, args: str) -> dict[str, Any]:
        tc: dict[str, Any] = {"index": i, "function": {"arguments": args}}
        if cid:
            tc |= {"id": cid, "type": "function", "function": {"name": "get_weather", "arguments": args}}
        return {"tool_calls": [tc]}

    evs = [chunk({"role": "assistant", "content": None}), chunk(call(0, "call_1", "")), chunk(call(1, "call_2", ""))]
    evs += [chunk(call(0, None, '{"city": ')), chunk(call(1, None, '{"city": ')), chunk(call(0, None, '"Paris"}'))]
    evs += [chunk(call(1, None, '"Rome"}')), chunk({}, "tool_calls"), b"data: [DONE]\n\n"]
    return Reply(events=evs)


def cited(wire: str) -> Reply:
    """A plain answer whose text cites URL, in the format's own citation shape."""
    text = "Paris is sunny."
    if wire == "anthropic":
        body = response(wire, Answer(text=text))
        body["content"][0]["citations"] = [
            {"type": "web_search_result_location", "url": URL, "title": "Paris", "cited_text": text,
             "encrypted_index": "abc"}
        ]  # fmt: skip
    elif wire == "openai":
        body = response(wire, Answer(text=text))
        body["choices"][0]["message"]["annotations"] = [
            {"type": "url_citation", "url_citation": {"url": URL, "title": "Paris", "start_index": 0, "end_index": 5}}
        ]
    elif wire == "openai_responses":
        body = response(wire, Answer(text=text))
        body["output"][0]["content"][0]["annotations"] = [
            {"type": "url_citation", "url": URL, "title": "Paris", "start_index": 0, "end_index": 5}
        ]
    else:
        body = response(wire, Answer(text=text))
        body["candidates"][0]["groundingMetadata"] = {
            "groundingChunks": [{"web": {"uri": URL, "title": "Paris"}}],
            "groundingSupports": [{"segment": {"startIndex": 0, "endIndex": 5, "text": "Paris"},
                                   "groundingChunkIndices": [0]}],
        }  # fmt: skip
    return Reply(json=body)


ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error",
               529: "overloaded_error", 503: "api_error"}  # fmt: skip
GEMINI_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 429: "RESOURCE_EXHAUSTED", 529: "UNAVAILABLE",
                 503: "UNAVAILABLE"}  # fmt: skip


def error(wire: str, status: int) -> Reply:
    msg = f"upstream says {status}"
    if wire == "anthropic":
        body: dict[str, Any] = {"type": "error", "error": {"type": ERROR_TYPES[status], "message": msg}}
    elif wire in ("openai", "openai_responses"):
        body = {"error": {"message": msg, "type": ERROR_TYPES[status], "param": None, "code": None}}
    else:
        body = {"error": {"code": status, "message": msg, "status": GEMINI_STATUS[status]}}
    return Reply(status=status, json=body, headers={"retry-after": "7"})


# --- reading a feature back out of what the upstream received ----------------------------------


def system_text(wire: str, body: dict[str, Any]) -> str:
    if wire == "anthropic":
        s = body.get("system") or ""
        return s if isinstance(s, str) else "".join(b.get("text", "") for b in s)
    if wire == "openai":
        return "".join(_text(m.get("content")) for m in body["messages"] if m["role"] in ("system", "developer"))
    if wire == "openai_responses":
        items = [i for i in body.get("input") or [] if isinstance(i, dict) and i.get("role") in ("system", "developer")]
        return (body.get("instructions") or "") + "".join(_text(i.get("content")) for i in items)
    return "".join(p.get("text", "") for p in (body.get("systemInstruction") or {}).get("parts", []))


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content or [] if isinstance(p, dict))


def turns(wire: str, body: dict[str, Any]) -> list[tuple[str, str]]:
    """(user|assistant, text) of each conversational message, system excluded."""
    if wire in ("anthropic", "openai"):
        return [(m["role"], _text(m.get("content"))) for m in body["messages"] if m["role"] in ("user", "assistant")]
    if wire == "openai_responses":
        out = []
        for i in body.get("input") or []:
            if isinstance(i, dict) and i.get("role") in ("user", "assistant"):
                out.append((i["role"], _text(i.get("content"))))
        return out
    return [
        ("assistant" if c.get("role") == "model" else "user", "".join(p.get("text", "") for p in c["parts"]))
        for c in body["contents"]
    ]


def stop_sequences(wire: str, body: dict[str, Any]) -> Any:
    if wire == "anthropic":
        return body.get("stop_sequences")
    if wire == "openai":
        s = body.get("stop")
        return [s] if isinstance(s, str) else s
    if wire == "gemini":
        return (body.get("generationConfig") or {}).get("stopSequences")
    return None


def schema(wire: str, body: dict[str, Any]) -> Any:
    if wire == "anthropic":
        return ((body.get("output_config") or body.get("output_format") or {}).get("format") or {}).get("schema") or (
            body.get("output_format") or {}
        ).get("schema")
    if wire == "openai":
        return ((body.get("response_format") or {}).get("json_schema") or {}).get("schema")
    if wire == "openai_responses":
        return ((body.get("text") or {}).get("format") or {}).get("schema")
    g = body.get("generationConfig") or {}
    return g.get("responseJsonSchema") or g.get("responseSchema")


def forced_tool(wire: str, body: dict[str, Any]) -> str | None:
    """The one function the request forces, if it forces one."""
    if wire == "anthropic":
        tc = body.get("tool_choice") or {}
        return tc.get("name") if tc.get("type") == "tool" else None
    if wire == "openai":
        tc = body.get("tool_choice")
        return tc["function"]["name"] if isinstance(tc, dict) and tc.get("type") == "function" else None
    if wire == "openai_responses":
        tc = body.get("tool_choice")
        return tc.get("name") if isinstance(tc, dict) and tc.get("type") == "function" else None
    fc = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    names = fc.get("allowedFunctionNames") or []
    return names[0] if fc.get("mode") == "ANY" and len(names) == 1 else None


def reasoning_asked(wire: str, body: dict[str, Any]) -> bool:
    if wire == "anthropic":
        return (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")
    if wire == "openai":
        return bool(body.get("reasoning_effort") or body.get("reasoning"))
    if wire == "openai_responses":
        return bool(body.get("reasoning"))
    return bool((body.get("generationConfig") or {}).get("thinkingConfig"))
