"""`ccproxy flows repl` driven through a real pseudo-terminal."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flowkit import FakeFlowsDaemon, make_flow
from ptykit import PROMPT, PtySession, ccproxy_flows_argv


@pytest.fixture
def session(mixed_flows: list[Any], tmp_path: Path) -> Iterator[tuple[PtySession, FakeFlowsDaemon, Path]]:
    body = {"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "what's 3+3"}]}
    flows = [*mixed_flows, make_flow("https://api.anthropic.com/v1/messages", body)]
    history = tmp_path / "history"
    env = {**os.environ, "CCPROXY_CONFIG_DIR": str(tmp_path), "COLUMNS": "120", "TERM": "dumb"}
    with FakeFlowsDaemon(flows) as daemon:
        argv = [*ccproxy_flows_argv(), "--port", str(daemon.port), "repl", "--history-file", str(history)]
        s = PtySession(argv, env)
        try:
            yield s, daemon, history
        finally:
            s.close()


def test_repl_session(session: tuple[PtySession, FakeFlowsDaemon, Path], tmp_path: Path) -> None:
    s, daemon, history = session
    total = len(daemon.flows)
    assert int(s.expect(PROMPT).group(1)) == total

    out, count = s.command(':jq map(select(.request.pretty_host == "api.anthropic.com"))')
    anthropic = [f for f in daemon.flows if f.request.pretty_host == "api.anthropic.com"]
    assert count == len(anthropic) and f"{len(anthropic)} flow(s)." in out

    out, count = s.command('map(select(.request.method == "POST"))')  # a bare line is a filter too
    posts = [f for f in anthropic if f.request.method == "POST"]
    assert count == len(posts)

    out, _ = s.command(":list")
    assert [ln.split("│")[1].strip() for ln in out.splitlines() if ln.startswith("│")] == [f.id[:8] for f in posts]

    out, _ = s.command(f":show {posts[-1].id[:8]}")
    shown = json.loads(out)
    assert shown["id"] == posts[-1].id and "3+3" in shown["request"]["body"]

    out, count = s.command(":jq map(")
    assert out.strip().startswith("Error: jq filter 'map(': syntax error")
    assert count == len(posts)  # a bad filter leaves the set alone

    out, _ = s.command(':jq map(select(.request.path | startswith("/v1/messages")) | select(.response))')
    out, _ = s.command(":diff")
    assert out.startswith("--- flow:") and "+++ flow:" in out

    out, _ = s.command(":compare")
    assert out.strip().endswith("request bodies are identical.")

    har_path = tmp_path / "out.har"
    out, count = s.command(f":dump {har_path}")
    assert f"Wrote {count} flow(s)" in out
    assert len(json.loads(har_path.read_text())["log"]["pages"]) == count

    out, _ = s.command(":pop")
    out, count = s.command(":reset")
    assert count == total

    out, _ = s.command(":history")
    assert ":jq map(" in out and ":compare" in out

    s.send(":quit")
    assert s.proc.wait(timeout=10) == 0
    saved = history.read_text()
    assert ":diff" in saved and ":compare" in saved


def test_repl_history_survives_restart(session: tuple[PtySession, FakeFlowsDaemon, Path]) -> None:
    s, daemon, history = session
    s.expect(PROMPT)
    s.command(":filters")
    s.send(":quit")
    s.proc.wait(timeout=10)
    argv = [*ccproxy_flows_argv(), "--port", str(daemon.port), "repl", "--history-file", str(history)]
    again = PtySession(argv, {**os.environ, "TERM": "dumb", "CCPROXY_CONFIG_DIR": str(history.parent)})
    try:
        again.expect(PROMPT)
        out, _ = again.command(":history")
        assert ":filters" in out
        again.send("\x04")  # Ctrl-D leaves
        assert again.proc.wait(timeout=10) == 0
    finally:
        again.close()
