"""Which wire format and endpoint a request speaks, from its method, path and headers.

Paths may carry a prefix (`/openai/v1/chat/completions`, `/anthropic/v1/messages`,
`/v1beta/openai/chat/completions`); the tail decides."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from ccproxy.lightllm.gemini import parse_path
from ccproxy.lightllm.ir import Wire

Kind = Literal["generate", "count_tokens", "models"]

_ANTHROPIC = re.compile(r"(^|/)messages$")
_ANTHROPIC_COUNT = re.compile(r"(^|/)messages/count_tokens$")
_CHAT = re.compile(r"(^|/)chat/completions$")
_RESPONSES = re.compile(r"(^|/)responses$")
_MODELS = re.compile(r"(^|/)v1(beta)?/models/?$")


@dataclass(frozen=True)
class Endpoint:
    wire: Wire
    kind: Kind
    model: str | None = None
    stream: bool | None = None  # known from the path only for Gemini


def classify(method: str, path: str, headers: Mapping[str, str] | None = None) -> Endpoint | None:
    bare = path.split("?", 1)[0].rstrip("/")
    method = method.upper()
    headers = headers or {}
    if method == "GET" and _MODELS.search(bare):
        has_anthropic = any(k.lower() == "anthropic-version" for k in headers)
        if "/v1beta/" in bare + "/":
            return Endpoint("gemini", "models")
        return Endpoint("anthropic" if has_anthropic else "openai", "models")
    if method != "POST":
        return None
    gem = parse_path(path)
    if gem is not None:
        _, model, action = gem
        if action in ("generateContent", "streamGenerateContent"):
            return Endpoint("gemini", "generate", model, action == "streamGenerateContent")
        if action == "countTokens":
            return Endpoint("gemini", "count_tokens", model)
        return None
    if _ANTHROPIC_COUNT.search(bare):
        return Endpoint("anthropic", "count_tokens")
    if _ANTHROPIC.search(bare):
        return Endpoint("anthropic", "generate")
    if _CHAT.search(bare):
        return Endpoint("openai", "generate")
    if _RESPONSES.search(bare):
        return Endpoint("openai_responses", "generate")
    return None


def detect_wire(method: str, path: str, headers: Mapping[str, str] | None = None) -> Wire | None:
    """The wire format of an LLM request, or None for anything else (count_tokens and model
    lists included: those are not conversations)."""
    ep = classify(method, path, headers)
    return ep.wire if ep is not None and ep.kind == "generate" else None


def routing_wire(method: str, path: str, headers: Mapping[str, str] | None = None) -> Wire | None:
    """The wire format whose provider serves this request: conversations and token counts
    (model lists are answered locally)."""
    ep = classify(method, path, headers)
    return ep.wire if ep is not None and ep.kind != "models" else None
