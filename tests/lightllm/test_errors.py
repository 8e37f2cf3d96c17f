"""Errors cross formats with the type and status each client's SDK maps to the right
exception class; retry/request-id headers survive; failed conversions are clean errors."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import openai
import pytest

from ccproxy.lightllm import errors
from ccproxy.lightllm.convert import convert_error_body

ANTHROPIC_529 = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
ANTHROPIC_429 = {"type": "error", "error": {"type": "rate_limit_error", "message": "Slow down"}}
ANTHROPIC_403 = {"type": "error", "error": {"type": "permission_error", "message": "No access"}}
OPENAI_503 = {"error": {"message": "The server is overloaded", "type": "server_error", "param": None, "code": None}}
OPENAI_401 = {
    "error": {"message": "Bad key", "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}
}
OPENAI_429 = {"error": {"message": "Rate limit", "type": "requests", "param": None, "code": "rate_limit_exceeded"}}
GEMINI_429 = {"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}}
GEMINI_400 = {"error": {"code": 400, "message": "Bad field", "status": "INVALID_ARGUMENT"}}
GEMINI_503 = [{"error": {"code": 503, "message": "Model overloaded", "status": "UNAVAILABLE"}}]

# (src wire, status, body, dst wire, expected status, expected type / status string)
TABLE = [
    ("anthropic", 529, ANTHROPIC_529, "openai", 503, "server_error"),
    ("anthropic", 529, ANTHROPIC_529, "openai_responses", 503, "server_error"),
    ("anthropic", 529, ANTHROPIC_529, "gemini", 503, "UNAVAILABLE"),
    ("openai", 503, OPENAI_503, "anthropic", 529, "overloaded_error"),
    ("gemini", 503, GEMINI_503, "anthropic", 529, "overloaded_error"),
    ("anthropic", 429, ANTHROPIC_429, "openai", 429, "rate_limit_exceeded"),
    ("anthropic", 429, ANTHROPIC_429, "gemini", 429, "RESOURCE_EXHAUSTED"),
    ("openai", 429, OPENAI_429, "anthropic", 429, "rate_limit_error"),
    ("gemini", 429, GEMINI_429, "anthropic", 429, "rate_limit_error"),
    ("gemini", 429, GEMINI_429, "openai", 429, "rate_limit_exceeded"),
    ("openai", 401, OPENAI_401, "anthropic", 401, "authentication_error"),
    ("openai", 401, OPENAI_401, "gemini", 401, "UNAUTHENTICATED"),
    ("anthropic", 403, ANTHROPIC_403, "openai", 403, "invalid_request_error"),
    ("anthropic", 403, ANTHROPIC_403, "gemini", 403, "PERMISSION_DENIED"),
    ("gemini", 400, GEMINI_400, "anthropic", 400, "invalid_request_error"),
    ("gemini", 400, GEMINI_400, "openai_responses", 400, "invalid_request_error"),
    ("openai", 502, b"<html>Bad gateway</html>", "anthropic", 502, "api_error"),
]


def _kind(wire: str, body: dict[str, Any]) -> str:
    err = body["error"]
    return str(err["status"] if wire == "gemini" else err["type"])


@pytest.mark.parametrize(("src", "status", "body", "dst", "want_status", "want_type"), TABLE)
def test_error_table(src: str, status: int, body: Any, dst: str, want_status: int, want_type: str) -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    out_status, out, _ = convert_error_body(status, raw, src, dst)  # type: ignore[arg-type]
    assert (out_status, _kind(dst, out)) == (want_status, want_type)
    assert out["error"]["message"]


def _status_error(wire: str, status: int, body: dict[str, Any]) -> Exception:
    response = httpx.Response(status, json=body, request=httpx.Request("POST", "http://127.0.0.1/v1"))
    if wire == "anthropic":
        return anthropic.Anthropic(api_key="k")._make_status_error("x", body=body, response=response)
    return openai.OpenAI(api_key="k")._make_status_error("x", body=body, response=response)


@pytest.mark.parametrize(
    ("src", "status", "body", "dst", "exc"),
    [
        ("openai", 503, OPENAI_503, "anthropic", anthropic.OverloadedError),
        ("gemini", 429, GEMINI_429, "anthropic", anthropic.RateLimitError),
        ("openai", 401, OPENAI_401, "anthropic", anthropic.AuthenticationError),
        ("anthropic", 529, ANTHROPIC_529, "openai", openai.InternalServerError),
        ("anthropic", 429, ANTHROPIC_429, "openai", openai.RateLimitError),
        ("gemini", 400, GEMINI_400, "openai", openai.BadRequestError),
        ("anthropic", 403, ANTHROPIC_403, "openai", openai.PermissionDeniedError),
    ],
)
def test_client_sdk_raises_the_right_exception(src: str, status: int, body: Any, dst: str, exc: type) -> None:
    out_status, out, _ = convert_error_body(status, json.dumps(body), src, dst)  # type: ignore[arg-type]
    err = _status_error(dst, out_status, out)
    assert isinstance(err, exc)


def test_headers_kept_and_request_id_respelled() -> None:
    headers = {
        "Retry-After": "7",
        "retry-after-ms": "7000",
        "request-id": "req_123",
        "anthropic-ratelimit-requests-remaining": "0",
        "set-cookie": "x=1",
        "content-length": "10",
    }
    _, _, kept = convert_error_body(429, json.dumps(ANTHROPIC_429), "anthropic", "openai", headers)
    assert kept == {
        "retry-after": "7",
        "retry-after-ms": "7000",
        "request-id": "req_123",
        "x-request-id": "req_123",
        "anthropic-ratelimit-requests-remaining": "0",
    }


@pytest.mark.parametrize(
    ("wire", "status", "shape"),
    [
        ("openai", 500, {"error": {"message": "m", "type": "server_error", "param": None, "code": None}}),
        ("openai_responses", 500, {"error": {"message": "m", "type": "server_error", "param": None, "code": None}}),
        (None, 500, {"error": {"message": "m", "type": "server_error", "param": None, "code": None}}),
        ("anthropic", 500, {"type": "error", "error": {"type": "api_error", "message": "m"}}),
        ("gemini", 500, {"error": {"code": 500, "message": "m", "status": "INTERNAL"}}),
    ],
)
def test_conversion_failure_is_a_clean_error_in_the_client_format(wire: Any, status: int, shape: Any) -> None:
    assert errors.failure(wire, "m") == (status, shape)


def test_same_wire_error_is_untouched() -> None:
    status, body, _ = convert_error_body(529, json.dumps(ANTHROPIC_529), "anthropic", "anthropic")
    assert (status, body) == (529, ANTHROPIC_529)
