"""The official SDKs' stream accumulators as oracles: bytes of one wire format → a summary.

Each oracle parses with the SDK's own SSE decoder and typed event models and accumulates with the
SDK's stream state, so a rendered stream the SDK would reject fails here the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from anthropic._models import construct_type as anthropic_construct
from anthropic._streaming import SSEDecoder as AnthropicSSEDecoder
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import RawMessageStreamEvent
from google.genai import types as gtypes
from google.genai.models import _GenerateContentResponse_from_mldev as _gemini_from_mldev
from openai._models import construct_type as openai_construct
from openai._streaming import SSEDecoder as OpenAISSEDecoder
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.chat import ChatCompletionChunk
from openai.types.responses import ResponseStreamEvent


class StreamErrorSeen(Exception):
    """The stream carried a well-formed error event (what the SDK raises as APIError)."""


@dataclass
class Summary:
    text: str = ""
    thinking: str = ""
    tool_calls: list[tuple[str, Any]] = field(default_factory=list)
    stop: str = ""  # normalised: end | max | tool | refusal
    signatures: int = 0
    usage_in: int = 0
    usage_out: int = 0

    def core(self) -> tuple[str, list[tuple[str, Any]], str]:
        return self.text, self.tool_calls, self.stop


def _args(raw: str | None) -> Any:
    """Tool arguments as JSON, or the raw string when a truncated stream cut them short."""
    try:
        return json.loads(raw or "{}")
    except ValueError:
        return raw


def _sse_events(decoder: Any, raw: bytes) -> list[Any]:
    # some fixtures end without the final blank line; the SDK decoders would drop that event
    if not raw.endswith((b"\n\n", b"\r\n\r\n", b"\r\r")):
        raw += b"\n\n"
    return list(decoder.iter_bytes(iter([raw])))


def anthropic_summary(raw: bytes) -> Summary:
    snap = None
    bufs: dict[int, bytes] = {}
    stopped = False
    for sse in _sse_events(AnthropicSSEDecoder(), raw):
        if sse.event == "ping" or sse.event is None:  # the SDK skips these too
            continue
        if sse.event == "error":
            raise StreamErrorSeen(sse.data)
        # the SDK builds events with construct_type (lenient to new fields), as its Stream does
        ev = anthropic_construct(type_=RawMessageStreamEvent, value=sse.json())
        snap = accumulate_event(event=ev, current_snapshot=snap, json_bufs=bufs)
        stopped = stopped or ev.type == "message_stop"
    assert snap is not None and stopped, "anthropic stream without message_start/message_stop"
    s = Summary()
    for i, block in enumerate(snap.content):
        if block.type == "text":
            s.text += block.text
        elif block.type == "thinking":
            s.thinking += block.thinking
            s.signatures += bool(block.signature)
        elif block.type == "tool_use":
            # the SDK parses partial JSON; a call cut by max_tokens is compared by its raw text
            raw_json = bufs.get(i)
            s.tool_calls.append((block.name, _args(raw_json.decode()) if raw_json else block.input))
    s.stop = {"max_tokens": "max", "tool_use": "tool", "refusal": "refusal"}.get(snap.stop_reason or "", "end")
    s.usage_in = (
        snap.usage.input_tokens
        + (snap.usage.cache_read_input_tokens or 0)
        + (snap.usage.cache_creation_input_tokens or 0)
    )
    s.usage_out = snap.usage.output_tokens
    return s


def openai_chat_summary(raw: bytes) -> Summary:
    state = ChatCompletionStreamState()
    done = False
    usage = None
    for sse in _sse_events(OpenAISSEDecoder(), raw):
        if sse.data.startswith("[DONE]"):
            done = True
            break
        data = sse.json()
        if isinstance(data, dict) and data.get("error"):
            raise StreamErrorSeen(sse.data)
        chunk = ChatCompletionChunk.model_validate(data)
        usage = chunk.usage or usage
        state.handle_chunk(chunk)
    assert done, "openai chat stream without [DONE]"
    # the snapshot, not get_final_completion(): that one raises on length/content_filter by design
    final = state.current_completion_snapshot
    choice = final.choices[0]
    s = Summary(text=(choice.message.content or "") + (choice.message.refusal or ""))
    extra = choice.message.model_extra or {}
    s.thinking = extra.get("reasoning_content") or extra.get("reasoning") or ""
    for tc in choice.message.tool_calls or ():
        s.tool_calls.append((tc.function.name, _args(tc.function.arguments)))
    s.stop = {"length": "max", "tool_calls": "tool", "content_filter": "refusal"}.get(choice.finish_reason, "end")
    if choice.message.refusal and s.stop == "end":
        s.stop = "refusal"
    if usage is not None:
        s.usage_in, s.usage_out = usage.prompt_tokens, usage.completion_tokens
    return s


def openai_responses_summary(raw: bytes) -> Summary:
    from openai import omit

    state: ResponseStreamState[Any] = ResponseStreamState(input_tools=omit, text_format=omit)
    final = None
    seqs: list[int] = []
    for sse in _sse_events(OpenAISSEDecoder(), raw):
        if sse.data.startswith("[DONE]"):  # OpenRouter ends Responses streams like Chat ones
            break
        data = sse.json()
        if data.get("type") in ("error", "response.failed"):
            raise StreamErrorSeen(sse.data)
        ev = openai_construct(type_=ResponseStreamEvent, value=data)
        if ev.sequence_number is not None:  # older recordings predate sequence_number
            seqs.append(ev.sequence_number)
        for out in state.handle_event(ev):
            if out.type in ("response.completed", "response.incomplete"):
                final = out.response
    assert final is not None, "responses stream without response.completed/incomplete"
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "sequence_number not increasing"
    s = Summary()
    for item in final.output:
        if item.type == "message":
            for part in item.content:
                s.text += getattr(part, "text", None) or getattr(part, "refusal", "") or ""
        elif item.type == "reasoning":
            s.thinking += "\n\n".join(p.text for p in item.summary) or "".join(c.text for c in (item.content or ()))
            s.signatures += bool(item.encrypted_content)
        elif item.type == "function_call":
            s.tool_calls.append((item.name, _args(item.arguments)))
    if final.status == "incomplete":
        reason = final.incomplete_details.reason if final.incomplete_details else None
        s.stop = "refusal" if reason == "content_filter" else "max"
    else:
        s.stop = "tool" if s.tool_calls else "end"
    if final.usage is not None:
        s.usage_in, s.usage_out = final.usage.input_tokens, final.usage.output_tokens
    return s


def gemini_chunks(raw: bytes) -> list[dict[str, Any]]:
    text = raw.decode()
    if text.lstrip().startswith("["):
        return list(json.loads(text))
    return [sse.json() for sse in _sse_events(OpenAISSEDecoder(), raw)]


def gemini_summary(raw: bytes, strict: bool = False) -> Summary:
    """strict: reject fields the SDK does not know (for our renders); otherwise parse the way
    google-genai parses live responses, dropping unknown fields first."""
    s = Summary()
    finish = None
    for obj in gemini_chunks(raw):
        if "error" in obj:
            raise StreamErrorSeen(json.dumps(obj))
        if strict:
            resp = gtypes.GenerateContentResponse.model_validate(obj)
        else:
            resp = gtypes.GenerateContentResponse._from_response(response=_gemini_from_mldev(obj), kwargs={})
        if resp.usage_metadata is not None:
            u = resp.usage_metadata
            s.usage_in = u.prompt_token_count or 0
            s.usage_out = (u.candidates_token_count or 0) + (u.thoughts_token_count or 0)
        for cand in resp.candidates or ():
            if cand.index not in (None, 0):
                continue
            for part in (cand.content.parts if cand.content else None) or ():
                if part.function_call is not None:
                    s.tool_calls.append((part.function_call.name, part.function_call.args or {}))
                elif part.text and part.thought:
                    s.thinking += part.text
                elif part.text:
                    s.text += part.text
                s.signatures += bool(part.thought_signature)
            finish = cand.finish_reason or finish
    assert finish is not None, "gemini stream without finishReason"
    name = finish.name if hasattr(finish, "name") else str(finish)
    if name == "MAX_TOKENS":
        s.stop = "max"
    elif name in ("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"):
        s.stop = "refusal"
    else:
        s.stop = "tool" if s.tool_calls else "end"
    return s


SUMMARY = {
    "anthropic": anthropic_summary,
    "openai": openai_chat_summary,
    "openai_responses": openai_responses_summary,
    "gemini": gemini_summary,
}


def rendered_summary(wire: str, raw: bytes) -> Summary:
    """Oracle for streams we rendered: as strict as the SDK allows."""
    if wire == "gemini":
        return gemini_summary(raw, strict=True)
    return SUMMARY[wire](raw)
