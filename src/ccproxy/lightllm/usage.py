"""Normalised token usage of a recorded answer, buffered or streamed, for any wire.

The stable entry points for whoever fills token columns (flow store, cost reports):

    response_usage(wire, body) -> Usage | None    # a buffered JSON answer (dict, bytes or str)
    stream_usage(wire, data, gemini_sse=None) -> Usage | None   # the bytes of a streamed answer

`Usage` (lightllm.ir) counts `input_tokens` as every prompt token (cache reads and writes
included), `output_tokens` as every generated token (reasoning included), plus
`cache_read_tokens`, `cache_write_tokens` and `reasoning_tokens`. None means the answer
carried no usage at all. Neither function raises on odd input: what can be read is returned.
The field tables are the wire's vocabulary module (`lightllm/vocab/<wire>.py`), the same the
converters use.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ccproxy.lightllm.ir import Usage, Wire
from ccproxy.lightllm.vocab import anthropic, gemini, openai_chat, openai_responses

__all__ = ["response_usage", "stream_usage"]

_EVENT_END = re.compile(rb"(?<=\n\n)|(?<=\r\n\r\n)|(?<=\r\r)")


def _json(body: Any) -> Any:
    if isinstance(body, bytes | str):
        try:
            return json.loads(body)
        except ValueError:
            return None
    return body


def response_usage(wire: Wire, body: Any) -> Usage | None:
    """Usage of a buffered answer of `wire` (the JSON body, parsed or not)."""
    d = _json(body)
    if wire == "gemini" and isinstance(d, list) and d:
        d = d[-1]  # a streamed array read whole: the last chunk has the totals
    if not isinstance(d, dict):
        return None
    match wire:
        case "anthropic":
            u = d.get("usage")
            return anthropic.usage_in(u) if isinstance(u, dict) else None
        case "openai":
            u = d.get("usage")
            return openai_chat.usage_in(u) if isinstance(u, dict) else None
        case "openai_responses":
            r = d["response"] if isinstance(d.get("response"), dict) else d
            u = r.get("usage")
            return openai_responses.usage_in(u) if isinstance(u, dict) else None
        case "gemini":
            u = d.get("usageMetadata")
            return gemini.usage_in(u) if isinstance(u, dict) else None
    return None


def stream_usage(wire: Wire, data: bytes, gemini_sse: bool | None = None) -> Usage | None:
    """Usage of a streamed answer of `wire` from its bytes (SSE, or Gemini's JSON array:
    told apart by the first byte when `gemini_sse` is None). Cumulative reports are merged
    the way the converters merge them (Anthropic message_start + message_delta, the Chat
    usage chunk, Responses' final response, Gemini's last usageMetadata)."""
    from ccproxy.lightllm.stream.converter import SHAPE_ERRORS, make_intake
    from ccproxy.lightllm.stream.events import MessageStart, UsageUpdate, merge_usage

    if gemini_sse is None:
        gemini_sse = data.lstrip()[:1] != b"["
    intake = make_intake(wire, gemini_sse=gemini_sse)
    # event by event, so that a malformed event late in the stream keeps what came before
    pieces = _EVENT_END.split(data) if wire != "gemini" or gemini_sse else [data]
    events: list[Any] = []
    for piece in [*pieces, None]:
        try:
            events += intake.feed(piece) if piece is not None else intake.close()
        except SHAPE_ERRORS:
            continue
    usage: Usage | None = None
    for ev in events:
        u = ev.usage if isinstance(ev, UsageUpdate | MessageStart) else None
        if u is not None and u != Usage():
            usage = merge_usage(usage, u)
    return usage
