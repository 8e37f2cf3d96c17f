"""OpenAI Chat Completions streaming: `chat.completion.chunk` intake and rendering."""

from __future__ import annotations

import uuid
from typing import Any, assert_never

from ccproxy.lightllm import citations, ids
from ccproxy.lightllm.ir import StopReason, Usage
from ccproxy.lightllm.sse import SSEEvent
from ccproxy.lightllm.stream.base import Renderer, SSEIntake, dumps, loads, log
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
from ccproxy.lightllm.vocab import openai_chat as vocab


class OpenAIChatIntake(SSEIntake):
    wire = "openai"

    def __init__(self) -> None:
        super().__init__()
        self._started = False
        self._tools: dict[int, int] = {}  # provider tool_calls[].index → IR ordinal
        self._open_tools: list[int] = []
        self._finish: StopReason | None = None
        self._refusal = False
        self._sources: set[str] = set()  # Perplexity repeats its sources in every chunk

    def on_event(self, ev: SSEEvent) -> list[StreamEvent]:
        if self.finished:
            return []
        if ev.data.strip() == "[DONE]":
            return self._end()
        d = loads(ev.data)
        if d.get("error"):
            err = d["error"] if isinstance(d["error"], dict) else {"message": str(d["error"])}
            self.finished = True
            message = _s(err.get("message")) or "upstream error"
            return [StreamError(message, vocab.error_type_in(err.get("type"), err.get("code")))]
        out: list[StreamEvent] = []
        if not self._started:
            self._started = True
            out.append(MessageStart(_s(d.get("id")), _s(d.get("model"))))
        for choice in d.get("choices") or ():
            if choice.get("index", 0) != 0:
                log.debug("openai stream: choice %s dropped, only the first is converted", choice.get("index"))
                continue
            out.extend(self._delta(choice.get("delta") or {}))
            fr = choice.get("finish_reason")
            if fr:
                self._finish = vocab.finish_in(fr) or "end_turn"
                out.extend(ToolCallEnd(i) for i in self._open_tools)
                self._open_tools.clear()
        out.extend(self._perplexity(d))
        if d.get("usage"):
            out.append(UsageUpdate(vocab.usage_in(d["usage"])))
        return out

    def _perplexity(self, d: dict[str, Any]) -> list[StreamEvent]:
        if "search_results" not in d and "citations" not in d:
            return []
        out: list[StreamEvent] = []
        for c in citations.perplexity_in(d):
            if c.url is not None and c.url not in self._sources:
                self._sources.add(c.url)
                out.append(CitationAdded(c))
        return out

    def _delta(self, delta: dict[str, Any]) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        # reasoning_content (DeepSeek, vLLM) and reasoning (OpenRouter, Cerebras) carry thinking
        thinking = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(thinking, str) and thinking:
            out.append(ThinkingDelta(thinking))
        if isinstance(delta.get("content"), str) and delta["content"]:
            out.append(TextDelta(delta["content"]))
        if delta.get("refusal"):
            self._refusal = True
            out.append(TextDelta(delta["refusal"]))
        for a in delta.get("annotations") or ():
            # url_citation offsets index the message content: every TextDelta joined
            c = citations.url_annotation_in(a, nested=True)
            if c is not None:
                out.append(CitationAdded(c))
        for tc in delta.get("tool_calls") or ():
            idx = tc.get("index", 0)
            fn = tc.get("function") or {}
            if idx not in self._tools:
                ordinal = len(self._tools)
                self._tools[idx] = ordinal
                self._open_tools.append(ordinal)
                call_id = _s(tc.get("id")) or f"call_{uuid.uuid4().hex[:24]}"
                out.append(ToolCallStart(ordinal, call_id, _s(fn.get("name"))))
            if isinstance(fn.get("arguments"), str) and fn["arguments"]:
                out.append(ToolCallDelta(self._tools[idx], fn["arguments"]))
        return out

    def _end(self) -> list[StreamEvent]:
        self.finished = True
        out: list[StreamEvent] = [ToolCallEnd(i) for i in self._open_tools]
        self._open_tools.clear()
        reason = self._finish or "end_turn"
        if self._refusal and reason == "end_turn":
            reason = "refusal"
        out.append(Stop(reason))
        return out

    def on_close(self) -> list[StreamEvent]:
        # some OpenAI-compatible servers end after finish_reason without `[DONE]`
        if not self.finished and self._finish is not None:
            return self._end()
        return super().on_close()


