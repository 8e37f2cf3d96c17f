"""Anthropic Messages streaming: intake of its SSE grammar and rendering into it."""

from __future__ import annotations

from typing import Any, assert_never

from ccproxy.lightllm import citations, ids
from ccproxy.lightllm.ir import Citation, StopReason, Usage
from ccproxy.lightllm.sse import SSEEvent, encode_sse
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
from ccproxy.lightllm.stream.held_calls import HeldCalls
from ccproxy.lightllm.vocab import anthropic as vocab


class AnthropicIntake(SSEIntake):
    wire = "anthropic"

    def __init__(self) -> None:
        super().__init__()
        self._blocks: dict[int, tuple[str, int]] = {}  # block index → (kind, tool ordinal)
        self._tools = 0
        self._stop: StopReason = "end_turn"
        self._usage: Usage | None = None
        self._chars = 0  # text characters so far: citations point into them
        self._block_text_start = 0
        self._block_citations: list[Citation] = []

    def on_event(self, ev: SSEEvent) -> list[StreamEvent]:
        if self.finished:
            return []
        d = loads(ev.data)
        t = d.get("type", ev.event)
        if t == "content_block_delta":
            return self._delta(d)
        if t == "message_start":
            m = d.get("message") or {}
            self._usage = vocab.usage_in(m.get("usage"))
            return [MessageStart(_s(m.get("id")), _s(m.get("model")), self._usage)]
        if t == "content_block_start":
            return self._block_start(d.get("index", 0), d.get("content_block") or {})
        if t == "content_block_stop":
            kind, ordinal = self._blocks.pop(d.get("index", 0), ("", -1))
            if kind == "text":
                return self._block_cited()
            return [ToolCallEnd(ordinal)] if kind == "tool_use" else []
        if t == "message_delta":
            delta = d.get("delta") or {}
            reason = delta.get("stop_reason")
            if reason in vocab.STOP_REASONS:
                self._stop = reason
            elif vocab.stop_in(reason) is not None:
                self._stop = vocab.stop_in(reason) or "end_turn"
            if d.get("usage"):
                self._usage = vocab.usage_merge_delta(self._usage, d["usage"])
                return [UsageUpdate(self._usage)]
            return []
        if t == "message_stop":
            self.finished = True
            return [Stop(self._stop)]
        if t == "error":
            err = d.get("error") or {}
            self.finished = True
            return [StreamError(_s(err.get("message")) or "upstream error", vocab.error_type_in(err.get("type")))]
        return []  # ping and event types added later

    def _block_start(self, index: int, block: dict[str, Any]) -> list[StreamEvent]:
        kind = block.get("type", "")
        if kind == "text":
            self._blocks[index] = ("text", -1)
            self._block_text_start = self._chars
            self._block_citations = [citations.anthropic_in(c) for c in block.get("citations") or ()]
            return self._text(block.get("text"))
        if kind == "thinking":
            self._blocks[index] = ("thinking", -1)
            out: list[StreamEvent] = []
            if block.get("thinking"):
                out.append(ThinkingDelta(_s(block["thinking"])))
            if block.get("signature"):
                out.append(ThinkingSignature(_s(block["signature"])))
            return out
        if kind == "redacted_thinking":
            self._blocks[index] = ("redacted", -1)
            return [RedactedThinking(_s(block.get("data")))]
        if kind == "tool_use":
            ordinal = self._tools
            self._tools += 1
            self._blocks[index] = ("tool_use", ordinal)
            out = [ToolCallStart(ordinal, _s(block.get("id")), _s(block.get("name")))]
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
            return self._text(delta.get("text"))
        if t == "citations_delta":
            # Anthropic cites the block the delta belongs to; it is placed when the block ends
            self._block_citations.append(citations.anthropic_in(delta.get("citation")))
            return []
        if t == "thinking_delta":
            return [ThinkingDelta(_s(delta.get("thinking")))]
        if t == "signature_delta":
            return [ThinkingSignature(_s(delta.get("signature")))]
        if t == "input_json_delta":
            if kind != "tool_use":
                raise ConversionError(f"anthropic stream: input_json_delta for block {d.get('index')}")
            pj = _s(delta.get("partial_json"))
            return [ToolCallDelta(ordinal, pj)] if pj else []
        return []  # future delta kinds

    def _text(self, text: Any) -> list[StreamEvent]:
        if not isinstance(text, str) or not text:
            return []
        self._chars += len(text)
        return [TextDelta(text)]

    def _block_cited(self) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for c in self._block_citations:
            c.start, c.end = self._block_text_start, self._chars
            out.append(CitationAdded(c))
        self._block_citations = []
        return out


