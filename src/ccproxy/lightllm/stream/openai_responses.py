"""OpenAI Responses streaming: `response.*` event intake and rendering (with sequence_number)."""

from __future__ import annotations

import uuid
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
from ccproxy.lightllm.vocab import openai_responses as vocab


class OpenAIResponsesIntake(SSEIntake):
    wire = "openai_responses"

    def __init__(self) -> None:
        super().__init__()
        self._tools: dict[int, int] = {}  # output_index → IR ordinal
        self._args_seen: set[int] = set()
        self._thinking_seen: set[int] = set()
        self._refusal = False
        self._chars = 0  # output text characters so far
        self._part_start: dict[tuple[Any, Any], int] = {}  # (output, content index) → first char

    def on_event(self, ev: SSEEvent) -> list[StreamEvent]:
        if self.finished:
            return []
        d = loads(ev.data)
        t = d.get("type") or ev.event
        oi = d.get("output_index", 0)
        if t == "response.output_text.delta":
            delta = d.get("delta")
            if not isinstance(delta, str) or not delta:
                return []
            self._part_start.setdefault((oi, d.get("content_index", 0)), self._chars)
            self._chars += len(delta)
            return [TextDelta(delta)]
        if t == "response.output_text.annotation.added":
            return self._annotation(oi, d)
        if t in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            self._thinking_seen.add(oi)
            return [ThinkingDelta(_s(d.get("delta")))] if _s(d.get("delta")) else []
        if t == "response.function_call_arguments.delta":
            if oi not in self._tools:
                raise ConversionError(f"responses stream: arguments for unknown output {oi}")
            self._args_seen.add(oi)
            delta = d.get("delta")
            return [ToolCallDelta(self._tools[oi], delta)] if isinstance(delta, str) and delta else []
        if t == "response.created":
            r = d.get("response") or {}
            return [MessageStart(_s(r.get("id")), _s(r.get("model")))]
        if t == "response.output_item.added":
            item = d.get("item") or {}
            if item.get("type") == "function_call":
                ordinal = len(self._tools)
                self._tools[oi] = ordinal
                return [ToolCallStart(ordinal, _s(item.get("call_id")) or _s(item.get("id")), _s(item.get("name")))]
            return []
        if t == "response.reasoning_summary_part.added" and d.get("summary_index", 0) > 0:
            return [ThinkingDelta("\n\n")]  # keep separate summary parts apart once joined
        if t == "response.refusal.delta":
            self._refusal = True
            return [TextDelta(_s(d.get("delta")))] if _s(d.get("delta")) else []
        if t == "response.output_item.done":
            return self._item_done(oi, d.get("item") or {})
        if t in ("response.completed", "response.incomplete"):
            return self._complete(d.get("response") or {})
        if t == "response.failed":
            self.finished = True
            err = (d.get("response") or {}).get("error") or {}
            message = _s(err.get("message")) or "response failed"
            return [StreamError(message, vocab.error_type_in(None, err.get("code")))]
        if t == "error":
            self.finished = True
            return [StreamError(_s(d.get("message")) or "upstream error", vocab.error_type_in(None, d.get("code")))]
        return []

    def _annotation(self, oi: Any, d: dict[str, Any]) -> list[StreamEvent]:
        c = citations.url_annotation_in(d.get("annotation"), nested=False)
        if c is None:
            return []
        # the annotation indexes its output_text part; the IR event indexes all text so far
        base = self._part_start.get((oi, d.get("content_index", 0)), self._chars)
        if c.start is not None and c.end is not None:
            c.start, c.end = base + c.start, base + c.end
        else:
            c.start, c.end = base, self._chars
        return [CitationAdded(c)]

    def _item_done(self, oi: int, item: dict[str, Any]) -> list[StreamEvent]:
        kind = item.get("type")
        out: list[StreamEvent] = []
        if kind == "function_call" and oi in self._tools:
            # some providers send the arguments only in the done item
            if oi not in self._args_seen and item.get("arguments"):
                out.append(ToolCallDelta(self._tools[oi], _s(item["arguments"])))
            out.append(ToolCallEnd(self._tools[oi]))
        elif kind == "reasoning":
            if oi not in self._thinking_seen:
                text = "\n\n".join(_s(s.get("text")) for s in item.get("summary") or () if s.get("text"))
                if text:
                    out.append(ThinkingDelta(text))
            if item.get("encrypted_content"):
                out.append(ThinkingSignature(_s(item["encrypted_content"])))
        return out

    def _complete(self, r: dict[str, Any]) -> list[StreamEvent]:
        self.finished = True
        out: list[StreamEvent] = []
        if r.get("usage"):
            out.append(UsageUpdate(vocab.usage_in(r["usage"])))
        status = r.get("status")
        reason = vocab.status_in(
            "incomplete" if status == "incomplete" else "completed",
            (r.get("incomplete_details") or {}).get("reason"),
            has_calls=bool(self._tools) or any(i.get("type") == "function_call" for i in r.get("output") or ()),
            refused=self._refusal,
        )
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
        self._pending: HeldCalls[dict[str, Any]] = HeldCalls()  # function_call items waiting their turn
        self._chars = 0  # answer text characters so far: where citations point
        self._text_start = 0  # first character of the open message item
        self._annotations: list[dict[str, Any]] = []

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
        self.upstream_id = msg_id
        self._id = ids.client_id("openai_responses", msg_id)
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
            part = {"type": "output_text", "text": self._text, "annotations": self._annotations}
            self._annotations = []
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

    def _open_call(self, index: int, item: dict[str, Any]) -> bytes:
        self._tools[index] = item
        return self._open_item("function_call", item)

    def _call_delta(self, item: dict[str, Any], args: str) -> bytes:
        item["arguments"] += args
        return self._delta_ev("response.function_call_arguments.delta", item["id"], "", args)

    def _flush_pending(self, everything: bool = False) -> bytes:
        return self._pending.flush(self._open_call, self._call_delta, self._close, everything)

    def _leave_tools(self) -> bytes:
        if self._open_kind != "function_call" and not self._pending:
            return b""
        return self._close() + self._flush_pending(everything=True)

    def event(self, ev: StreamEvent) -> bytes:
        if isinstance(ev, MessageStart):
            if ev.usage is not None:
                self._usage = ev.usage
            return b"" if self._started else self._start(ev.id, ev.model)
        pre = b"" if self._started or isinstance(ev, (UsageUpdate, StreamError)) else self._start()
        match ev:
            case TextDelta(text=text):
                if not text:
                    return pre
                if self._open_kind != "message" or self._open is None:
                    pre += self._leave_tools() + self._open_message()
                self._text += text
                self._chars += len(text)
                assert self._open is not None
                return pre + self._delta_ev(
                    "response.output_text.delta", self._open["id"], '"content_index":0,', text, ',"logprobs":[]'
                )
            case ThinkingDelta() | ThinkingSignature():
                if self._open_kind != "reasoning" or self._open is None or self._open.get("encrypted_content"):
                    pre += self._leave_tools()
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
            case RedactedThinking(data=data):
                redacted = {"type": "reasoning", "id": self._item_id("rs"), "encrypted_content": data}
                return pre + self._leave_tools() + self._open_item("reasoning", redacted) + self._close()
            case ToolCallStart(index=index, id=call_id, name=name):
                call: dict[str, Any] = {
                    "type": "function_call",
                    "id": self._item_id("fc"),
                    "call_id": call_id,
                    "name": name,
                    "arguments": "",
                    "status": "in_progress",
                }
                if (self._open_kind == "function_call" and self._open is not None) or self._pending:
                    self._pending.hold(index, call)
                    return pre
                return pre + self._open_call(index, call)
            case ToolCallDelta(index=index, arguments=args):
                if not args:
                    return pre
                item = self._tools.get(index)
                if item is not None and item is self._open:
                    return pre + self._call_delta(item, args)
                if index in self._pending:
                    self._pending.add_args(index, args)
                    return pre
                raise ConversionError(f"tool call {index} arguments arrived after its item closed")
            case ToolCallEnd(index=index):
                if self._open is not None and self._open is self._tools.get(index):
                    return pre + self._close() + self._flush_pending()
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

    def _open_message(self) -> bytes:
        self._text_start = self._chars
        item = {"type": "message", "id": self._item_id("msg"), "status": "in_progress", "role": "assistant"}
        return self._open_item("message", item)

    def _citation(self, c: Citation) -> bytes:
        if self._open_kind != "message" or self._open is None:
            # the text it cites was sent in an item that is already done
            log.debug("responses render: citation after its message item ended dropped")
            return b""
        whole = c.start is None or c.end is None
        start = 0 if whole else max((c.start or 0) - self._text_start, 0)
        end = len(self._text) if whole else max((c.end or 0) - self._text_start, start)
        ann = citations.responses_annotation(c.model_copy(update={"start": start, "end": end}), len(self._text))
        if ann is None:
            return b""
        self._annotations.append(ann)
        return self._ev(
            {
                "type": "response.output_text.annotation.added",
                "item_id": self._open["id"],
                "output_index": len(self._output),
                "content_index": 0,
                "annotation_index": len(self._annotations) - 1,
                "annotation": ann,
            }
        )

    def _stop(self, reason: StopReason) -> bytes:
        out = self._close()
        self.done = True
        usage = vocab.usage_out(self._usage)
        if vocab.status_out(reason) == "incomplete":
            resp = self._response("incomplete", self._output, usage)
            resp["incomplete_details"] = {"reason": vocab.incomplete_reason(reason)}
            return out + self._ev({"type": "response.incomplete", "response": resp})
        return out + self._ev(
            {"type": "response.completed", "response": self._response("completed", self._output, usage)}
        )

    def error(self, message: str, type_: str = "api_error") -> bytes:
        self.done = True
        # `error` is the API's own stream-error event; `response.failed` closes the response so
        # clients that track the lifecycle (Codex) see a terminal state rather than a cut stream.
        code = vocab.error_type_out(type_)
        out = self._ev({"type": "error", "code": code, "message": message, "param": None})
        if self._started:
            resp = self._response("failed", self._output, vocab.usage_out(self._usage))
            resp["error"] = {"code": code, "message": message}
            out += self._ev({"type": "response.failed", "response": resp})
        return out


def _s(v: Any) -> str:
    return v if isinstance(v, str) else ""
