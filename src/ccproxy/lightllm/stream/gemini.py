"""Gemini streamGenerateContent: intake of `alt=sse` or the bare JSON array, and rendering."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from ccproxy.lightllm import code_assist
from ccproxy.lightllm.ir import StopReason, Usage
from ccproxy.lightllm.sse import JSONArrayStreamParser, SSEEvent, SSEParser
from ccproxy.lightllm.stream.base import Renderer, dumps, loads, log
from ccproxy.lightllm.stream.events import (
    ConversionError,
    MessageStart,
    RedactedThinking,
    RequestContext,
    Stop,
    StreamError,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ThinkingSignature,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    UsageUpdate,
)

_REFUSALS = frozenset({"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"})
_STOP_TO_FINISH: dict[str, str] = {
    "max_tokens": "MAX_TOKENS",
    "refusal": "SAFETY",
}
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def _is_base64(s: str) -> bool:
    try:
        base64.b64decode(s, validate=True)
    except ValueError:
        return False
    return True


def usage_from_gemini(u: dict[str, Any]) -> Usage:
    thoughts = u.get("thoughtsTokenCount") or 0
    return Usage(
        input_tokens=u.get("promptTokenCount") or 0,
        # candidatesTokenCount excludes thoughts; the IR's output counts them
        output_tokens=(u.get("candidatesTokenCount") or 0) + thoughts,
        cache_read_tokens=u.get("cachedContentTokenCount") or 0,
        reasoning_tokens=thoughts,
    )


def usage_to_gemini(u: Usage | None) -> dict[str, Any]:
    u = u or Usage()
    meta: dict[str, Any] = {
        "promptTokenCount": u.input_tokens,
        "candidatesTokenCount": max(u.output_tokens - u.reasoning_tokens, 0),
        "totalTokenCount": u.input_tokens + u.output_tokens,
    }
    if u.reasoning_tokens:
        meta["thoughtsTokenCount"] = u.reasoning_tokens
    if u.cache_read_tokens:
        meta["cachedContentTokenCount"] = u.cache_read_tokens
    return meta


class GeminiIntake:
    wire = "gemini"

    def __init__(self, sse: bool = True, envelope: bool = False) -> None:
        # envelope: the upstream is Code Assist, every chunk is `{response: {...}}`
        self.envelope = envelope
        self._sse: SSEParser | None = SSEParser() if sse else None
        self._array: JSONArrayStreamParser | None = None if sse else JSONArrayStreamParser()
        self.finished = False
        self._started = False
        self._tools = 0
        self._tool_seen = False

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        if self._sse is not None:
            return self._events(self._sse.feed(chunk))
        assert self._array is not None
        try:
            objs = self._array.feed(chunk)
        except ValueError as e:
            raise ConversionError(str(e)) from e
        out: list[StreamEvent] = []
        for obj in objs:
            out.extend(self.on_chunk(obj))
        return out

    def _events(self, evs: list[SSEEvent]) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for ev in evs:
            out.extend(self.on_chunk(loads(ev.data)))
        return out

    def close(self) -> list[StreamEvent]:
        out = self._events(self._sse.close()) if self._sse is not None else []
        if not self.finished:
            out.append(StreamError("gemini upstream stream ended before finishReason"))
        return out

    def envelope_stage(self, d: Any) -> Any:
        """First stage of intake: Code Assist's `{response: ...}` envelope comes off here, for
        streamed chunks and (through `unwrap_buffered`) whole buffered answers alike."""
        return code_assist.unwrap(d) if self.envelope else d

    def on_chunk(self, d: dict[str, Any]) -> list[StreamEvent]:
        if self.finished:
            return []
        d = self.envelope_stage(d)
        if d.get("error"):
            err = d["error"]
            self.finished = True
            return [StreamError(err.get("message", "upstream error"), err.get("status") or "api_error")]
        out: list[StreamEvent] = []
        if not self._started:
            self._started = True
            out.append(MessageStart(d.get("responseId", ""), d.get("modelVersion", "")))
        cands = d.get("candidates") or []
        cand = cands[0] if cands else {}
        for part in (cand.get("content") or {}).get("parts") or ():
            out.extend(self._part(part))
        if d.get("usageMetadata"):
            out.append(UsageUpdate(usage_from_gemini(d["usageMetadata"])))
        finish = cand.get("finishReason")
        block = (d.get("promptFeedback") or {}).get("blockReason")
        if finish or (block and not cands):
            self.finished = True
            reason: StopReason = "end_turn"
            if finish == "MAX_TOKENS":
                reason = "max_tokens"
            elif finish in _REFUSALS or block:
                reason = "refusal"
            elif self._tool_seen:
                reason = "tool_use"
            out.append(Stop(reason))
        return out

    def _part(self, part: dict[str, Any]) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        if "functionCall" in part:
            fc = part["functionCall"] or {}
            ordinal = self._tools
            self._tools += 1
            self._tool_seen = True
            # Gemini sends each call whole; its ids are optional, clients of other formats need one
            call_id = fc.get("id") or f"call_{uuid.uuid4().hex[:24]}"
            out.append(ToolCallStart(ordinal, call_id, fc.get("name", "")))
            out.append(ToolCallDelta(ordinal, dumps(fc.get("args") or {})))
            out.append(ToolCallEnd(ordinal))
        elif part.get("text"):
            out.append(ThinkingDelta(part["text"]) if part.get("thought") else TextDelta(part["text"]))
        elif part and not part.keys() <= {"text", "thought", "thoughtSignature"}:
            log.debug("gemini stream: part with %s dropped", sorted(part))
        if part.get("thoughtSignature"):
            # the signature seals the thoughts before this part: emit it first so it attaches to them
            out.insert(0, ThinkingSignature(part["thoughtSignature"]))
        return out


def unwrap_buffered(body: Any) -> Any:
    """A buffered Code Assist answer through the same envelope stage as a stream's chunks."""
    return GeminiIntake(envelope=True).envelope_stage(body)