def _s(v: Any) -> str:
    return v if isinstance(v, str) else ""


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
        self._pending: HeldCalls[tuple[str, str]] = HeldCalls()  # (id, name) of calls waiting for a block
        self._closed_tools: set[int] = set()
        self._usage: Usage | None = None
        self._text: list[str] = []  # the answer's text, for cited_text of offset citations

    def _start(self, msg_id: str = "", model: str = "", usage: Usage | None = None) -> bytes:
        self._started = True
        self.upstream_id = msg_id
        if usage is not None:
            self._usage = usage
        message: dict[str, Any] = {
            "id": ids.client_id("anthropic", msg_id),
            "type": "message",
            "role": "assistant",
            "model": model or self._ctx.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": vocab.usage_out(usage),
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

    def _open_tool_block(self, ordinal: int, call_id: str, name: str) -> bytes:
        out = self._open_block("tool_use", {"type": "tool_use", "id": call_id, "name": name, "input": {}})
        self._open_tool = ordinal
        return out

    def _flush_pending(self, everything: bool = False) -> bytes:
        return self._pending.flush(
            lambda ordinal, call: self._open_tool_block(ordinal, *call),
            lambda _call, args: self._delta({"type": "input_json_delta", "partial_json": args}),
            self._close_block,
            everything,
        )

    def _leave_tools(self) -> bytes:
        """Before a block of another kind: the open call and every waiting one are done."""
        if self._open != "tool_use" and not self._pending:
            return b""
        return self._close_block() + self._flush_pending(everything=True)

    def event(self, ev: StreamEvent) -> bytes:
        if isinstance(ev, MessageStart):
            return b"" if self._started else self._start(ev.id, ev.model, ev.usage)
        pre = b"" if self._started or isinstance(ev, (UsageUpdate, StreamError)) else self._start()
        match ev:
            case TextDelta(text=text):
                if not text:
                    return pre
                self._text.append(text)
                if self._open != "text":
                    pre += self._leave_tools() + self._open_block("text", {"type": "text", "text": ""})
                return pre + self._delta({"type": "text_delta", "text": text})
            case ThinkingDelta(text=text):
                if self._open != "thinking":
                    pre += self._leave_tools() + self._open_block(
                        "thinking", {"type": "thinking", "thinking": "", "signature": ""}
                    )
                return pre + self._delta({"type": "thinking_delta", "thinking": text})
            case ThinkingSignature(signature=sig):
                if self._open != "thinking":
                    pre += self._leave_tools() + self._open_block(
                        "thinking", {"type": "thinking", "thinking": "", "signature": ""}
                    )
                out = pre + self._delta({"type": "signature_delta", "signature": sig})
                # a signature seals its thinking block: later thinking starts a new one
                return out + self._close_block()
            case RedactedThinking(data=data):
                out = pre + self._leave_tools()
                out += self._open_block("redacted_thinking", {"type": "redacted_thinking", "data": data})
                return out + self._close_block()
            case ToolCallStart(index=index, id=call_id, name=name):
                if self._open == "tool_use" or self._pending:
                    self._pending.hold(index, (call_id, name))
                    return pre
                return pre + self._open_tool_block(index, call_id, name)
            case ToolCallDelta(index=index, arguments=args):
                if not args:
                    return pre
                if self._open == "tool_use" and self._open_tool == index:
                    return pre + self._delta({"type": "input_json_delta", "partial_json": args})
                if index in self._pending:
                    self._pending.add_args(index, args)
                    return pre
                # only a call whose block was closed by text in between gets here
                raise ConversionError(f"tool call {index} arguments arrived after its block closed")
            case ToolCallEnd(index=index):
                if self._open == "tool_use" and self._open_tool == index:
                    return pre + self._close_block() + self._flush_pending()
                self._pending.end(index)
                return pre
            case CitationAdded(citation=c):
                return pre + self._citation(c)
            case UsageUpdate(usage=usage):
                self._usage = usage
                return pre
            case Stop(reason=reason):
                return pre + self._leave_tools() + self._stop(reason)
            case StreamError(message=message, type=type_):
                return pre + self.error(message, type_)
            case _:
                assert_never(ev)

    def _citation(self, c: Citation) -> bytes:
        # Anthropic cites the open text block; a source of text already closed goes on an empty
        # text block after it (offsets have no place in Anthropic's grammar: cited_text says it)
        text = "".join(self._text)
        cited = text[c.start : c.end] if c.start is not None and c.end is not None else ""
        rendered = citations.anthropic_out(c, cited)
        if rendered is None:
            return b""
        out = b""
        if self._open != "text":
            out += self._leave_tools() + self._open_block("text", {"type": "text", "text": ""})
        return out + self._delta({"type": "citations_delta", "citation": rendered})

    def _stop(self, reason: StopReason) -> bytes:
        out = self._close_block()
        self.done = True
        usage = vocab.usage_out(self._usage)
        return (
            out
            + _event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": vocab.stop_out(reason), "stop_sequence": None},
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
            {"type": "error", "error": {"type": vocab.error_type_in(type_), "message": message}},
        )
