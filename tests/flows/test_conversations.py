from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from flowkit import make_flow, to_contract
from tests.conftest import corpus_path

from ccproxy.flows.conversations import (
    Usage,
    flow_usage,
    group_conversations,
    session_from_user_id,
)


def _sse_data(text: str) -> list[Any]:
    return [json.loads(ln[5:]) for ln in text.splitlines() if ln.startswith("data:") and ln[5:].strip() != "[DONE]"]


# Oracles: the official SDKs' own models and accumulators say what the usage is.
def _anthropic(body: str, stream: bool) -> Usage:
    # The beta types know every content block type the recordings use (advisor, compaction).
    from anthropic.lib.streaming._beta_messages import accumulate_event
    from anthropic.types.beta import BetaMessage as Message
    from anthropic.types.beta import BetaRawMessageStreamEvent as RawMessageStreamEvent
    from pydantic import TypeAdapter

    if stream:
        adapter: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)
        snapshot = None
        bufs: dict[int, bytes] = {}
        for data in _sse_data(body):
            if data.get("type") in ("ping", "error"):
                continue
            snapshot = accumulate_event(
                event=adapter.validate_python(data),
                current_snapshot=snapshot,
                json_bufs=bufs,
                request_headers=httpx.Headers(),
            )
        assert snapshot is not None
        usage = snapshot.usage
    else:
        usage = Message.model_validate_json(body).usage
    cached = (usage.cache_creation_input_tokens or 0) + (usage.cache_read_input_tokens or 0)
    return Usage(usage.input_tokens + cached, usage.output_tokens)


def _openai_chat(body: str, stream: bool) -> Usage:
    from openai.types.chat import ChatCompletion, ChatCompletionChunk

    if stream:
        chunks = [ChatCompletionChunk.model_validate(d) for d in _sse_data(body)]
        usage = next(c.usage for c in reversed(chunks) if c.usage)
    else:
        usage = ChatCompletion.model_validate_json(body).usage
    assert usage is not None
    return Usage(usage.prompt_tokens, usage.completion_tokens)


def _openai_responses(body: str, stream: bool) -> Usage:
    from openai._models import construct_type  # how the SDK itself builds responses (lenient)
    from openai.types.responses import Response

    if stream:
        done = [d for d in _sse_data(body) if d.get("type") == "response.completed"]
        raw = done[-1]["response"]
    else:
        raw = json.loads(body)
    response = construct_type(type_=Response, value=raw)
    assert isinstance(response, Response)
    assert response.usage is not None
    return Usage(response.usage.input_tokens, response.usage.output_tokens)


def _gemini(body: str, stream: bool) -> Usage:
    from google.genai.types import GenerateContentResponse

    docs = _sse_data(body) if stream else [json.loads(body)]
    meta = next(m for m in reversed([GenerateContentResponse.model_validate(d).usage_metadata for d in docs]) if m)
    return Usage(meta.prompt_token_count or 0, (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0))


CASES = [
    ("anthropic/anthropic_cache_real_api__0.json", _anthropic),
    ("anthropic/anthropic_advisor_tool_stream.json", _anthropic),
    ("anthropic/anthropic_compaction_usage_with_cache_streaming.json", _anthropic),
    ("openai_chat/compatible_api_with_tool_calls_without_id__0.json", _openai_chat),
    ("openai_chat/openai_moderation_stream.json", _openai_chat),
    ("openai_responses/gpt5_pro.json", _openai_responses),
    ("openai_responses/background_mode_streaming_vcr.json", _openai_responses),
    ("gemini/google_discriminated_union_native_output.json", _gemini),
    ("gemini/google_model_iter_stream__0.json", _gemini),
]


@pytest.mark.parametrize(("name", "oracle"), CASES, ids=[c[0] for c in CASES])
def test_usage_matches_sdk_oracle_on_recorded_responses(name: str, oracle: Any) -> None:
    recorded = json.loads(corpus_path(name).read_text())
    body = recorded["response"]["body"]
    flow = make_flow(
        f"https://{recorded['provider_host']}{recorded['request']['path']}",
        recorded["request"]["body"],
        response_body=body,
        response_headers={"content-type": recorded["response"]["content_type"]},
    )
    expected = oracle(body, recorded["stream"])
    assert expected.input_tokens + expected.output_tokens > 0
    assert flow_usage(to_contract(flow)) == expected


