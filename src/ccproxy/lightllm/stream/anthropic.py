"""Anthropic Messages streaming: intake of its SSE grammar and rendering into it."""

from __future__ import annotations

import uuid
from typing import Any

from ccproxy.lightllm.ir import StopReason, Usage
from ccproxy.lightllm.sse import SSEEvent, encode_sse
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

_STOP_REASONS: frozenset[str] = frozenset(
    {"end_turn", "max_tokens", "stop_sequence", "tool_use", "refusal", "pause_turn"}
)
_ERROR_TYPES: frozenset[str] = frozenset(
    {
        "api_error",
        "overloaded_error",
        "rate_limit_error",
        "invalid_request_error",
        "authentication_error",
        "permission_error",
        "not_found_error",
        "request_too_large",
    }
)


def usage_from_anthropic(u: dict[str, Any]) -> Usage:
    # Anthropic's input_tokens excludes cache reads and writes; the IR counts them in.
    cache_read = u.get("cache_read_input_tokens") or 0
    cache_write = u.get("cache_creation_input_tokens") or 0
    return Usage(
        input_tokens=(u.get("input_tokens") or 0) + cache_read + cache_write,
        output_tokens=u.get("output_tokens") or 0,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
    )


def usage_to_anthropic(u: Usage | None) -> dict[str, int]:
    u = u or Usage()
    return {
        "input_tokens": max(u.input_tokens - u.cache_read_tokens - u.cache_write_tokens, 0),
        "cache_creation_input_tokens": u.cache_write_tokens,
        "cache_read_input_tokens": u.cache_read_tokens,
        "output_tokens": u.output_tokens,
    }


class AnthropicIntake(SSEIntake):
    wire = "anthropic"

    def __init__(self) -> None:
        super().__init__()
        self._blocks: dict[int, tuple[str, int]] = {}  # block index → (kind, tool ordinal)
        self._tools = 0
        self._stop: StopReason = "end_turn"
        self._usage: Usage | None = None

    def on_event(self, ev: SSEEvent) -> list[StreamEvent]:
        if self.finished:
            return []
        d = loads(ev.data)
        t = d.get("type", ev.event)
        if t == "content_block_delta":
            return self._delta(d)
        if t == "message_start":
            m = d.get("message") or {}
            self._usage = usage_from_anthropic(m.get("usage") or {})
            return [MessageStart(m.get("id", ""), m.get("model", ""), self._usage)]
        if t == "content_block_start":
            return self._block_start(d.get("index", 0), d.get("content_block") or {})
        if t == "content_block_stop":
            kind, ordinal = self._blocks.pop(d.get("index", 0), ("", -1))
            return [ToolCallEnd(ordinal)] if kind == "tool_use" else []
        if t == "message_delta":
            delta = d.get("delta") or {}
            reason = delta.get("stop_reason")
            if reason in _STOP_REASONS:
                self._stop = reason
            if d.get("usage"):
                # message_delta usage is cumulative; fields it omits keep message_start's values
                prev = self._usage or Usage()
                u = dict(d["usage"])
                merged = usage_from_anthropic(
                    {
                        "input_tokens": u.get("input_tokens")
                        if u.get("input_tokens") is not None
                        else prev.input_tokens - prev.cache_read_tokens - prev.cache_write_tokens,
                        "cache_read_input_tokens": u.get("cache_read_input_tokens")
                        if u.get("cache_read_input_tokens") is not None
                        else prev.cache_read_tokens,
                        "cache_creation_input_tokens": u.get("cache_creation_input_tokens")
                        if u.get("cache_creation_input_tokens") is not None
                        else prev.cache_write_tokens,
                        "output_tokens": u.get("output_tokens") or prev.output_tokens,
                    }
                )
                self._usage = merged
                return [UsageUpdate(merged)]
            return []
        if t == "message_stop":
            self.finished = True
            return [Stop(self._stop)]
        if t == "error":
            err = d.get("error") or {}
            self.finished = True
            return [StreamError(err.get("message", "upstream error"), err.get("type", "api_error"))]
        return []  # ping and event types added later

    def _block_start(self, index: int, block: dict[str, Any]) -> list[StreamEvent]:
        kind = block.get("type", "")
        if kind == "text":
            self._blocks[index] = ("text", -1)
            return [TextDelta(block["text"])] if block.get("text") else []
        if kind == "thinking":
            self._blocks[index] = ("thinking", -1)
            out: list[StreamEvent] = []
            if block.get("thinking"):
                out.append(ThinkingDelta(block["thinking"]))
            if block.get("signature"):
                out.append(ThinkingSignature(block["signature"]))
            return out
        if kind == "redacted_thinking":
            self._blocks[index] = ("redacted", -1)
            return [RedactedThinking(block.get("data", ""))]
        if kind == "tool_use":
            ordinal = self._tools
            self._tools += 1
            self._blocks[index] = ("tool_use", ordinal)
            out = [ToolCallStart(ordinal, block.get("id", ""), block.get("name", ""))]
            if block.get("input"):
                out.append(ToolCallDelta(ordinal, dumps(block["input"])))
            return out
        # server tools (web search, code execution, MCP) run at Anthropic; other formats cannot
        # express their blocks, and the client must not try to execute them.
        log.debug("anthropic stream: %s block dropped in cross-format conversion", kind)
        self._blocks[index] = ("skip", -1)
        return []

    def _delta(self, d: dict[str, Any]) -> list[StreamEvent]:
        delta = d.get("delta") or {}
        t = delta.get("type")
        kind, ordinal = self._blocks.get(d.get("index", 0), ("", -1))
        if kind == "skip":
            return []
        if t == "text_delta":
            return [TextDelta(delta.get("text", ""))]
        if t == "thinking_delta":
            return [ThinkingDelta(delta.get("thinking", ""))]
        if t == "signature_delta":
            return [ThinkingSignature(delta.get("signature", ""))]
        if t == "input_json_delta":
            if kind != "tool_use":
                raise ConversionError(f"anthropic stream: input_json_delta for block {d.get('index')}")
            pj = delta.get("partial_json", "")
            return [ToolCallDelta(ordinal, pj)] if pj else []
        return []  # citations_delta and future delta kinds


