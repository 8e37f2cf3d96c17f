"""The pure parts: turn model, change detection, tool pairing, the live feed, the export's escaping."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from ccproxy.viewer.live import LiveFeed, sse_text
from ccproxy.viewer.model import client_family, conversation_view, find_session, session_rows
from ccproxy.viewer.page import export_page, json_for_script

TOOL = {"name": "read", "description": "Read", "input_schema": {"type": "object"}}


def flow(
    i: int, body: dict[str, Any], answer: dict[str, Any], ua: str = "claude-cli/2.0.1 (external, cli)"
) -> dict[str, Any]:
    return {
        "id": f"flow-{i}",
        "timestamp_start": 1000.0 + i,
        "timestamp_end": 1000.5 + i,
        "client_request": {
            "method": "POST",
            "path": "/v1/messages",
            "headers": {"user-agent": ua},
            "body": json.dumps(body),
            "body_encoding": "utf8",
        },
        "response": {
            "status_code": 200,
            "headers": {"content-type": "application/json"},
            "body": json.dumps(answer),
            "body_encoding": "utf8",
        },
        "ccproxy": {"client_wire": "anthropic", "provider": "anthropic", "session_id": "s1"},
    }


def reply(*content: dict[str, Any], stop: str = "end_turn") -> dict[str, Any]:
    usage = {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 3}
    return {
        "id": "m",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": list(content),
        "stop_reason": stop,
        "usage": usage,
    }


USE = {"type": "tool_use", "id": "tu_1", "name": "read", "input": {"path": "a"}}
RESULT = {"type": "tool_result", "tool_use_id": "tu_1", "content": "file a"}


def loop() -> list[dict[str, Any]]:
    u1 = {"role": "user", "content": "read a"}
    a1 = {"role": "assistant", "content": [USE]}
    u2 = {"role": "user", "content": [RESULT]}
    base = {"model": "claude-test", "max_tokens": 10, "tools": [TOOL]}
    return [
        flow(0, {**base, "system": "S", "messages": [u1]}, reply(USE, stop="tool_use")),
        flow(1, {**base, "system": "S", "messages": [u1, a1, u2]}, reply({"type": "text", "text": "done"})),
        # system prompt and tools changed silently, and the first answer was rewritten
        flow(2, {**base, "system": "S2", "tools": [TOOL, {**TOOL, "name": "write"}],
                 "messages": [u1, {"role": "assistant", "content": "edited"}, u2]},
             reply({"type": "text", "text": "ok"})),
    ]  # fmt: skip


def test_changes_flag_system_tools_and_rewrites() -> None:
    flows = loop()
    conv = find_session(flows, "s1")
    assert conv is not None
    turns = conversation_view(conv)["turns"]
    first, second, third = (t["changes"] for t in turns)
    assert first == {"first": True, "appended": 1, "common": 0}
    assert (second["common"], second["appended"], second["rewritten"], second["system_changed"]) == (1, 2, 0, False)
    assert (third["common"], third["appended"], third["rewritten"]) == (1, 2, 2)
    assert third["system_changed"] and third["tools_added"] == ["write"] and third["tools_changed"] == []
    # only the messages after the common prefix travel with a turn
    assert [m["role"] for m in turns[1]["request"]["messages"]] == ["assistant", "user"]


def test_tool_calls_and_results_are_paired() -> None:
    turns = conversation_view(find_session(loop(), "s1"))["turns"]  # type: ignore[arg-type]
    call = turns[0]["response"]["parts"][0]
    assert call["type"] == "tool_use" and call["paired"] is True
    result = turns[1]["request"]["messages"][1]["parts"][0]
    assert result["type"] == "tool_result" and result["name"] == "read" and result["paired"] is True


def test_session_rows_sum_usage_and_name_the_client() -> None:
    (row,) = session_rows(loop())
    assert row["key"] == "s1" and row["turns"] == 3 and row["clients"] == ["claude-cli"]
    assert (row["input_tokens"], row["output_tokens"], row["cache_read_tokens"]) == (39, 15, 9)
    assert row["errors"] == 0 and row["models"] == ["claude-test"]


@pytest.mark.parametrize(
    ("ua", "family"),
    [
        ("claude-cli/2.0.1 (external, cli)", "claude-cli"),
        ("Anthropic/Python 0.40.0", "Anthropic/Python"),
        ("OpenAI/Python 1.55.0", "OpenAI/Python"),
        ("google-genai-sdk/1.2.0 gl-python/3.12", "google-genai-sdk"),
        ("", "unknown"),
    ],
)
def test_client_family(ua: str, family: str) -> None:
    assert client_family({"client_request": {"headers": {"user-agent": ua}}}) == family


def test_export_data_cannot_close_its_script_block() -> None:
    text = json_for_script({"x": "</script><script>alert(1)</script>&"})
    assert "</" not in text and "<" not in text and json.loads(text)["x"].startswith("</script>")
    page = export_page({"sessions": [], "conversations": {}, "exported_at": "</script>"})
    assert page.count("<script") == 2 and page.count("</script>") == 2  # the data block and the code
    assert "Content-Security-Policy" in page and "unsafe-inline" not in page


async def test_live_feed_wakes_waiters_and_survives_a_restart_id() -> None:
    feed = LiveFeed()
    waiting = asyncio.ensure_future(feed.wait_after(0, timeout=30))
    await asyncio.sleep(0)
    assert not waiting.done()
    feed.publish("f1")
    assert [e.flow_id for e in await waiting] == ["f1"]
    assert await feed.wait_after(1, timeout=0.01) == []
    assert [e.seq for e in feed.after(99)] == [1]  # an id from an earlier daemon: all recent
    assert sse_text([], 250, 7) == "retry: 250\n\nid: 7\n\n"


def test_cost_sums_priced_turns_and_stays_unknown_without_prices() -> None:
    from decimal import Decimal

    seen: list[tuple[object, ...]] = []

    def price(*args: object) -> Decimal:
        seen.append(args)
        return Decimal("0.01")

    (row,) = session_rows(loop(), price)
    assert row["cost_usd"] == pytest.approx(0.03)
    assert seen[0][:2] == ("claude-test", "anthropic") and seen[0][3] == (13, 5, 3, 0)
    (unpriced,) = session_rows(loop(), lambda *a: None)
    assert unpriced["cost_usd"] is None
