"""Every wire format reads the same way: the four canned answers (JSON and streamed) and requests."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ccproxy.viewer.normalize import parse_request_side, parse_response_side
from tests.support import canned

ANSWERS = {
    "anthropic": (canned.anthropic_message, canned.anthropic_events, "/v1/messages"),
    "openai": (canned.openai_chat, canned.openai_chat_events, "/v1/chat/completions"),
    "openai_responses": (canned.openai_response, canned.openai_response_events, "/v1/responses"),
    "gemini": (
        canned.gemini_response,
        canned.gemini_events,
        "/v1beta/models/gemini-test:streamGenerateContent?alt=sse",
    ),
}
REQUESTS: dict[str, dict[str, Any]] = {
    "anthropic": {"model": "m", "max_tokens": 5, "system": "SYS", "messages": [{"role": "user", "content": "hi"}]},
    "openai": {"model": "m", "messages": [{"role": "system", "content": "SYS"}, {"role": "user", "content": "hi"}]},
    "openai_responses": {"model": "m", "instructions": "SYS", "input": "hi"},
    "gemini": {
        "systemInstruction": {"parts": [{"text": "SYS"}]},
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
    },
}


def message(body: bytes, ctype: str, path: str = "") -> dict[str, Any]:
    return {
        "status_code": 200,
        "headers": {"content-type": ctype},
        "body": body.decode(),
        "body_encoding": "utf8",
        "path": path,
    }


@pytest.mark.parametrize("wire", ANSWERS)
def test_json_and_streamed_answers_read_the_same(wire: str) -> None:
    whole, events, path = ANSWERS[wire]
    plain = parse_response_side(message(json.dumps(whole()).encode(), "application/json"), wire, path.split(":")[0])  # type: ignore[arg-type]
    streamed = parse_response_side(message(b"".join(events()), "text/event-stream"), wire, path)  # type: ignore[arg-type]
    assert plain is not None and streamed is not None
    for side in (plain, streamed):
        # the canned OpenAI streams end every word with a space
        assert [p["text"].rstrip() for p in side["parts"] if p["type"] == "text"] == [canned.TEXT]
        assert side["stop_reason"] == "end_turn"
    assert plain["usage"]["output_tokens"] == 7
    assert streamed["stream"] and streamed["events"] == len(events())  # one data line per canned event


@pytest.mark.parametrize("wire", REQUESTS)
def test_requests_show_system_and_messages(wire: str) -> None:
    path = ANSWERS[wire][2]
    view = parse_request_side(message(json.dumps(REQUESTS[wire]).encode(), "application/json", path), wire)  # type: ignore[arg-type]
    assert view["system"] == "SYS" and view["system_size"] == 3
    assert [(m["role"], m["parts"][0]["text"]) for m in view["messages"]] == [("user", "hi")]


def test_unreadable_bodies_say_why() -> None:
    assert parse_request_side(message(b"not json", "text/plain"), "anthropic") == {"error": "request body is not JSON"}
    err = parse_response_side(
        message(
            json.dumps({"type": "error", "error": {"type": "x", "message": "overloaded"}}).encode(), "application/json"
        ),
        "anthropic",
    )
    assert err is not None and err["error"] == "overloaded"