class OpenAIChatRenderer(Renderer):
    def __init__(self, ctx: RequestContext) -> None:
        super().__init__()
        self._ctx = ctx
        self._id = ""
        self._model = ctx.model
        self._started = False
        self._usage: Usage | None = None
        self._tool_seen: set[int] = set()
        self._prefix: str | None = None
        self._chars = 0  # content characters so far: where citations point
        self._annotations: list[dict[str, Any]] = []

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        if self._prefix is None:
            # every chunk repeats id/created/model: build that part of the JSON once
            head = {"id": self._id, "object": "chat.completion.chunk", "created": self._ctx.created}
            self._prefix = "data: " + dumps(head)[:-1] + ',"model":' + dumps(self._model) + ","
            self._prefix += '"choices":[{"index":0,"delta":'
        tail = (
            ',"logprobs":null,"finish_reason":null}]}\n\n'
            if finish is None
            else (',"logprobs":null,"finish_reason":' + dumps(finish) + "}]}\n\n")
        )
        return (self._prefix + dumps(delta) + tail).encode()

    def _start(self, msg_id: str = "", model: str = "") -> bytes:
        self._started = True
        self.upstream_id = msg_id
        self._id = ids.client_id("openai", msg_id)
        if model:
            self._model = model
        return self._chunk({"role": "assistant", "content": ""})

    def event(self, ev: StreamEvent) -> bytes:
        if isinstance(ev, MessageStart):
            if ev.usage is not None:
                self._usage = ev.usage
            return b"" if self._started else self._start(ev.id, ev.model)
        pre = b"" if self._started or isinstance(ev, (UsageUpdate, StreamError)) else self._start()
        match ev:
            case TextDelta(text=text):
                self._chars += len(text)
                return pre + (self._chunk({"content": text}) if text else b"")
            case ThinkingDelta(text=text):
                # Chat Completions has no reasoning field; `reasoning_content` is the de-facto
                # extension (DeepSeek, vLLM) that reasoning-aware clients read
                return pre + (self._chunk({"reasoning_content": text}) if text else b"")
            case ThinkingSignature() | RedactedThinking():
                self.drop_signature_once("openai chat")
                return pre
            case ToolCallStart(index=index, id=call_id, name=name):
                self._tool_seen.add(index)
                call = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
                return pre + self._chunk({"tool_calls": [call]})
            case ToolCallDelta(index=index, arguments=args):
                if index not in self._tool_seen:
                    raise ConversionError(f"tool call {index} arguments before its start")
                if not args:
                    return pre
                return pre + self._chunk({"tool_calls": [{"index": index, "function": {"arguments": args}}]})
            case ToolCallEnd():
                return pre
            case CitationAdded(citation=c):
                # offsets index the content streamed so far; without them: all of it
                whole = c.start is None or c.end is None
                a = citations.chat_annotation(c, 0 if whole else c.start or 0, self._chars if whole else c.end or 0)
                if a is not None:
                    self._annotations.append(a)
                return pre
            case UsageUpdate(usage=usage):
                self._usage = usage
                return pre
            case Stop(reason=reason):
                return pre + self._stop(reason)
            case StreamError(message=message, type=type_):
                return pre + self.error(message, type_)
            case _:
                assert_never(ev)

    def _stop(self, reason: StopReason) -> bytes:
        self.done = True
        # one delta with every annotation: the SDK's accumulator merges a second list by index
        out = self._chunk({"annotations": self._annotations}) if self._annotations else b""
        out += self._chunk({}, vocab.finish_out(reason))
        if self._ctx.include_usage:
            usage_chunk = {
                "id": self._id,
                "object": "chat.completion.chunk",
                "created": self._ctx.created,
                "model": self._model,
                "choices": [],
                "usage": vocab.usage_out(self._usage),
            }
            out += b"data: " + dumps(usage_chunk).encode() + b"\n\n"
        return out + b"data: [DONE]\n\n"

    def error(self, message: str, type_: str = "api_error") -> bytes:
        self.done = True
        # The OpenAI SDK raises APIError on a data chunk holding an `error` object.
        err = {
            "error": {
                "message": message,
                "type": vocab.error_type_out(type_),
                "param": None,
                "code": vocab.error_code_out(type_),
            }
        }
        return b"data: " + dumps(err).encode() + b"\n\ndata: [DONE]\n\n"


def _s(v: Any) -> str:
    return v if isinstance(v, str) else ""
