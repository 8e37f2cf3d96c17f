"""Token count estimates for `count_tokens` requests routed to a provider of another format.

Anthropic's `/v1/messages/count_tokens` and Gemini's `:countTokens` have no equivalent at the
OpenAI endpoints, so when such a request is routed to an OpenAI-type provider ccproxy answers
it itself with an estimate rather than an error.

Method (deliberately simple and documented, not a tokenizer):
- text: every string the model reads (system prompt, message text, thinking text, tool call
  names and JSON arguments, tool results, tool names, descriptions and JSON schemas) counts
  ceil(UTF-8 bytes / 4), the usual ~4 bytes per token of BPE tokenizers on English and code;
- structure: 4 tokens per message and 8 per tool definition, for role and framing tokens;
- images: 1600 tokens each (Anthropic's ceiling for a ~1.15 MP image); documents given inline:
  base64 length * 3/4 bytes / 4; audio: 1000 tokens.
The estimate tends to over-count slightly, which is the safe side for context budgeting.
"""

from __future__ import annotations

import json
import math
from typing import Any

from ccproxy.lightllm import anthropic, gemini
from ccproxy.lightllm.ir import (
    ConversionError,
    MediaPart,
    OpaquePart,
    RedactedThinkingPart,
    Request,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
    Wire,
    as_obj,
)

IMAGE_TOKENS = 1600
AUDIO_TOKENS = 1000
PER_MESSAGE = 4
PER_TOOL = 8


def _text(s: str) -> int:
    return math.ceil(len(s.encode("utf-8")) / 4)


def _part(p: Any) -> int:
    if isinstance(p, TextPart):
        return _text(p.text)
    if isinstance(p, ThinkingPart):
        return _text(p.text)
    if isinstance(p, RedactedThinkingPart):
        return _text(p.data) // 4
    if isinstance(p, ToolCallPart):
        return _text(p.name) + _text(p.arguments_raw or json.dumps(p.arguments))
    if isinstance(p, ToolResultPart):
        return sum(_part(c) for c in p.content) + 2
    if isinstance(p, MediaPart):
        if p.kind == "image":
            return IMAGE_TOKENS
        if p.kind == "audio":
            return AUDIO_TOKENS
        if p.text is not None:
            return _text(p.text)
        if p.data is not None:
            return math.ceil(len(p.data) * 3 / 4 / 4)
        return IMAGE_TOKENS
    if isinstance(p, OpaquePart):
        return _text(json.dumps(p.data))
    return 0


def estimate(req: Request) -> int:
    total = sum(_text(s.text) for s in req.system or [])
    for m in req.messages:
        total += PER_MESSAGE + sum(_part(p) for p in m.parts)
    for t in req.tools or []:
        total += PER_TOOL + _text(t.name) + _text(t.description or "")
        total += _text(json.dumps(t.parameters or t.builtin or {}))
    return max(total, 1)


def count_request(body: Any, wire: Wire, path: str = "") -> Request:
    """Parse a count_tokens request body (Anthropic: a Messages body without max_tokens;
    Gemini: `contents` or a whole `generateContentRequest`)."""
    body = as_obj(body, "request")
    if wire == "anthropic":
        return anthropic.parse_request(body)
    if wire == "gemini":
        inner = body.get("generateContentRequest")
        return gemini.parse_request(inner if isinstance(inner, dict) else body, model=gemini.model_from_path(path))
    raise ConversionError(f"count_tokens: no count endpoint for wire {wire!r}")


def count_tokens_response(body: Any, wire: Wire, path: str = "") -> dict[str, Any]:
    """The estimate in the shape the client's count endpoint returns."""
    n = estimate(count_request(body, wire, path))
    if wire == "gemini":
        return {"totalTokens": n}
    return {"input_tokens": n}
