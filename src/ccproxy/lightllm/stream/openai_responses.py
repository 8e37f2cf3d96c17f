"""OpenAI Responses streaming: `response.*` event intake and rendering (with sequence_number)."""

from __future__ import annotations

import uuid
from typing import Any

from ccproxy.lightllm.ir import StopReason, Usage
from ccproxy.lightllm.sse import SSEEvent, encode_sse
from ccproxy.lightllm.stream.base import Renderer, SSEIntake, dumps, loads
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


def usage_from_responses(u: dict[str, Any]) -> Usage:
    return Usage(
        input_tokens=u.get("input_tokens") or 0,
        output_tokens=u.get("output_tokens") or 0,
        cache_read_tokens=(u.get("input_tokens_details") or {}).get("cached_tokens") or 0,
        reasoning_tokens=(u.get("output_tokens_details") or {}).get("reasoning_tokens") or 0,
    )


def usage_to_responses(u: Usage | None) -> dict[str, Any]:
    u = u or Usage()
    return {
        "input_tokens": u.input_tokens,
        "input_tokens_details": {"cached_tokens": u.cache_read_tokens},
        "output_tokens": u.output_tokens,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "total_tokens": u.input_tokens + u.output_tokens,
    }


class OpenAIResponsesIntake(SSEIntake):
    wire = "openai_responses"

    def __init__(self) -> None:
        super().__init__()
        self._tools: dict[int, int] = {}  # output_index → IR ordinal
        self._args_seen: set[int] = set()
        self._thinking_seen: set[int] = set()
        self._refusal = False

    def on_event(self, ev: SSEEvent) -> list[StreamEvent]:
        if self.finished:
            return []
        d = loads(ev.data)
        t = d.get("type") or ev.event
        oi = d.get("output_index", 0)
        if t == "response.output_text.delta":
            return [TextDelta(d.get("delta", ""))] if d.get("delta") else []
        if t in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            self._thinking_seen.add(oi)
            return [ThinkingDelta(d.get("delta", ""))] if d.get("delta") else []
        if t == "response.function_call_arguments.delta":
            if oi not in self._tools:
                raise ConversionError(f"responses stream: arguments for unknown output {oi}")
            self._args_seen.add(oi)
            return [ToolCallDelta(self._tools[oi], d["delta"])] if d.get("delta") else []
        if t == "response.created":
            r = d.get("response") or {}
            return [MessageStart(r.get("id", ""), r.get("model", ""))]
        if t == "response.output_item.added":
            item = d.get("item") or {}
            if item.get("type") == "function_call":
                ordinal = len(self._tools)
                self._tools[oi] = ordinal
                return [ToolCallStart(ordinal, item.get("call_id") or item.get("id", ""), item.get("name", ""))]
            return []
        if t == "response.reasoning_summary_part.added" and d.get("summary_index", 0) > 0:
            return [ThinkingDelta("\n\n")]  # keep separate summary parts apart once joined
        if t == "response.refusal.delta":
            self._refusal = True
            return [TextDelta(d.get("delta", ""))] if d.get("delta") else []
        if t == "response.output_item.done":
            return self._item_done(oi, d.get("item") or {})
        if t in ("response.completed", "response.incomplete"):
            return self._complete(d.get("response") or {})
        if t == "response.failed":
            self.finished = True
            err = (d.get("response") or {}).get("error") or {}
            return [StreamError(err.get("message", "response failed"), err.get("code") or "api_error")]
        if t == "error":
            self.finished = True
            return [StreamError(d.get("message", "upstream error"), d.get("code") or "api_error")]
        return []

    def _item_done(self, oi: int, item: dict[str, Any]) -> list[StreamEvent]:
        kind = item.get("type")
        out: list[StreamEvent] = []
        if kind == "function_call" and oi in self._tools:
            # some providers send the arguments only in the done item
            if oi not in self._args_seen and item.get("arguments"):
                out.append(ToolCallDelta(self._tools[oi], item["arguments"]))
            out.append(ToolCallEnd(self._tools[oi]))
        elif kind == "reasoning":
            if oi not in self._thinking_seen:
                text = "\n\n".join(s.get("text", "") for s in item.get("summary") or () if s.get("text"))
                if text:
                    out.append(ThinkingDelta(text))
            if item.get("encrypted_content"):
                out.append(ThinkingSignature(item["encrypted_content"]))
        return out

    def _complete(self, r: dict[str, Any]) -> list[StreamEvent]:
        self.finished = True
        out: list[StreamEvent] = []
        if r.get("usage"):
            out.append(UsageUpdate(usage_from_responses(r["usage"])))
        reason: StopReason = "end_turn"
        if r.get("status") == "incomplete":
            why = (r.get("incomplete_details") or {}).get("reason")
            reason = "refusal" if why == "content_filter" else "max_tokens"
        elif self._tools or any(i.get("type") == "function_call" for i in r.get("output") or ()):
            reason = "tool_use"
        elif self._refusal:
            reason = "refusal"
        out.append(Stop(reason))
        return out


