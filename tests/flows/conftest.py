from __future__ import annotations

import time
from typing import Any

import pytest
from flowkit import make_flow, to_contract

ANTHROPIC = "https://api.anthropic.com"


@pytest.fixture
def mixed_flows() -> list[Any]:
    """Real mitmproxy flows: Anthropic, OpenAI and Gemini traffic, one error, one 500."""
    t0 = time.time() - 3600
    return [
        make_flow(
            f"{ANTHROPIC}/v1/messages?beta=true",
            {
                "model": "claude-haiku-4-5",
                "messages": [{"role": "user", "content": [{"type": "text", "text": "what's 2+2"}]}],
            },
            started=t0,
        ),
        make_flow(f"{ANTHROPIC}/v1/models", method="GET", started=t0 + 1),
        make_flow(
            "https://api.openai.com/v1/chat/completions",
            {"model": "gpt-4o", "messages": []},
            headers={"user-agent": "OpenAI/Python 1.0"},
            started=t0 + 2,
        ),
        make_flow(
            f"{ANTHROPIC}/v1/messages",
            {
                "model": "claude-haiku-4-5",
                "messages": [{"role": "user", "content": [{"type": "text", "text": "what's 3+3"}]}],
            },
            status=500,
            started=t0 + 3,
        ),
        make_flow(
            f"{ANTHROPIC}/v1/messages/count_tokens",
            {"model": "claude-haiku-4-5", "messages": []},
            status=None,
            error="connection reset",
            started=t0 + 4,
        ),
        make_flow(
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent",
            {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
            started=t0 + 5,
        ),
    ]


@pytest.fixture
def mixed_contract(mixed_flows: list[Any]) -> list[dict[str, Any]]:
    return [to_contract(f) for f in mixed_flows]