class GeminiRenderer(Renderer):
    def __init__(self, ctx: RequestContext) -> None:
        super().__init__()
        self._ctx = ctx
        self._sse = ctx.gemini_sse
        self._first = True
        self._id = ""
        self._model = ctx.model
        self._usage: Usage | None = None
        self._tools: dict[int, dict[str, Any]] = {}
        self._tail: str | None = None

    def _frame(self, obj: dict[str, Any] | str) -> bytes:
        text = obj if isinstance(obj, str) else dumps(obj)
        if self._sse:
            # Gemini frames its own SSE with CRLF pairs
            return ("data: " + text + "\r\n\r\n").encode()
        head = "[" if self._first else ",\r\n"
        self._first = False
        return (head + text).encode()

    def _chunk(self, parts: list[dict[str, Any]], finish: str | None = None) -> bytes:
        # built as text: the tail (usage, model, id) only changes when usage does
        cand = '{"candidates":[{"content":{"role":"model","parts":' + dumps(parts) + "},"
        if finish:
            cand += '"finishReason":' + dumps(finish) + ","
        if self._tail is None or finish:
            self._id = self._id or uuid.uuid4().hex[:22]
            tail = ""
            if self._usage is not None or finish:
                tail = ',"usageMetadata":' + dumps(usage_to_gemini(self._usage))
            self._tail = tail + ',"modelVersion":' + dumps(self._model) + ',"responseId":' + dumps(self._id) + "}"
        return self._frame(cand + '"index":0}]' + self._tail)

    def event(self, ev: StreamEvent) -> bytes:
        if isinstance(ev, MessageStart):
            self._id = self._id or ev.id
            self._model = ev.model or self._model
            if ev.usage is not None:
                self._usage = ev.usage
            self._tail = None
            return b""
        if isinstance(ev, TextDelta):
            return self._chunk([{"text": ev.text}]) if ev.text else b""
        if isinstance(ev, ThinkingDelta):
            return self._chunk([{"text": ev.text, "thought": True}]) if ev.text else b""
        if isinstance(ev, ThinkingSignature):
            if not _is_base64(ev.signature):
                # thoughtSignature is typed bytes (base64): anything else would break the client's parse
                self.drop_signature_once("gemini (signature is not base64)")
                return b""
            # Gemini attaches the signature to a part; an empty thought part carries it
            return self._chunk([{"text": "", "thought": True, "thoughtSignature": ev.signature}])
        if isinstance(ev, RedactedThinking):
            self.drop_signature_once("gemini (redacted thinking)")
            return b""
        if isinstance(ev, ToolCallStart):
            self._tools[ev.index] = {"id": ev.id, "name": ev.name, "args": ""}
            return b""
        if isinstance(ev, ToolCallDelta):
            if ev.index not in self._tools:
                raise ConversionError(f"tool call {ev.index} arguments before its start")
            self._tools[ev.index]["args"] += ev.arguments
            return b""
        if isinstance(ev, ToolCallEnd):
            # functionCall carries parsed args, so a call goes out whole once its JSON is complete
            call = self._tools.pop(ev.index, None)
            if call is None:
                return b""
            try:
                args = json.loads(call["args"]) if call["args"].strip() else {}
            except ValueError:
                # only a stream cut short (max_tokens) leaves partial JSON; Gemini never sends a
                # partial functionCall, so the broken call is dropped and the stop reason stands
                log.info("gemini render: tool call %r dropped, arguments are not complete JSON", call["name"])
                return b""
            fc = {"name": call["name"], "args": args, "id": call["id"]}
            return self._chunk([{"functionCall": fc}])
        if isinstance(ev, UsageUpdate):
            self._usage = ev.usage
            self._tail = None
            return b""
        if isinstance(ev, Stop):
            out = b"".join(self.event(ToolCallEnd(i)) for i in list(self._tools))
            self.done = True
            finish = _STOP_TO_FINISH.get(ev.reason, "STOP")
            return out + self._chunk([{"text": ""}], finish) + (b"" if self._sse else b"]")
        if isinstance(ev, StreamError):
            return self.error(ev.message, ev.type)
        raise ConversionError(f"unknown stream event {ev!r}")

    def error(self, message: str, type_: str = "api_error") -> bytes:
        self.done = True
        status = {
            "rate_limit_error": "RESOURCE_EXHAUSTED",
            "overloaded_error": "UNAVAILABLE",
            "invalid_request_error": "INVALID_ARGUMENT",
        }.get(type_, "INTERNAL")
        code = {v: k for k, v in _STATUS.items()}.get(status, 500)
        out = self._frame({"error": {"code": code, "message": message, "status": status}})
        return out + (b"" if self._sse else b"]")
