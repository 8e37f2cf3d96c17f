"""Pure parts of the MCP package: the notification buffer, the synthetic exchange, the guard."""

from __future__ import annotations

from typing import Any

import pytest

from ccproxy.access.local import is_loopback_bind, split_host
from ccproxy.config.models import Mcp
from ccproxy.mcp.guard import origin_allowed
from ccproxy.mcp.inject import insert_before_final_user, render_pair
from ccproxy.mcp.notify import McpEvent, NotificationBuffer
from ccproxy.mcp.token import resolve_token


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_buffer_ttl_bound_and_once() -> None:
    clock = Clock()
    buf = NotificationBuffer(ttl=10, max_per_session=2, clock=clock)
    assert buf.push(McpEvent("a", "done", session_id="s")) == 1
    clock.now = 5
    assert buf.push(McpEvent("b", "done", session_id="s")) == 2
    assert buf.push(McpEvent("c", "done", session_id="s")) == 2  # bounded: the oldest goes
    clock.now = 14.9
    assert [e.task_id for e in buf.take(["s"])] == ["b", "c"]
    assert buf.take(["s"]) == []  # taken once
    buf.push(McpEvent("d", "done", session_id="s"))
    buf.push(McpEvent("e", "done"))
    clock.now = 24.8
    assert buf.pending("s") == 1 and buf.pending(None) == 1
    clock.now = 24.91
    assert buf.take(["s", None]) == [] and buf.sessions() == 0  # lazily expired


def test_take_other_session_and_sessionless() -> None:
    buf = NotificationBuffer(ttl=10, max_per_session=8, clock=Clock())
    buf.push(McpEvent("mine", "done", session_id="s1"))
    buf.push(McpEvent("any", "done"))
    assert [e.task_id for e in buf.take(["s2"])] == ["any"]
    assert [e.task_id for e in buf.take([None, "s1", "s1"])] == ["mine"]


BODIES: list[tuple[str, dict[str, Any], int | None]] = [
    ("anthropic", {"messages": [{"role": "user", "content": "q"}]}, 0),
    ("anthropic", {"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "x"}]}]}, None),
    ("openai", {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}]}, 1),
    ("openai", {"messages": [{"role": "user", "content": "q"}, {"role": "tool", "content": "r"}]}, 0),
    ("openai_responses", {"input": "q"}, 0),
    ("openai_responses", {"input": [{"type": "function_call_output", "call_id": "c", "output": "o"}]}, None),
    ("gemini", {"contents": [{"parts": [{"text": "q"}]}]}, 0),
    ("gemini", {"contents": [{"role": "user", "parts": [{"functionResponse": {"name": "f"}}]}]}, None),
    ("gemini", {}, None),
]


@pytest.mark.parametrize(("wire", "body", "at"), BODIES)
def test_insert_before_final_user(wire: Any, body: dict[str, Any], at: int | None) -> None:
    items = render_pair([McpEvent("t", "done", text="ok")], wire)
    out = insert_before_final_user(body, wire, items)
    if at is None:
        assert out is None
    else:
        assert out is not None and out[at : at + 2] == items and len(out) >= at + 3


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.9.9.9", True), ("::1", True), ("[::1]", True), ("localhost", True),
     ("app.localhost", True), ("0.0.0.0", False), ("10.0.0.1", False), ("evil.example", False),
     ("localhost.evil.example", False)],
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback_bind(host) is loopback


@pytest.mark.parametrize(
    ("value", "host"),
    [("127.0.0.1:4030", "127.0.0.1"), ("[::1]:4030", "::1"), ("localhost", "localhost"), ("::1", "::1")],
)
def test_host_of(value: str, host: str) -> None:
    assert split_host(value)[0] == host


@pytest.mark.parametrize(
    ("origin", "ok"),
    [("http://localhost:3000", True), ("https://127.0.0.1", True), ("http://evil.example", False),
     ("http://127.0.0.1.evil.example", False), ("file://", False), ("vscode-webview://x", False), ("null", False),
     ("HTTP://LOCALHOST:6274", True)],
)  # fmt: skip
def test_origin_allowed(origin: str, ok: bool) -> None:
    assert origin_allowed(origin) is ok


def test_token_rules() -> None:
    assert resolve_token(Mcp()) is None
    assert resolve_token(Mcp(host="0.0.0.0", auth_token=" t ")) == "t"
    with pytest.raises(ValueError, match=r"set mcp\.auth_token"):
        resolve_token(Mcp(host="192.168.1.5"))
    with pytest.raises(ValueError, match=r"mcp\.auth_token: empty"):
        resolve_token(Mcp(auth_token="  "))
