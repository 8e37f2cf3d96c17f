"""Every role and field of the current Anthropic Messages API is accepted: a Claude Code 2.1.x
request (mid-conversation `role: "system"` messages, `output_config`, `context_management`,
adaptive thinking) converts to every format, system messages in place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ccproxy.lightllm import anthropic as an
from ccproxy.lightllm import convert as cv
from ccproxy.lightllm.gemini import system_context_text
from tests.lightllm.lightllm_oracles import check_request

DATA = Path(__file__).parent / "data"
BODY: dict[str, Any] = json.loads((DATA / "claude_code_2_1_request.json").read_text())
AGENTS = BODY["messages"][1]["content"]
PLAN = BODY["messages"][4]["content"][0]["text"]


def test_same_format_round_trip_is_exact() -> None:
    check_request("anthropic", BODY)
    assert an.render_request(an.parse_request(BODY)) == BODY


def _texts(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(c.get("text", "") for c in content if isinstance(c, dict))


def test_to_openai_chat_system_messages_in_place_and_effort() -> None:
    out = cv.convert_request(BODY, "anthropic", "openai")
    check_request("openai", out)
    roles = [m["role"] for m in out["messages"]]
    # system prompt, user, mid system, assistant (call), tool result, mid system
    assert roles == ["system", "user", "system", "assistant", "tool", "system"]
    assert _texts(out["messages"][2]["content"]) == AGENTS
    assert _texts(out["messages"][5]["content"]) == PLAN
    assert out["reasoning_effort"] == "high"


def test_to_openai_responses_developer_items_in_place() -> None:
    out = cv.convert_request(BODY, "anthropic", "openai_responses")
    check_request("openai_responses", out)
    kinds = [(i.get("type"), i.get("role")) for i in out["input"]]
    assert kinds[1] == ("message", "developer")
    assert kinds[-1] == ("message", "developer")
    assert _texts(out["input"][1]["content"]) == AGENTS
    assert out["reasoning"]["effort"] == "high"


def test_to_gemini_system_context_user_turns_in_place() -> None:
    out = cv.convert_request(BODY, "anthropic", "gemini")
    check_request("gemini", out)
    contents = out["contents"]
    assert [c["role"] for c in contents] == ["user", "user", "model", "user", "user"]
    assert contents[1]["parts"] == [{"text": system_context_text(AGENTS)}]
    assert contents[4]["parts"] == [{"text": system_context_text(PLAN)}]
    assert out["generationConfig"]["thinkingConfig"]["thinkingBudget"] > 0


@pytest.mark.parametrize("src", ["openai", "openai_responses"])
def test_mid_conversation_system_reaches_anthropic_as_system_role(src: str) -> None:
    chat = cv.convert_request(BODY, "anthropic", src)
    back = cv.convert_request(chat, src, "anthropic")  # type: ignore[arg-type]
    check_request("anthropic", back)
    systems = [m for m in back["messages"] if m["role"] == "system"]
    assert [_texts(m["content"]) for m in systems] == [AGENTS, PLAN]
    # effort from another format becomes a budget: every thinking model takes one
    assert back["thinking"] == {"type": "enabled", "budget_tokens": 24576}


@pytest.mark.parametrize("dst", ["openai", "openai_responses", "gemini"])
def test_structured_output_config_maps_to_each_target(dst: str) -> None:
    schema = {"type": "object", "properties": {"files": {"type": "array", "items": {"type": "string"}}}}
    body = {**BODY, "output_config": {"effort": "low", "format": {"type": "json_schema", "schema": schema}}}
    out = cv.convert_request(body, "anthropic", dst, path=None)  # type: ignore[arg-type]
    check_request(dst, out)
    if dst == "openai":
        assert out["response_format"]["json_schema"]["schema"] == schema
        assert out["reasoning_effort"] == "low"
    elif dst == "openai_responses":
        assert out["text"]["format"]["schema"] == schema
        assert out["reasoning"]["effort"] == "low"
    else:
        gen = out["generationConfig"]
        assert gen["responseMimeType"] == "application/json"
        assert gen["responseJsonSchema"] == schema
        assert gen["thinkingConfig"]["thinkingBudget"] == 2048
