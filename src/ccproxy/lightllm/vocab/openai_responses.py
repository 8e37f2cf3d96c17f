"""OpenAI Responses vocabulary. Errors use the OpenAI tables of `vocab.openai_chat`."""

from __future__ import annotations

from typing import Any

from ccproxy.lightllm.ir import StopReason, Usage
from ccproxy.lightllm.vocab._util import count, obj
from ccproxy.lightllm.vocab.openai_chat import ERROR_IN, ERROR_OUT, error_type_in, error_type_out

__all__ = ["ERROR_IN", "ERROR_OUT", "error_type_in", "error_type_out", "incomplete_reason", "status_in", "status_out"]


def status_in(status: Any, incomplete_reason: Any, has_calls: bool, refused: bool) -> StopReason:
    """The stop reason of a response from its status (Responses has no finish reason)."""
    if status == "incomplete":
        return "refusal" if incomplete_reason == "content_filter" else "max_tokens"
    if status == "failed":
        return "error"
    if has_calls:
        return "tool_use"
    return "refusal" if refused else "end_turn"


def status_out(reason: StopReason | None) -> str:
    return {"max_tokens": "incomplete", "refusal": "incomplete", "error": "failed"}.get(reason or "", "completed")


def incomplete_reason(reason: StopReason | None) -> str | None:
    return {"max_tokens": "max_output_tokens", "refusal": "content_filter"}.get(reason or "")


def usage_in(u: Any) -> Usage:
    itd, otd = obj(u, "input_tokens_details"), obj(u, "output_tokens_details")
    return Usage(
        input_tokens=count(u, "input_tokens"),
        output_tokens=count(u, "output_tokens"),
        cache_read_tokens=count(itd, "cached_tokens"),
        cache_write_tokens=count(itd, "cache_write_tokens"),
        reasoning_tokens=count(otd, "reasoning_tokens"),
    )


def usage_out(u: Usage | None) -> dict[str, Any]:
    u = u or Usage()
    return {
        "input_tokens": u.input_tokens,
        "input_tokens_details": {"cached_tokens": u.cache_read_tokens, "cache_write_tokens": u.cache_write_tokens},
        "output_tokens": u.output_tokens,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "total_tokens": u.input_tokens + u.output_tokens,
    }