@pytest.mark.parametrize(
    ("user_id", "session"),
    [
        (
            "user_9f2e_account_1234-abcd_session_5e0c9a6e-1111-2222-3333-444455556666",
            "5e0c9a6e-1111-2222-3333-444455556666",
        ),
        ('{"device_id": "d1", "account_uuid": "a1", "session_id": "s-42"}', "s-42"),
        ("plain-user", "plain-user"),
    ],
)
def test_session_from_claude_code_user_id(user_id: str, session: str) -> None:
    assert session_from_user_id(user_id) == session


def _turns(history: list[tuple[str, str]], **extra: Any) -> dict[str, Any]:
    messages = [{"role": role, "content": [{"type": "text", "text": text}]} for role, text in history]
    messages[-1]["content"][-1]["cache_control"] = {"type": "ephemeral"}  # moves every turn
    return {"model": "claude-haiku-4-5", "system": "be brief", "messages": messages, **extra}


def _usage_body(i: int, o: int) -> dict[str, Any]:
    return {"type": "message", "content": [], "usage": {"input_tokens": i, "output_tokens": o}}


def test_grouping_by_session_header_prefix_and_other() -> None:
    t = 1_800_000_000.0
    a1 = [("user", "hi")]
    a2 = [*a1, ("assistant", "hello"), ("user", "more")]
    a3 = [*a2, ("assistant", "sure"), ("user", "thanks")]
    b1 = [("user", "unrelated question")]
    flows = [
        make_flow(body=_turns(a1), response_body=_usage_body(10, 2), started=t),
        make_flow(body=_turns(b1), response_body=_usage_body(5, 1), started=t + 1),
        make_flow(body=_turns(a2), response_body=_usage_body(20, 3), started=t + 2),
        make_flow("https://api.anthropic.com/v1/models", method="GET", started=t + 3),
        make_flow(body=_turns(a3), response_body=_usage_body(30, 4), started=t + 4),
        make_flow(body=_turns(b1, metadata={"user_id": "user_x_account_y_session_abc"}), started=t + 5),
        make_flow(
            "https://api.openai.com/v1/responses",
            {"model": "gpt-5", "input": "hi"},
            headers={"session-id": "codex-1"},
            started=t + 6,
        ),
        make_flow(body=_turns(b1), meta={"session_id": "abc"}, started=t + 7),
        make_flow(
            "https://api.openai.com/v1/responses",
            {"model": "gpt-5", "input": "again"},
            headers={"session-id": "codex-1"},
            started=t + 8,
        ),
    ]
    contract = [to_contract(f) for f in flows]
    groups = group_conversations(contract)
    ids = [f["id"] for f in contract]
    assert [(g.source, [ids.index(f["id"]) for f in g.flows]) for g in groups] == [
        ("prefix", [0, 2, 4]),
        ("prefix", [1]),
        ("other", [3]),
        ("session", [5, 7]),
        ("header", [6, 8]),
    ]
    first = groups[0]
    assert first.turns == 3
    assert first.usage == Usage(60, 9)
    assert first.model == "claude-haiku-4-5"
    assert first.duration == pytest.approx(4.5)
    assert groups[3].key == "abc" and groups[4].key == "codex-1"
    assert groups[4].model == "gpt-5"
    assert first.to_dict()["flow_ids"] == [ids[0], ids[2], ids[4]]


def test_prefix_matching_in_gemini_and_openai_formats() -> None:
    g1 = {"contents": [{"role": "user", "parts": [{"text": "a"}]}]}
    g2 = {
        "contents": [
            *g1["contents"],
            {"role": "model", "parts": [{"text": "b"}]},
            {"role": "user", "parts": [{"text": "c"}]},
        ]
    }
    o1 = {"model": "gpt-4o", "messages": [{"role": "user", "content": "a"}]}
    o2 = {
        "model": "gpt-4o",
        "messages": [
            *o1["messages"],
            {"role": "assistant", "content": "b"},
            {"role": "user", "content": "c"},
        ],
    }
    url = "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
    flows = [
        to_contract(make_flow(url, g1)),
        to_contract(make_flow("https://api.openai.com/v1/chat/completions", o1)),
        to_contract(make_flow(url, g2)),
        to_contract(make_flow("https://api.openai.com/v1/chat/completions", o2)),
    ]
    groups = group_conversations(flows)
    assert [[f["id"] for f in g.flows] for g in groups] == [
        [flows[0]["id"], flows[2]["id"]],
        [flows[1]["id"], flows[3]["id"]],
    ]
    assert groups[0].model == "gemini-2.5-flash"


def test_empty_set_has_no_conversations() -> None:
    assert group_conversations([]) == []
