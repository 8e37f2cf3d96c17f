"""Gemini streamGenerateContent: intake of `alt=sse` or the bare JSON array, and rendering."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any, assert_never

from ccproxy.lightllm import citations, ids
from ccproxy.lightllm.ir import Citation, TextPart, Usage
from ccproxy.lightllm.sse import JSONArrayStreamParser, SSEEvent, SSEParser
from ccproxy.lightllm.stream.base import Renderer, dumps, loads, log
from ccproxy.lightllm.stream.events import (
    CitationAdded,
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
from ccproxy.lightllm.vocab import gemini as vocab


def _is_base64(s: str) -> bool:
    try:
        base64.b64decode(s, validate=True)
    except ValueError:
        return False
    return True


class GeminiIntake:
    wire = "gemini"

    def __init__(self, sse: bool = True) -> None:
        self._sse: SSEParser | None = SSEParser() if sse else None
        self._array: JSONArrayStreamParser | None = None if sse else JSONArrayStreamParser()
        self.finished = False
        self._started = False
        self._tools = 0
        self._tool_seen = False
        self._text: list[str] = []  # the answer's text: grounding segments index it
        self._grounded = False

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

    def on_chunk(self, d: dict[str, Any]) -> list[StreamEvent]:
        if self.finished:
            return []
        if d.get("error"):
            err = d["error"]
            self.finished = True
            message = _s(err.get("message")) or "upstream error"
            return [StreamError(message, vocab.error_type_in(err.get("status")))]
        out: list[StreamEvent] = []
        if not self._started:
            self._started = True
            out.append(MessageStart(_s(d.get("responseId")), _s(d.get("modelVersion"))))
        cands = d.get("candidates") or []
        cand = cands[0] if cands else {}
        for part in (cand.get("content") or {}).get("parts") or ():
            out.extend(self._part(part))
        if cand.get("groundingMetadata") and not self._grounded:
            out.extend(self._grounding(cand["groundingMetadata"]))
        if d.get("usageMetadata"):
            out.append(UsageUpdate(vocab.usage_in(d["usageMetadata"])))
        finish = cand.get("finishReason")
        block = (d.get("promptFeedback") or {}).get("blockReason")
        if finish or (block and not cands):
            self.finished = True
            reason = "refusal" if block and not finish else vocab.finish_in(finish, self._tool_seen) or "end_turn"
            out.append(Stop(reason))
        return out

    def _grounding(self, meta: Any) -> list[StreamEvent]:
        # streamed grounding indexes the answer's text as one part (the chunks' parts joined)
        self._grounded = True
        found = citations.gemini_in(meta, ["".join(self._text)])[0]
        return [CitationAdded(c) for c in found]

    def _part(self, part: dict[str, Any]) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        if "functionCall" in part:
            fc = part["functionCall"] or {}
            ordinal = self._tools
            self._tools += 1
            self._tool_seen = True
            # Gemini sends each call whole; its ids are optional, clients of other formats need one
            call_id = _s(fc.get("id")) or f"call_{uuid.uuid4().hex[:24]}"
            out.append(ToolCallStart(ordinal, call_id, _s(fc.get("name"))))
            out.append(ToolCallDelta(ordinal, dumps(fc.get("args") or {})))
            out.append(ToolCallEnd(ordinal))
        elif isinstance(part.get("text"), str) and part["text"]:
            if part.get("thought"):
                out.append(ThinkingDelta(part["text"]))
            else:
                self._text.append(part["text"])
                out.append(TextDelta(part["text"]))
        elif part and not part.keys() <= {"text", "thought", "thoughtSignature"}:
            log.debug("gemini stream: part with %s dropped", sorted(part))
        if part.get("thoughtSignature"):
            # the signature seals the thoughts before this part: emit it first so it attaches to them
            out.insert(0, ThinkingSignature(_s(part["thoughtSignature"])))
        return out


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
        self._text: list[str] = []  # the answer's text, one part to the client's accumulator
        self._citations: list[Citation] = []

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
            grounding = self._grounding()
            if grounding is not None:
                cand += '"groundingMetadata":' + dumps(grounding) + ","
        if self._tail is None or finish:
            self._id = self._id or ids.client_id("gemini", None)
            tail = ""
            if self._usage is not None or finish:
                tail = ',"usageMetadata":' + dumps(vocab.usage_out(self._usage))
            self._tail = tail + ',"modelVersion":' + dumps(self._model) + ',"responseId":' + dumps(self._id) + "}"
        return self._frame(cand + '"index":0}]' + self._tail)

    def _grounding(self) -> dict[str, Any] | None:
        if not self._citations:
            return None
        # a client's accumulator joins the streamed text parts: segments index that text
        part = TextPart(text="".join(self._text), citations=self._citations)
        return citations.gemini_out([(0, part)])

    def event(self, ev: StreamEvent) -> bytes:
        match ev:
            case MessageStart(id=msg_id, model=model, usage=usage):
                self.upstream_id = self.upstream_id or msg_id
                self._id = self._id or ids.client_id("gemini", msg_id or None)
                self._model = model or self._model
                if usage is not None:
                    self._usage = usage
                self._tail = None
                return b""
            case TextDelta(text=text):
                if not text:
                    return b""
                self._text.append(text)
                return self._chunk([{"text": text}])
            case ThinkingDelta(text=text):
                return self._chunk([{"text": text, "thought": True}]) if text else b""
            case ThinkingSignature(signature=sig):
                if not _is_base64(sig):
                    # thoughtSignature is typed bytes (base64): anything else would break the client's parse
                    self.drop_signature_once("gemini (signature is not base64)")
                    return b""
                # Gemini attaches the signature to a part; an empty thought part carries it
                return self._chunk([{"text": "", "thought": True, "thoughtSignature": sig}])
            case RedactedThinking():
                self.drop_signature_once("gemini (redacted thinking)")
                return b""
            case ToolCallStart(index=index, id=call_id, name=name):
                self._tools[index] = {"id": call_id, "name": name, "args": ""}
                return b""
            case ToolCallDelta(index=index, arguments=args):
                if index not in self._tools:
                    raise ConversionError(f"tool call {index} arguments before its start")
                self._tools[index]["args"] += args
                return b""
            case ToolCallEnd(index=index):
                return self._call_done(index)
            case CitationAdded(citation=c):
                whole = c.start is None or c.end is None
                chars = sum(len(t) for t in self._text)
                self._citations.append(c.model_copy(update={"start": 0, "end": chars}) if whole else c)
                return b""
            case UsageUpdate(usage=usage):
                self._usage = usage
                self._tail = None
                return b""
            case Stop(reason=reason):
                out = b"".join(self._call_done(i) for i in list(self._tools))
                self.done = True
                return out + self._chunk([{"text": ""}], vocab.finish_out(reason)) + (b"" if self._sse else b"]")
            case StreamError(message=message, type=type_):
                return self.error(message, type_)
            case _:
                assert_never(ev)

    def _call_done(self, index: int) -> bytes:
        # functionCall carries parsed args, so a call goes out whole once its JSON is complete
        call = self._tools.pop(index, None)
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

    def error(self, message: str, type_: str = "api_error") -> bytes:
        self.done = True
        code, status = vocab.error_out(type_)
        out = self._frame({"error": {"code": code, "message": message, "status": status}})
        return out + (b"" if self._sse else b"]")


def _s(v: Any) -> str:
    return v if isinstance(v, str) else ""