class OpenAIResponsesRenderer(Renderer):
    def __init__(self, ctx: RequestContext) -> None:
        super().__init__()
        self._ctx = ctx
        self._seq = 0
        self._started = False
        self._id = ""
        self._model = ctx.model
        self._usage: Usage | None = None
        self._output: list[dict[str, Any]] = []  # finished items, in output_index order
        self._open: dict[str, Any] | None = None  # item being streamed
        self._open_kind = ""
        self._text = ""  # accumulated text of the open message / reasoning item
        self._tools: dict[int, dict[str, Any]] = {}  # IR ordinal → function_call item

    def _ev(self, payload: dict[str, Any]) -> bytes:
        payload["sequence_number"] = self._seq
        self._seq += 1
        return encode_sse(dumps(payload), payload["type"])

    def _response(self, status: str, output: list[dict[str, Any]], usage: dict[str, Any] | None) -> dict[str, Any]:
        return {
            "id": self._id,
            "object": "response",
            "created_at": self._ctx.created,
            "status": status,
            "error": None,
            "incomplete_details": None,
            "instructions": None,
            "model": self._model,
            "output": output,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "usage": usage,
        }

    def _start(self, msg_id: str = "", model: str = "") -> bytes:
        self._started = True
        self._id = msg_id if msg_id.startswith("resp") else f"resp_{msg_id or uuid.uuid4().hex}"
        if model:
            self._model = model
        return self._ev({"type": "response.created", "response": self._response("in_progress", [], None)}) + self._ev(
            {"type": "response.in_progress", "response": self._response("in_progress", [], None)}
        )

    def _delta_ev(self, kind: str, item_id: str, index_field: str, delta: str, extra: str = "") -> bytes:
        # the per-token events, formatted directly (ids are generated hex, safe to embed)
        seq = self._seq
        self._seq += 1
        return (
            f'event: {kind}\ndata: {{"type":"{kind}","item_id":"{item_id}",'
            f'"output_index":{len(self._output)},{index_field}"delta":{dumps(delta)}{extra},'
            f'"sequence_number":{seq}}}\n\n'
        ).encode()

    def _item_id(self, prefix: str) -> str:
        return f"{prefix}_{uuid.uuid4().hex}"

    def _close(self) -> bytes:
        item, kind = self._open, self._open_kind
        if item is None:
            return b""
        self._open = None
        oi = len(self._output)
        out = b""
        if kind == "message":
            part = {"type": "output_text", "text": self._text, "annotations": []}
            out += self._ev(
                {
                    "type": "response.output_text.done",
                    "item_id": item["id"],
                    "output_index": oi,
                    "content_index": 0,
                    "text": self._text,
                    "logprobs": [],
                }
            )
            out += self._ev(
                {
                    "type": "response.content_part.done",
                    "item_id": item["id"],
                    "output_index": oi,
                    "content_index": 0,
                    "part": part,
                }
            )
            item["content"] = [part]
        elif kind == "reasoning":
            part = {"type": "summary_text", "text": self._text}
            out += self._ev(
                {
                    "type": "response.reasoning_summary_text.done",
                    "item_id": item["id"],
                    "output_index": oi,
                    "summary_index": 0,
                    "text": self._text,
                }
            )
            out += self._ev(
                {
                    "type": "response.reasoning_summary_part.done",
                    "item_id": item["id"],
                    "output_index": oi,
                    "summary_index": 0,
                    "part": part,
                }
            )
            item["summary"] = [part]
        elif kind == "function_call":
            out += self._ev(
                {
                    "type": "response.function_call_arguments.done",
                    "item_id": item["id"],
                    "output_index": oi,
                    "arguments": item["arguments"],
                }
            )
        item["status"] = "completed"
        self._output.append(item)
        self._text = ""
        return out + self._ev({"type": "response.output_item.done", "output_index": oi, "item": item})

    def _open_item(self, kind: str, item: dict[str, Any]) -> bytes:
        out = self._close()
        self._open, self._open_kind, self._text = item, kind, ""
        oi = len(self._output)
        added = dict(item)
        if kind == "message":
            added["content"] = []
        elif kind == "reasoning":
            added["summary"] = []
        out += self._ev({"type": "response.output_item.added", "output_index": oi, "item": added})
        if kind == "message":
            out += self._ev(
                {
                    "type": "response.content_part.added",
                    "item_id": item["id"],
                    "output_index": oi,
                    "content_index": 0,
                    "part": {"type": "output_text", "text": "", "annotations": []},
                }
            )
        elif kind == "reasoning":
            out += self._ev(
                {
                    "type": "response.reasoning_summary_part.added",
                    "item_id": item["id"],
                    "output_index": oi,
                    "summary_index": 0,
                    "part": {"type": "summary_text", "text": ""},
                }
            )
        return out

    def event(self, ev: StreamEvent) -> bytes:
        if isinstance(ev, MessageStart):
            if ev.usage is not None:
                self._usage = ev.usage
            return b"" if self._started else self._start(ev.id, ev.model)
        pre = b"" if self._started or isinstance(ev, (UsageUpdate, StreamError)) else self._start()
        if isinstance(ev, TextDelta):
            if not ev.text:
                return pre
            if self._open_kind != "message" or self._open is None:
                pre += self._open_item(
                    "message",
                    {
                        "type": "message",
                        "id": self._item_id("msg"),
                        "status": "in_progress",
                        "role": "assistant",
                    },
                )
            self._text += ev.text
            assert self._open is not None
            return pre + self._delta_ev(
                "response.output_text.delta",
                self._open["id"],
                '"content_index":0,',
                ev.text,
                ',"logprobs":[]',
            )
        if isinstance(ev, (ThinkingDelta, ThinkingSignature)):
            if self._open_kind != "reasoning" or self._open is None or self._open.get("encrypted_content"):
                pre += self._open_item("reasoning", {"type": "reasoning", "id": self._item_id("rs")})
            assert self._open is not None
            if isinstance(ev, ThinkingSignature):
                # the signature travels in encrypted_content, where the next turn carries it back
                self._open["encrypted_content"] = ev.signature
                return pre
            self._text += ev.text
            return pre + self._delta_ev(
                "response.reasoning_summary_text.delta", self._open["id"], '"summary_index":0,', ev.text
            )
        if isinstance(ev, RedactedThinking):
            redacted = {"type": "reasoning", "id": self._item_id("rs"), "encrypted_content": ev.data}
            return pre + self._open_item("reasoning", redacted) + self._close()
        if isinstance(ev, ToolCallStart):
            call: dict[str, Any] = {
                "type": "function_call",
                "id": self._item_id("fc"),
                "call_id": ev.id,
                "name": ev.name,
                "arguments": "",
                "status": "in_progress",
            }
            self._tools[ev.index] = call
            return pre + self._open_item("function_call", call)
        if isinstance(ev, ToolCallDelta):
            item = self._tools.get(ev.index)
            if item is None or item is not self._open:
                raise ConversionError(f"tool call {ev.index} arguments arrived after its item closed")
            if not ev.arguments:
                return pre
            item["arguments"] += ev.arguments
            return pre + self._delta_ev("response.function_call_arguments.delta", item["id"], "", ev.arguments)
        if isinstance(ev, ToolCallEnd):
            if self._open is not None and self._open is self._tools.get(ev.index):
                return pre + self._close()
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
        out = self._close()
        self.done = True
        usage = usage_to_responses(self._usage)
        if reason in ("max_tokens", "refusal"):
            resp = self._response("incomplete", self._output, usage)
            why = "max_output_tokens" if reason == "max_tokens" else "content_filter"
            resp["incomplete_details"] = {"reason": why}
            return out + self._ev({"type": "response.incomplete", "response": resp})
        return out + self._ev(
            {"type": "response.completed", "response": self._response("completed", self._output, usage)}
        )

    def error(self, message: str, type_: str = "api_error") -> bytes:
        self.done = True
        # `error` is the API's own stream-error event; `response.failed` closes the response so
        # clients that track the lifecycle (Codex) see a terminal state rather than a cut stream.
        code = {"api_error": "server_error", "overloaded_error": "server_error"}.get(type_, type_)
        out = self._ev({"type": "error", "code": code, "message": message, "param": None})
        if self._started:
            resp = self._response("failed", self._output, usage_to_responses(self._usage))
            resp["error"] = {"code": code, "message": message}
            out += self._ev({"type": "response.failed", "response": resp})
        return out
