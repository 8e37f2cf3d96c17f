"""Gemini generateContent vocabulary: finish reasons, usageMetadata, google.rpc statuses."""

from __future__ import annotations

from typing import Any

from ccproxy.lightllm.ir import StopReason, Usage
from ccproxy.lightllm.vocab._util import count

FINISH_IN: dict[str, StopReason] = {
    "STOP": "end_turn",
    "MAX_TOKENS": "max_tokens",
    "SAFETY": "refusal",
    "RECITATION": "refusal",
    "BLOCKLIST": "refusal",
    "PROHIBITED_CONTENT": "refusal",
    "SPII": "refusal",
    "IMAGE_SAFETY": "refusal",
    "IMAGE_PROHIBITED_CONTENT": "refusal",
    "IMAGE_RECITATION": "refusal",
    # the model declined to answer in an unsupported language: a refusal to the client
    "LANGUAGE": "refusal",
    # the model's own call was broken or not allowed: the turn failed, not a normal end
    "MALFORMED_FUNCTION_CALL": "error",
    "UNEXPECTED_TOOL_CALL": "error",
    "NO_IMAGE": "end_turn",
    "IMAGE_OTHER": "end_turn",
    "OTHER": "end_turn",
    "FINISH_REASON_UNSPECIFIED": "end_turn",
}
FINISH_OUT: dict[str, str] = {
    "end_turn": "STOP",
    "tool_use": "STOP",
    "stop_sequence": "STOP",
    "pause_turn": "STOP",
    "max_tokens": "MAX_TOKENS",
    "refusal": "SAFETY",
    "error": "OTHER",
}


def finish_in(raw: Any, has_calls: bool = False) -> StopReason | None:
    stop = FINISH_IN.get(raw) if isinstance(raw, str) else None
    # Gemini ends a turn with function calls with STOP
    return "tool_use" if stop == "end_turn" and has_calls else stop


def finish_out(reason: StopReason | None) -> str:
    return FINISH_OUT.get(reason or "end_turn", "STOP")


# google.rpc status -> IR error type
STATUS_IN: dict[str, str] = {
    "INVALID_ARGUMENT": "invalid_request_error",
    "FAILED_PRECONDITION": "invalid_request_error",
    "OUT_OF_RANGE": "invalid_request_error",
    "UNAUTHENTICATED": "authentication_error",
    "PERMISSION_DENIED": "permission_error",
    "NOT_FOUND": "not_found_error",
    "RESOURCE_EXHAUSTED": "rate_limit_error",
    "UNAVAILABLE": "overloaded_error",
    "INTERNAL": "api_error",
    "UNKNOWN": "api_error",
    "DEADLINE_EXCEEDED": "timeout_error",
    "CANCELLED": "api_error",
}
# IR error type -> (HTTP status, google.rpc status)
STATUS_OUT: dict[str, tuple[int, str]] = {
    "invalid_request_error": (400, "INVALID_ARGUMENT"),
    "authentication_error": (401, "UNAUTHENTICATED"),
    "billing_error": (403, "PERMISSION_DENIED"),
    "permission_error": (403, "PERMISSION_DENIED"),
    "not_found_error": (404, "NOT_FOUND"),
    "request_too_large": (400, "INVALID_ARGUMENT"),
    "rate_limit_error": (429, "RESOURCE_EXHAUSTED"),
    "api_error": (500, "INTERNAL"),
    "timeout_error": (504, "DEADLINE_EXCEEDED"),
    "overloaded_error": (503, "UNAVAILABLE"),
}


def error_type_in(status: Any) -> str:
    return STATUS_IN.get(status, "api_error") if isinstance(status, str) else "api_error"


def error_out(ir_type: str) -> tuple[int, str]:
    return STATUS_OUT.get(ir_type, STATUS_OUT["api_error"])


def usage_in(u: Any) -> Usage:
    thoughts = count(u, "thoughtsTokenCount")
    return Usage(
        # tool-use prompt tokens (search results fed back to the model) are billed as input
        input_tokens=count(u, "promptTokenCount") + count(u, "toolUsePromptTokenCount"),
        # candidatesTokenCount excludes thoughts; the IR's output counts them
        output_tokens=count(u, "candidatesTokenCount") + thoughts,
        cache_read_tokens=count(u, "cachedContentTokenCount"),
        reasoning_tokens=thoughts,
    )


def usage_out(u: Usage | None) -> dict[str, Any]:
    u = u or Usage()
    meta: dict[str, Any] = {
        "promptTokenCount": u.input_tokens,
        "candidatesTokenCount": max(u.output_tokens - u.reasoning_tokens, 0),
        "totalTokenCount": u.input_tokens + u.output_tokens,
    }
    if u.reasoning_tokens:
        meta["thoughtsTokenCount"] = u.reasoning_tokens
    if u.cache_read_tokens:
        meta["cachedContentTokenCount"] = u.cache_read_tokens
    return meta