def _event(name: str, payload: dict[str, Any]) -> bytes:
    return encode_sse(dumps(payload), name)


class AnthropicRenderer(Renderer):
    def __init__(self, ctx: RequestContext) -> None:
        super().__init__()
        self._ctx = ctx
        self._started = False
        self._index = -1
        self._open: str | None = None  # kind of the open content block
        self._open_tool = -1
        self._tool_blocks: dict[int, int] = {}  # tool ordinal → block index
        self._closed_tools: set[int] = set()
        self._usage: Usage | None = None

    def _start(self, msg_id: str = "", model: str = "", usage: Usage | None = None) -> bytes:
        self._started = True
        if usage is not None:
            self._usage = usage
        message: dict[str, Any] = {
            "id": msg_id or f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": model or self._ctx.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_to_anthropic(usage),
        }
        return _event("message_start", {"type": "message_start", "message": message}) + _event("ping", {"type": "ping"})

    def _close_block(self) -> bytes:
        if self._open is None:
            return b""
        if self._open == "tool_use":
            self._closed_tools.add(self._open_tool)
            self._open_tool = -1
        self._open = None
        return _event("content_block_stop", {"type": "content_block_stop", "index": self._index})

    def _open_block(self, kind: str, block: dict[str, Any]) -> bytes:
        out = self._close_block()
        self._index += 1
        self._open = kind
        return out + _event(
            "content_block_start",
            {"type": "content_block_start", "index": self._index, "content_block": block},
        )

    def _delta(self, delta: dict[str, Any]) -> bytes:
        # the hot path: one of these per token, so the fixed part is not re-encoded
        return (
            "event: content_block_delta\n"
            f'data: {{"type":"content_block_delta","index":{self._index},"delta":{dumps(delta)}}}\n\n'
        ).encode()

    def event(self, ev: StreamEvent) -> bytes:
        if isinstance(ev, MessageStart):
            return b"" if self._started else self._start(ev.id, ev.model, ev.usage)
        pre = b"" if self._started or isinstance(ev, (UsageUpdate, StreamError)) else self._start()
        if isinstance(ev, TextDelta):
            if not ev.text:
                return pre
            if self._open != "text":
                pre += self._open_block("text", {"type": "text", "text": ""})
            return pre + self._delta({"type": "text_delta", "text": ev.text})
        if isinstance(ev, ThinkingDelta):
            if self._open != "thinking":
                pre += self._open_block("thinking", {"type": "thinking", "thinking": "", "signature": ""})
            return pre + self._delta({"type": "thinking_delta", "thinking": ev.text})
        if isinstance(ev, ThinkingSignature):
            if self._open != "thinking":
                pre += self._open_block("thinking", {"type": "thinking", "thinking": "", "signature": ""})
            out = pre + self._delta({"type": "signature_delta", "signature": ev.signature})
            # a signature seals its thinking block: later thinking starts a new one
            return out + self._close_block()
        if isinstance(ev, RedactedThinking):
            out = pre + self._open_block("redacted_thinking", {"type": "redacted_thinking", "data": ev.data})
            return out + self._close_block()
        if isinstance(ev, ToolCallStart):
            out = pre + self._open_block("tool_use", {"type": "tool_use", "id": ev.id, "name": ev.name, "input": {}})
            self._open_tool = ev.index
            self._tool_blocks[ev.index] = self._index
            return out
        if isinstance(ev, ToolCallDelta):
            if not ev.arguments:
                return pre
            if self._open != "tool_use" or self._open_tool != ev.index:
                # Anthropic blocks cannot interleave; OpenAI providers that interleave parallel
                # tool-call deltas cannot be re-streamed faithfully.
                raise ConversionError(f"tool call {ev.index} arguments arrived after its block closed")
            return pre + self._delta({"type": "input_json_delta", "partial_json": ev.arguments})
        if isinstance(ev, ToolCallEnd):
            if self._open == "tool_use" and self._open_tool == ev.index:
                return pre + self._close_block()
            return pre
        if isinstance(ev, UsageUpdate):
            self._usage = ev.usage
            return pre
        if isinstance(ev, Stop):
            return pre + self._stop(ev.reason)
        if isinstance(ev, StreamError):
            return pre + self.error(ev.message, ev.type)
        raise ConversionError(f"unknown stream event {ev!r}")

    def _stop(self, reason: StopReason) -> bytes:
        out = self._close_block()
        self.done = True
        if reason == "error":
            reason = "end_turn"
        usage = usage_to_anthropic(self._usage)
        return (
            out
            + _event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": reason, "stop_sequence": None},
                    "usage": usage,
                },
            )
            + _event("message_stop", {"type": "message_stop"})
        )

    def error(self, message: str, type_: str = "api_error") -> bytes:
        self.done = True
        # the error event is terminal in Anthropic's grammar: the SDK raises on it
        return _event(
            "error",
            {
                "type": "error",
                "error": {"type": type_ if type_ in _ERROR_TYPES else "api_error", "message": message},
            },
        )
