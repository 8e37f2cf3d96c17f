"""OpenAI Chat Completions vocabulary; its error tables are shared with Responses."""

from __future__ import annotations

from typing import Any

from ccproxy.lightllm.ir import StopReason, Usage
from ccproxy.lightllm.vocab._util import count, obj

FINISH_IN: dict[str, StopReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
FINISH_OUT: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "error": "stop",
}


def finish_in(raw: Any) -> StopReason | None:
    return FINISH_IN.get(raw) if isinstance(raw, str) else None


def finish_out(reason: StopReason | None) -> str:
    return FINISH_OUT.get(reason or "end_turn", "stop")


# IR error type -> (status, OpenAI type, code). The OpenAI SDKs pick the exception from the status.
ERROR_OUT: dict[str, tuple[int, str, str | None]] = {
    "invalid_request_error": (400, "invalid_request_error", None),
    "authentication_error": (401, "invalid_request_error", "invalid_api_key"),
    "billing_error": (402, "invalid_request_error", "billing_error"),
    "permission_error": (403, "invalid_request_error", "permission_denied"),
    "not_found_error": (404, "invalid_request_error", "model_not_found"),
    "request_too_large": (413, "invalid_request_error", "request_too_large"),
    "rate_limit_error": (429, "rate_limit_exceeded", "rate_limit_exceeded"),
    "api_error": (500, "server_error", None),
    "timeout_error": (504, "server_error", "timeout"),
    "overloaded_error": (503, "server_error", "overloaded"),
}
# OpenAI type or code -> IR error type.
ERROR_IN: dict[str, str] = {
    "insufficient_quota": "rate_limit_error",
    "rate_limit_exceeded": "rate_limit_error",
    "requests": "rate_limit_error",
    "tokens": "rate_limit_error",
    "server_error": "api_error",
    "invalid_api_key": "authentication_error",
    "invalid_request_error": "invalid_request_error",
    "overloaded_error": "overloaded_error",
    "model_not_found": "not_found_error",
    "permission_denied": "permission_error",
    "timeout": "timeout_error",
}


def error_type_in(raw_type: Any, code: Any = None) -> str:
    """The IR error type of a stream's error object (no HTTP status to go by)."""
    for key in (code, raw_type):
        if isinstance(key, str) and key in ERROR_IN:
            return ERROR_IN[key]
    return "api_error"


def error_type_out(ir_type: str) -> str:
    return ERROR_OUT.get(ir_type, ERROR_OUT["api_error"])[1]


def error_code_out(ir_type: str) -> str | None:
    return ERROR_OUT.get(ir_type, ERROR_OUT["api_error"])[2]


def usage_in(u: Any) -> Usage:
    ptd, ctd = obj(u, "prompt_tokens_details"), obj(u, "completion_tokens_details")
    return Usage(
        input_tokens=count(u, "prompt_tokens"),
        output_tokens=count(u, "completion_tokens"),
        cache_read_tokens=count(ptd, "cached_tokens"),
        cache_write_tokens=count(ptd, "cache_write_tokens"),
        reasoning_tokens=count(ctd, "reasoning_tokens"),
    )


def usage_out(u: Usage | None) -> dict[str, Any]:
    u = u or Usage()
    ptd: dict[str, int] = {"cached_tokens": u.cache_read_tokens}
    if u.cache_write_tokens:
        ptd["cache_write_tokens"] = u.cache_write_tokens
    return {
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
        "prompt_tokens_details": ptd,
        "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
    }
