"""All 16 directions (12 cross + 4 identities), feature by feature: the rendered body passes
the destination SDK's typed params / model classes, and parsing it back keeps the meaning."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from ccproxy.lightllm import convert as cv
from ccproxy.lightllm.ir import WIRES, MediaPart, Request, TextPart, ToolCallPart, ToolResultPart
from tests.lightllm.lightllm_builders import OUT_SCHEMA, SCHEMA, WEATHER, Answer, Call, Convo, request, response
from tests.lightllm.lightllm_oracles import check_request, check_response

PAIRS = [pytest.param(a, b, id=f"{a}->{b}") for a in WIRES for b in WIRES]
GEMINI_PATH = "/v1beta/models/gemini-2.5-pro:generateContent"

CONVOS = {
    "text": Convo(tools=False, temperature=None),
    "multi_turn_system": Convo(assistant_text="Which units?", tools=False),
    "image": Convo(image=True, tools=False),
    "tools_parallel_calls_results": WEATHER,
    "json_schema": Convo(tools=False, json_schema=True, temperature=None),
    "reasoning": Convo(tools=False, reasoning=True, temperature=None, max_tokens=16000),
}


def _path(wire: str) -> str | None:
    return GEMINI_PATH if wire == "gemini" else None


def _facts(req: Request) -> dict[str, Any]:
    msgs = req.messages
    return {
        "system": " ".join(s.text for s in req.system or []),
        "user": [p.text for m in msgs if m.role == "user" for p in m.parts if isinstance(p, TextPart)],
        "images": sum(isinstance(p, MediaPart) and p.kind == "image" for m in msgs for p in m.parts),
        "assistant": "".join(p.text for m in msgs if m.role == "assistant" for p in m.parts if isinstance(p, TextPart)),
        "calls": [(p.name, p.arguments) for m in msgs for p in m.parts if isinstance(p, ToolCallPart)],
        "results": [
            "".join(c.text for c in p.content if isinstance(c, TextPart))
            for m in msgs
            for p in m.parts
            if isinstance(p, ToolResultPart)
        ],
        "tools": [(t.name, t.parameters) for t in req.tools or []],
        "max_tokens": req.max_tokens,
    }


@pytest.mark.parametrize("name", list(CONVOS))
@pytest.mark.parametrize(("src", "dst"), PAIRS)
def test_request_direction(src: str, dst: str, name: str) -> None:
    convo = CONVOS[name]
    body = request(src, convo)
    r = cv.convert_request_full(body, src, dst, path=_path(src))  # type: ignore[arg-type]
    check_request(dst, r.body)
    if dst == "gemini":
        assert r.path == f"/v1beta/models/{cv.parse_request(body, src, path=_path(src)).model}:generateContent"  # type: ignore[arg-type]
    back = cv.normalize(cv.parse_request(r.body, dst, path=r.path))  # type: ignore[arg-type]
    src_ir = cv.normalize(cv.parse_request(body, src, path=_path(src)))  # type: ignore[arg-type]
    assert _facts(back) == _facts(src_ir)
    assert _facts(back)["calls"] == [(c.name, c.args) for c in convo.calls]
    if convo.tools:
        assert _facts(back)["tools"] == [("get_weather", SCHEMA)]
    # Every tool result still points at a tool call of the conversation.
    call_ids = {p.id for m in back.messages for p in m.parts if isinstance(p, ToolCallPart)}
    for m in back.messages:
        for p in m.parts:
            if isinstance(p, ToolResultPart):
                assert p.tool_call_id in call_ids
    if convo.temperature is not None:
        assert back.temperature == convo.temperature
    if convo.stop and "openai_responses" not in (src, dst):  # Responses has no stop sequences (a logged drop)
        assert back.stop == convo.stop
    if convo.json_schema:
        assert back.response_format is not None and back.response_format.schema_ == OUT_SCHEMA
    if convo.reasoning:
        assert back.reasoning is not None and back.reasoning.enabled is not False
        assert back.reasoning.effort is not None or back.reasoning.budget_tokens is not None


def test_anthropic_thinking_gets_room_and_no_temperature() -> None:
    body = request("openai", Convo(tools=False, reasoning=True, temperature=0.2, max_tokens=None))  # type: ignore[arg-type]
    body.pop("max_completion_tokens")
    out = cv.convert_request(body, "openai", "anthropic")
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 8192}
    assert out["max_tokens"] > 8192
    assert "temperature" not in out


def test_anthropic_thinking_budget_capped_below_max_tokens() -> None:
    body = request("gemini", Convo(tools=False, reasoning=True, max_tokens=2048))
    out = cv.convert_request(body, "gemini", "anthropic", path=GEMINI_PATH)
    assert out["max_tokens"] == 2048 and out["thinking"]["budget_tokens"] == 2047


def test_model_override_and_streaming_paths() -> None:
    body = request("openai", WEATHER) | {"stream": True}
    r = cv.convert_request_full(body, "openai", "gemini", model="gemini-2.5-flash")
    assert r.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert "model" not in r.body and "stream" not in r.body
    back = cv.convert_request_full(request("gemini", WEATHER), "gemini", "openai", path=r.path)
    assert back.body["stream"] is True and back.body["stream_options"] == {"include_usage": True}
    assert back.body["model"] == "gemini-2.5-flash" and back.path == "/v1/chat/completions"
    same = cv.convert_request_full(body, "openai", "openai", model="other", path="/openai/v1/chat/completions")
    assert same.body["model"] == "other" and same.path == "/openai/v1/chat/completions"
    assert body["model"] == "gpt-4o"  # the input is never mutated


ANSWERS = {
    "text": Answer(),
    "parallel_tool_calls": Answer(
        calls=[
            Call("call_a", "get_weather", {"city": "Paris"}),
            Call("call_b", "get_weather", {"city": "Rome"}),
        ],
        stop="tool_use",
    ),
    "max_tokens": Answer(text="It is", stop="max_tokens"),
    "refusal": Answer(text="I can't help with that.", stop="refusal"),
    "reasoning": Answer(thinking="The user wants weather.", signature="c2lnbmF0dXJl", stop="end_turn"),
}


@pytest.mark.parametrize("name", list(ANSWERS))
@pytest.mark.parametrize(("src", "dst"), PAIRS)
def test_response_direction(src: str, dst: str, name: str) -> None:
    a = ANSWERS[name]
    body = response(src, a)
    out = cv.convert_response(body, src, dst, model="client-model")  # type: ignore[arg-type]
    check_response(dst, out)
    back = cv.parse_response(out, dst)  # type: ignore[arg-type]
    assert "".join(p.text for p in back.parts if isinstance(p, TextPart)) == (a.text or "")
    assert [(p.name, p.arguments) for p in back.parts if isinstance(p, ToolCallPart)] == [
        (c.name, c.args) for c in a.calls
    ]
    assert back.stop_reason == a.stop
    assert back.usage is not None
    u = back.usage
    assert (u.input_tokens, u.output_tokens, u.cache_read_tokens) == (
        a.input_tokens,
        a.output_tokens,
        a.cached_tokens,
    )
    assert u.reasoning_tokens == a.reasoning_tokens
    if src != dst:
        assert back.model == "client-model"
    if a.thinking and src != "openai":
        # Thinking text reaches every client (Chat as reasoning_content).
        assert any(p.type == "thinking" and p.text == a.thinking for p in back.parts) or dst == "openai"


def test_dropped_fields_are_logged_by_name(caplog: pytest.LogCaptureFixture) -> None:
    gem = request("gemini", WEATHER)
    gem["generationConfig"]["candidateCount"] = 2
    gem["safetySettings"] = [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}]
    ant = request("anthropic", WEATHER)
    ant["messages"][0]["content"][0]["cache_control"] = {"type": "ephemeral"}
    ant["metadata"] = {"user_id": "u1", "tier": "x"}
    with caplog.at_level(logging.DEBUG, logger="ccproxy.lightllm"):
        cv.convert_request(gem, "gemini", "openai", path=GEMINI_PATH)
        out = cv.convert_request(ant, "anthropic", "openai_responses")
    assert "candidateCount" in caplog.text and "safetySettings" in caplog.text
    assert "cache_control" in caplog.text and "'tier'" in caplog.text
    assert "stop sequences" in caplog.text  # Responses has none
    assert out["user"] == "u1"


@pytest.mark.parametrize("dst", ["anthropic", "gemini", "openai"])
def test_empty_text_and_emptied_turns_are_not_sent(dst: str) -> None:
    chat = request("openai", WEATHER)
    chat["messages"][2]["content"] = ""  # what many Chat clients send next to tool calls
    out = cv.convert_request(chat, "openai", dst)  # type: ignore[arg-type]
    check_request(dst, out)
    assert '"text": ""' not in json.dumps(out)
    ant = request("anthropic", Convo(tools=False))
    ant["messages"] += [
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "s"}]},
        {"role": "user", "content": "next"},
    ]
    if dst != "anthropic":
        out = cv.convert_request(ant, "anthropic", dst)  # type: ignore[arg-type]
        turns = out.get("messages") or out.get("contents")
        assert len(turns) == (3 if dst == "openai" else 2)  # system message + 2 user turns for Chat


@pytest.mark.parametrize("dst", ["anthropic", "openai", "openai_responses"])
def test_gemini_calls_without_ids_are_paired_by_name_and_order(dst: str) -> None:
    gem = request("gemini", WEATHER)
    for part in gem["contents"][1]["parts"][1:] + gem["contents"][2]["parts"]:
        next(iter(v for k, v in part.items() if k.startswith("function"))).pop("id")
    out = cv.convert_request(gem, "gemini", dst, path=GEMINI_PATH)  # type: ignore[arg-type]
    check_request(dst, out)
    back = cv.normalize(cv.parse_request(out, dst))  # type: ignore[arg-type]
    calls = [p for m in back.messages for p in m.parts if isinstance(p, ToolCallPart)]
    results = [p for m in back.messages for p in m.parts if isinstance(p, ToolResultPart)]
    assert [r.tool_call_id for r in results] == [c.id for c in calls] and len(set(r.tool_call_id for r in results)) == 2
    # Back to Gemini the synthetic ids are gone again.
    same = cv.render_request(cv.parse_request(gem, "gemini", path=GEMINI_PATH), "gemini")
    assert same == gem


def test_several_user_text_blocks_stay_separate_in_chat() -> None:
    ant = request("anthropic", Convo(tools=False))
    ant["messages"][0]["content"] = [
        {"type": "text", "text": "<system-reminder>x</system-reminder>"},
        {"type": "text", "text": "hello"},
    ]
    out = cv.convert_request(ant, "anthropic", "openai")
    check_request("openai", out)
    assert out["messages"][1]["content"] == [
        {"type": "text", "text": "<system-reminder>x</system-reminder>"},
        {"type": "text", "text": "hello"},
    ]
