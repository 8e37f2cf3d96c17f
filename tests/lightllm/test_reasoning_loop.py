"""A two-turn tool loop through a client of another format keeps the provider's reasoning
state: turn 2 reaches the provider with its own thinking signature / encrypted reasoning /
thoughtSignature, exactly as issued, and with its own tool call ids."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from ccproxy.lightllm import carrier
from ccproxy.lightllm import convert as cv
from ccproxy.lightllm.ir import WIRES, ThinkingPart, ToolCallPart
from tests.lightllm.lightllm_builders import Answer, Call, Convo, echo, request, response
from tests.lightllm.lightllm_oracles import check_request, check_response

GEMINI_PATH = "/v1beta/models/gemini-2.5-pro:generateContent"
SIG = {
    "anthropic": "EqQBCkYIBxgCKkBlX3Rlc3Rfc2lnbmF0dXJlX2Zyb21fYW50aHJvcGlj",
    "openai_responses": "gAAAAABo_encrypted_reasoning_state_from_openai==",
    "gemini": "CiRnZW1pbmkgdGhvdWdodCBzaWduYXR1cmUgYnl0ZXMg+/8=",
}
CALLS = [
    Call("toolu_01A", "get_weather", {"city": "Paris"}),
    Call("toolu_01B", "get_weather", {"city": "Rome"}),
]
LOOPS = [pytest.param(u, c, id=f"{c}-client->{u}-upstream") for u in SIG for c in WIRES if c != u]


def _path(wire: str) -> str | None:
    return GEMINI_PATH if wire == "gemini" else None


def _sdk_roundtrip(wire: str, body: dict[str, Any]) -> dict[str, Any]:
    """The response as the client's SDK hands it back to user code and re-serialises it."""
    obj = check_response(wire, body)
    dumped: dict[str, Any] = obj.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


@pytest.mark.parametrize(("upstream", "client"), LOOPS)
def test_reasoning_survives_a_foreign_client(upstream: str, client: str) -> None:
    turn1 = request(client, Convo(tools=True, reasoning=True, temperature=None, max_tokens=16000))
    up_resp = response(
        upstream,
        Answer(text="Checking.", thinking="hmm", signature=SIG[upstream], calls=CALLS, stop="tool_use"),
    )
    client_resp = cv.convert_response(up_resp, upstream, client)  # type: ignore[arg-type]
    turn2 = echo(client, turn1, _sdk_roundtrip(client, client_resp), ["18C", "21C"])
    check_request(client, turn2)
    up2 = cv.convert_request(turn2, client, upstream, path=_path(client))  # type: ignore[arg-type]
    check_request(upstream, up2)

    if upstream == "anthropic":
        assistant = up2["messages"][-2]
        assert assistant["content"][0] == {
            "type": "thinking",
            "thinking": "hmm",
            "signature": SIG["anthropic"],
        }
        assert [b["id"] for b in assistant["content"] if b["type"] == "tool_use"] == [
            "toolu_01A",
            "toolu_01B",
        ]
        assert [b["tool_use_id"] for b in up2["messages"][-1]["content"]] == ["toolu_01A", "toolu_01B"]
    elif upstream == "openai_responses":
        items = up2["input"]
        kinds = [it.get("type") for it in items]
        reasoning = [it for it in items if it.get("type") == "reasoning"]
        assert [r["encrypted_content"] for r in reasoning] == [SIG["openai_responses"]]
        assert reasoning[0]["id"] == "rs_1"
        assert kinds.index("reasoning") < kinds.index("function_call")
        assert [it["call_id"] for it in items if it.get("type") == "function_call"] == [
            "toolu_01A",
            "toolu_01B",
        ]
        assert [it["call_id"] for it in items if it.get("type") == "function_call_output"] == [
            "toolu_01A",
            "toolu_01B",
        ]
        assert up2["include"] == ["reasoning.encrypted_content"]
    else:
        model_turn = up2["contents"][-2]
        calls = [p for p in model_turn["parts"] if "functionCall" in p]
        assert calls[0]["thoughtSignature"] == SIG["gemini"]
        assert "thoughtSignature" not in calls[1]
        results = up2["contents"][-1]["parts"]
        assert [r["functionResponse"]["id"] for r in results] == [c["functionCall"]["id"] for c in calls]
        assert [r["functionResponse"]["name"] for r in results] == ["get_weather", "get_weather"]


def test_chat_client_sees_reasoning_text_and_clean_looking_ids() -> None:
    up = response("anthropic", Answer(thinking="hmm", signature=SIG["anthropic"], calls=CALLS, stop="tool_use"))
    out = cv.convert_response(up, "anthropic", "openai")
    msg = out["choices"][0]["message"]
    assert msg["reasoning_content"] == "hmm"
    first, second = (c["id"] for c in msg["tool_calls"])
    assert first.startswith("toolu_01A" + carrier.ID_MARK) and second == "toolu_01B"


def test_foreign_signature_is_dropped_towards_a_provider_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    body = request("anthropic", Convo(tools=True, reasoning=True, temperature=None, max_tokens=16000))
    body["messages"].append(
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": SIG["anthropic"]},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "text", "text": "Done."},
            ],
        }
    )
    with caplog.at_level(logging.DEBUG, logger="ccproxy.lightllm"):
        out = cv.convert_request(body, "anthropic", "gemini")
    assert out["contents"][-1] == {"role": "model", "parts": [{"text": "Done."}]}
    assert "dropped thinking from anthropic" in caplog.text
    assert "dropped redacted_thinking from anthropic" in caplog.text


@pytest.mark.parametrize("urlsafe", [False, True])
def test_carrier_round_trip_and_real_values_untouched(urlsafe: bool) -> None:
    part = ThinkingPart(text="t", signature="s", origin="anthropic")
    packed = carrier.pack([part], urlsafe=urlsafe)
    assert carrier.unpack(packed) == [part]
    for real in (SIG["anthropic"], SIG["gemini"], SIG["openai_responses"], "", None, "!!"):
        assert carrier.unpack(real) is None
    base, parts = carrier.unpack_id(carrier.pack_id("call_9", [ToolCallPart(name="f", signature="g")]))
    assert base == "call_9" and parts == [ToolCallPart(name="f", signature="g")]
    assert carrier.unpack_id("call_plain") == ("call_plain", [])
