"""OpenAI Chat Completions streaming: `chat.completion.chunk` intake and rendering."""

from __future__ import annotations

import uuid
from typing import Any

from ccproxy.lightllm.ir import StopReason, Usage
from ccproxy.lightllm.sse import SSEEvent
from ccproxy.lightllm.stream.base import Renderer, SSEIntake, dumps, loads, log
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

_FINISH_TO_STOP: dict[str, StopReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
_STOP_TO_FINISH: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "error": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def usage_from_openai(u: dict[str, Any]) -> Usage:
    return Usage(
        input_tokens=u.get("prompt_tokens") or 0,
        output_tokens=u.get("completion_tokens") or 0,
        cache_read_tokens=(u.get("prompt_tokens_details") or {}).get("cached_tokens") or 0,
        reasoning_tokens=(u.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0,
    )


def usage_to_openai(u: Usage | None) -> dict[str, Any]:
    u = u or Usage()
    return {
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cache_read_tokens},
        "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
    }


class OpenAIChatIntake(SSEIntake):
    wire = "openai"

    def __init__(self) -> None:
        super().__init__()
        self._started = False
        self._tools: dict[int, int] = {}  # provider tool_calls[].index → IR ordinal
        self._open_tools: list[int] = []
        self._finish: StopReason | None = None
        self._refusal = False

    def on_event(self, ev: SSEEvent) -> list[StreamEvent]:
        if self.finished:
            return []
        if ev.data.strip() == "[DONE]":
            return self._end()
        d = loads(ev.data)
        if d.get("error"):
            err = d["error"] if isinstance(d["error"], dict) else {"message": str(d["error"])}
            self.finished = True
            return [StreamError(err.get("message", "upstream error"), err.get("type") or "api_error")]
        out: list[StreamEvent] = []
        if not self._started:
            self._started = True
            out.append(MessageStart(d.get("id", ""), d.get("model", "")))
        for choice in d.get("choices") or ():
            if choice.get("index", 0) != 0:
                log.debug("openai stream: choice %s dropped, only the first is converted", choice.get("index"))
                continue
            out.extend(self._delta(choice.get("delta") or {}))
            fr = choice.get("finish_reason")
            if fr:
                self._finish = _FINISH_TO_STOP.get(fr, "end_turn")
                out.extend(ToolCallEnd(i) for i in self._open_tools)
                self._open_tools.clear()
        if d.get("usage"):
            out.append(UsageUpdate(usage_from_openai(d["usage"])))
        return out

    def _delta(self, delta: dict[str, Any]) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        # reasoning_content (DeepSeek, vLLM) and reasoning (OpenRouter, Cerebras) carry thinking
        thinking = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(thinking, str) and thinking:
            out.append(ThinkingDelta(thinking))
        if delta.get("content"):
            out.append(TextDelta(delta["content"]))
        if delta.get("refusal"):
            self._refusal = True
            out.append(TextDelta(delta["refusal"]))
        for tc in delta.get("tool_calls") or ():
            idx = tc.get("index", 0)
            fn = tc.get("function") or {}
            if idx not in self._tools:
                ordinal = len(self._tools)
                self._tools[idx] = ordinal
                self._open_tools.append(ordinal)
                call_id = tc.get("id") or f"call_{uuid.uuid4().hex[:24]}"
                out.append(ToolCallStart(ordinal, call_id, fn.get("name", "")))
            if fn.get("arguments"):
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
        self._id = msg_id or f"chatcmpl-{uuid.uuid4().hex[:24]}"
        if model:
            self._model = model
        return self._chunk({"role": "assistant", "content": ""})

    def event(self, ev: StreamEvent) -> bytes:
        if isinstance(ev, MessageStart):
            if ev.usage is not None:
                self._usage = ev.usage
            return b"" if self._started else self._start(ev.id, ev.model)
        pre = b"" if self._started or isinstance(ev, (UsageUpdate, StreamError)) else self._start()
        if isinstance(ev, TextDelta):
            return pre + (self._chunk({"content": ev.text}) if ev.text else b"")
        if isinstance(ev, ThinkingDelta):
            # Chat Completions has no reasoning field; `reasoning_content` is the de-facto
            # extension (DeepSeek, vLLM) that reasoning-aware clients read
            return pre + (self._chunk({"reasoning_content": ev.text}) if ev.text else b"")
        if isinstance(ev, (ThinkingSignature, RedactedThinking)):
            self.drop_signature_once("openai chat")
            return pre
        if isinstance(ev, ToolCallStart):
            self._tool_seen.add(ev.index)
            call = {
                "index": ev.index,
                "id": ev.id,
                "type": "function",
                "function": {"name": ev.name, "arguments": ""},
            }
            return pre + self._chunk({"tool_calls": [call]})
        if isinstance(ev, ToolCallDelta):
            if ev.index not in self._tool_seen:
                raise ConversionError(f"tool call {ev.index} arguments before its start")
            if not ev.arguments:
                return pre
            return pre + self._chunk({"tool_calls": [{"index": ev.index, "function": {"arguments": ev.arguments}}]})
        if isinstance(ev, ToolCallEnd):
            return pre
        if isinstance(ev, UsageUpdate):
            self._usage = ev.usage
            return pre
        if isinstance(ev, Stop):
            self.done = True
            out = pre + self._chunk({}, _STOP_TO_FINISH.get(ev.reason, "stop"))
            if self._ctx.include_usage:
                usage_chunk = {
                    "id": self._id,
                    "object": "chat.completion.chunk",
                    "created": self._ctx.created,
                    "model": self._model,
                    "choices": [],
                    "usage": usage_to_openai(self._usage),
                }
                out += b"data: " + dumps(usage_chunk).encode() + b"\n\n"
            return out + b"data: [DONE]\n\n"
        if isinstance(ev, StreamError):
            return pre + self.error(ev.message, ev.type)
        raise ConversionError(f"unknown stream event {ev!r}")

    def error(self, message: str, type_: str = "api_error") -> bytes:
        self.done = True
        # The OpenAI SDK raises APIError on a data chunk holding an `error` object.
        err = {"error": {"message": message, "type": _error_type(type_), "param": None, "code": None}}
        return b"data: " + dumps(err).encode() + b"\n\ndata: [DONE]\n\n"


def _error_type(t: str) -> str:
    return {
        "overloaded_error": "server_error",
        "api_error": "server_error",
        "rate_limit_error": "rate_limit_exceeded",
    }.get(t, t or "server_error")
