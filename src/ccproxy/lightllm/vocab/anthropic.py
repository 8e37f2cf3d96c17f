"""Anthropic Messages vocabulary. Its error types are the IR's (the richest set)."""

from __future__ import annotations

from typing import Any

from ccproxy.lightllm.ir import StopReason, Usage
from ccproxy.lightllm.vocab._util import count, obj

STOP_REASONS: frozenset[str] = frozenset(
    {"end_turn", "max_tokens", "stop_sequence", "tool_use", "refusal", "pause_turn"}
)


def stop_in(raw: Any) -> StopReason | None:
    if raw in STOP_REASONS:
        return raw
    # the 1M-context models stop this way when the window is full: a max-tokens end for others
    return "max_tokens" if raw == "model_context_window_exceeded" else None


def stop_out(reason: StopReason | None) -> str:
    return "end_turn" if reason in (None, "error") else reason


# Anthropic error type -> default HTTP status.
TYPE_STATUS: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
ERROR_TYPES: frozenset[str] = frozenset(TYPE_STATUS)

# HTTP status -> the IR (Anthropic) error type, for bodies that do not say.
STATUS_TYPE: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    409: "invalid_request_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def error_type_in(raw: Any) -> str:
    return raw if raw in ERROR_TYPES else "api_error"


USAGE_KEYS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def usage_in(u: Any) -> Usage:
    # Anthropic's input_tokens excludes cache reads and writes; the IR counts them in.
    read, write = count(u, "cache_read_input_tokens"), count(u, "cache_creation_input_tokens")
    return Usage(
        input_tokens=count(u, "input_tokens") + read + write,
        output_tokens=count(u, "output_tokens"),
        cache_read_tokens=read,
        cache_write_tokens=write,
        reasoning_tokens=count(obj(u, "output_tokens_details"), "thinking_tokens"),
    )


def usage_out(u: Usage | None) -> dict[str, Any]:
    u = u or Usage()
    out: dict[str, Any] = {
        "input_tokens": max(u.input_tokens - u.cache_read_tokens - u.cache_write_tokens, 0),
        "cache_creation_input_tokens": u.cache_write_tokens,
        "cache_read_input_tokens": u.cache_read_tokens,
        "output_tokens": u.output_tokens,
    }
    if u.reasoning_tokens:
        out["output_tokens_details"] = {"thinking_tokens": u.reasoning_tokens}
    return out


def usage_merge_delta(prev: Usage | None, u: Any) -> Usage:
    """message_delta usage is cumulative, but fields it omits keep message_start's values."""
    p = prev or Usage()
    start = usage_out(p)
    merged = {k: (u[k] if isinstance(u, dict) and isinstance(u.get(k), int) else start.get(k, 0)) for k in USAGE_KEYS}
    details = obj(u, "output_tokens_details") or start.get("output_tokens_details")
    if details:
        merged["output_tokens_details"] = details
    return usage_in(merged)
