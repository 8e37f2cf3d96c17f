from __future__ import annotations

import io
import json
from typing import Any

import pytest
from flowkit import make_flow, to_contract
from rich.console import Console

from ccproxy.flows.compare import compare_flows
from ccproxy.flows.diff import NotEnoughFlows, render_diffs, sliding_diffs
from ccproxy.flows.render import print_comparisons


def claude_body(question: str) -> dict[str, Any]:
    # Keys deliberately unsorted: the diff must not depend on the client's key order.
    return {
        "model": "claude-haiku-4-5",
        "max_tokens": 1024,
        "system": [{"type": "text", "text": "You are Claude Code."}],
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": question, "cache_control": {"type": "ephemeral"}}],
            }
        ],
        "metadata": {"user_id": "user_abc_account_def_session_0001"},
        "stream": True,
    }


def _flows(*questions: str) -> list[dict[str, Any]]:
    return [to_contract(make_flow(body=claude_body(q), started=1_800_000_000.0 + i)) for i, q in enumerate(questions)]


def test_diff_of_two_flows_shows_only_the_changed_text() -> None:
    flows = _flows("what's 2+2", "what's 3+3")
    text = render_diffs(flows)
    lines = text.splitlines()
    a, b = flows[0]["id"][:8], flows[1]["id"][:8]
    assert lines[0] == f"--- flow:{a}"
    assert lines[1] == f"+++ flow:{b}"
    assert lines[2].startswith("@@ ")
    changed = [ln for ln in lines[3:] if ln.startswith(("+", "-"))]
    assert changed == ['-          "text": "what\'s 2+2",', '+          "text": "what\'s 3+3",']
    assert '"cache_control": {' in text  # context lines come from sorted, indented JSON


def test_sliding_window_pairs_neighbours() -> None:
    flows = _flows("one", "two", "two", "three")
    pairs = list(sliding_diffs(flows))
    ids = [f["id"][:8] for f in flows]
    assert [(p.left_id, p.right_id) for p in pairs] == [(ids[0], ids[1]), (ids[1], ids[2]), (ids[2], ids[3])]
    assert [bool(p.lines) for p in pairs] == [True, False, True]
    assert f"{ids[1]} → {ids[2]}: request bodies are identical." in render_diffs(flows).splitlines()


def test_key_order_does_not_count_as_a_change() -> None:
    one = to_contract(make_flow(body='{"a": 1, "b": [1, 2]}'))
    two = to_contract(make_flow(body='{"b": [1, 2],   "a": 1}'))
    assert [p.lines for p in sliding_diffs([one, two])] == [[]]


def test_non_json_and_binary_bodies() -> None:
    text = to_contract(make_flow(body="line one\nline two\n"))
    text2 = to_contract(make_flow(body="line one\nline 2\n"))
    binary = to_contract(make_flow(body=b"\xff\xfe\x00binary"))
    out = render_diffs([text, text2, binary])
    assert "-line two" in out and "+line 2" in out
    assert "+<9 bytes of binary data, sha256 " in out


@pytest.mark.parametrize("count", [0, 1])
def test_diff_needs_two_flows(count: int) -> None:
    with pytest.raises(NotEnoughFlows, match=f"needs at least 2 flows, the set has {count}"):
        render_diffs(_flows(*["q"] * count))


def _render(flows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    print_comparisons(Console(file=out, width=100, force_terminal=False), compare_flows(flows))
    return out.getvalue()


def test_compare_passthrough_says_identical() -> None:
    flows = _flows("what's 2+2", "what's 3+3")
    assert _render(flows).splitlines() == [f"{f['id'][:8]}: request bodies are identical." for f in flows]


def test_compare_transform_shows_url_panel_and_body_diff() -> None:
    flow = to_contract(
        make_flow(
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent",
            {"contents": [{"role": "user", "parts": [{"text": "what's 2+2"}]}]},
            client_url="https://api.anthropic.com/v1/messages",
            client_body=claude_body("what's 2+2"),
        )
    )
    fid = flow["id"][:8]
    (result,) = compare_flows([flow])
    assert result.url_change == (
        "https://api.anthropic.com/v1/messages",
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent",
    )
    assert result.body_diff[:2] == [f"--- client:{fid}", f"+++ forwarded:{fid}"]
    assert '+  "contents": [' in result.body_diff
    assert '-  "messages": [' in result.body_diff
    out = _render([flow])
    assert f"URL change — {fid}" in out
    assert f"Body diff — {fid}" in out
    assert "- https://api.anthropic.com/v1/messages" in out
    assert "identical" not in out


def test_compare_url_change_with_identical_body() -> None:
    body = claude_body("hi")
    flow = to_contract(
        make_flow(
            "https://api.anthropic.com/v1/messages",
            body,
            client_url="http://127.0.0.1:4000/v1/messages",
            client_body=json.dumps(body),
        )
    )
    out = _render([flow])
    assert "URL change" in out
    assert out.rstrip().endswith(f"{flow['id'][:8]}: request bodies are identical.")


def test_compare_without_snapshot() -> None:
    flow = to_contract(make_flow())
    flow["client_request"] = None
    assert _render([flow]).strip() == f"{flow['id'][:8]}: no client request snapshot recorded."
