"""`ccproxy flows ...` through click's CliRunner against flows served on a loopback port."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flowkit import FakeFlowsDaemon, make_flow

from ccproxy.cli.flows import flows as flows_group

HOST = 'map(select(.request.pretty_host == "api.anthropic.com"))'
MESSAGES = 'map(select(.request.path | startswith("/v1/messages")))'
POST = 'map(select(.request.method == "POST"))'
OK = "map(select(.response.status_code == 200))"
SECRET = "sk-ant-api03-CLI-SECRET"


def claude_body(q: str) -> dict[str, Any]:
    return {
        "model": "claude-haiku-4-5",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": [{"type": "text", "text": q}]}],
    }


@pytest.fixture
def daemon(mixed_flows: list[Any]) -> Iterator[FakeFlowsDaemon]:
    extra = [
        make_flow(
            "https://api.anthropic.com/v1/messages?beta=true",
            claude_body("what's 3+3"),
            headers={"x-api-key": SECRET},
            started=time.time() - 60,
        ),
    ]
    with FakeFlowsDaemon([*mixed_flows, *extra]) as d:
        yield d


@pytest.fixture
def run(daemon: FakeFlowsDaemon, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("CCPROXY_CONFIG_DIR", str(tmp_path))  # no user config leaks in
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.delenv("CCPROXY_PORT", raising=False)

    def invoke(*args: str, port: int | None = None) -> Any:
        return CliRunner().invoke(flows_group, ["--port", str(port or daemon.port), *args])

    return invoke


def _ids(daemon: FakeFlowsDaemon, pred: Any = lambda f: True) -> list[str]:
    return [f.id for f in daemon.flows if pred(f)]


def test_list_table_rows_and_width(run: Any, daemon: FakeFlowsDaemon) -> None:
    result = run("list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert re.match(r"┃ ID +┃ Method +┃ Code +┃ Host +┃ Path +┃ UA +┃ Time +┃", lines[1])
    rows = [ln for ln in lines if ln.startswith("│")]
    assert [r.split("│")[1].strip() for r in rows] == [i[:8] for i in _ids(daemon)]
    assert all(len(ln) <= 100 for ln in lines)
    assert "ERR" in rows[4] and "500" in rows[3]
    assert re.search(r"\d+ (seconds|minutes|hours|days) ago|\d+ (second|minute|hour|day) ago", rows[0])


def test_list_json_with_seed_filters(run: Any, daemon: FakeFlowsDaemon) -> None:
    result = run("list", "--json", "--jq", HOST, "--jq", POST, "--jq", OK)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    expected = _ids(
        daemon,
        lambda f: (
            f.request.pretty_host == "api.anthropic.com"
            and f.request.method == "POST"
            and f.response is not None
            and f.response.status_code == 200
        ),
    )
    assert [f["id"] for f in data] == expected and len(expected) == 2
    assert all(f["request"]["body"] is None for f in data)  # no bodies unless asked


def test_list_json_bodies_and_redaction(run: Any) -> None:
    result = run("list", "--json", "--bodies", "--jq", MESSAGES)
    data = json.loads(result.output)
    assert all(f["request"]["body"] is not None for f in data)
    assert SECRET not in result.output


def test_config_default_filters_apply_before_cli_filters(run: Any, tmp_path: Path, daemon: FakeFlowsDaemon) -> None:
    (tmp_path / "ccproxy.yaml").write_text("ccproxy:\n  flows:\n    default_jq_filters:\n      - '" + MESSAGES + "'\n")
    data = json.loads(run("list", "--json").output)
    assert [f["id"] for f in data] == _ids(daemon, lambda f: f.request.path.startswith("/v1/messages"))
    # The CLI filter sees the already narrowed set: only 4 messages flows remain to index into.
    data = json.loads(run("list", "--json", "--jq", ".[-1:]").output)
    assert [f["id"] for f in data] == _ids(daemon, lambda f: f.request.path.startswith("/v1/messages"))[-1:]


def test_config_port_is_used(tmp_path: Path, daemon: FakeFlowsDaemon, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCPROXY_CONFIG_DIR", str(tmp_path))
    monkeypatch.delenv("CCPROXY_PORT", raising=False)
    (tmp_path / "ccproxy.yaml").write_text(f"ccproxy:\n  port: {daemon.port}\n")
    result = CliRunner().invoke(flows_group, ["list", "--json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)) == len(daemon.flows)


@pytest.mark.parametrize("command", ["list", "dump", "diff", "compare", "clear"])
def test_empty_set(run: Any, command: str) -> None:
    result = run(command, "--jq", "map(select(false))")
    if command == "dump":
        assert result.exit_code == 0
        assert json.loads(result.output)["log"]["entries"] == []
    elif command == "diff":
        assert result.exit_code == 1
        assert result.output.strip() == "ccproxy: error: flows diff needs at least 2 flows, the set has 0."
    elif command == "clear":
        assert result.output.strip() == "Cleared 0 flow(s)."
    else:
        assert result.exit_code == 0
        assert result.output.strip() == "No flows in the set."


@pytest.mark.parametrize("command", ["list", "dump", "diff", "compare", "clear", "repl"])
@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("map(", "syntax error"),
        (".[0]", "must yield a JSON array, yielded an object"),
        (".[]", "exactly one"),
    ],
)
def test_invalid_filter_is_one_line_exit_2(
    run: Any, daemon: FakeFlowsDaemon, command: str, bad: str, reason: str
) -> None:
    before = len(daemon.flows)
    result = run(command, "--jq", HOST, "--jq", bad)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"ccproxy: error: jq filter {bad!r}: ") and reason in lines[0]
    assert len(daemon.flows) == before  # clear deleted nothing


def test_daemon_not_running_exit_1(run: Any) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connection refused
        result = run("list", port=port)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"ccproxy: error: ccproxy is not running at http://127.0.0.1:{port}")


def test_dump_is_har_with_redaction(run: Any, daemon: FakeFlowsDaemon) -> None:
    result = run("dump", "--jq", MESSAGES)
    assert result.exit_code == 0
    har = json.loads(result.output)
    expected = _ids(daemon, lambda f: f.request.path.startswith("/v1/messages"))
    assert len(har["log"]["pages"]) == len(expected)
    assert har["log"]["entries"][0]["request"]["url"] == daemon.flows[0].request.pretty_url
    assert SECRET not in result.output and "<redacted>" in result.output
    # The leading path filter is pushed down to the daemon (and still run by jq).
    assert "GET /flows?path_prefix=%2Fv1%2Fmessages&bodies=1" in daemon.requests


def test_dump_reveal_secrets(run: Any, daemon: FakeFlowsDaemon) -> None:
    result = run("dump", "--reveal-secrets", "--jq", ".[-1:]")
    assert SECRET in result.output
    assert "GET /flows?bodies=1&reveal=1" in daemon.requests


def test_diff_seed_example(run: Any, daemon: FakeFlowsDaemon) -> None:
    result = run("diff", "--jq", MESSAGES, "--jq", 'map(select(.request.body | contains("what")))')
    assert result.exit_code == 0, result.output
    ids = [f.id[:8] for f in daemon.flows if b"what" in (f.request.content or b"")]
    assert result.output.startswith(f"--- flow:{ids[0]}\n+++ flow:{ids[1]}\n@@ ")
    assert '-          "text": "what\'s 2+2"' in result.output
    assert '+          "text": "what\'s 3+3"' in result.output


def test_compare_passthrough(run: Any, daemon: FakeFlowsDaemon) -> None:
    result = run("compare", "--jq", MESSAGES)
    assert result.exit_code == 0
    expected = [
        f"{f.id[:8]}: request bodies are identical." for f in daemon.flows if f.request.path.startswith("/v1/messages")
    ]
    assert result.output.splitlines() == expected


def test_clear_filtered_then_all(run: Any, daemon: FakeFlowsDaemon) -> None:
    total = len(daemon.flows)
    matching = _ids(daemon, lambda f: f.request.path.startswith("/v1/messages"))
    result = run("clear", "--jq", MESSAGES)
    assert result.output.strip() == f"Cleared {len(matching)} flow(s)."
    assert not set(matching) & {f.id for f in daemon.flows}
    assert len(daemon.flows) == total - len(matching)
    result = run("clear", "--all", "--jq", "map(select(false))")  # --all ignores filters
    assert result.output.strip() == f"Cleared {total - len(matching)} flow(s)."
    assert daemon.flows == []


def test_list_group(run: Any, daemon: FakeFlowsDaemon) -> None:
    result = run("list", "--group", "--json")
    assert result.exit_code == 0, result.output
    groups = json.loads(result.output)
    assert sum(g["turns"] for g in groups) == len(daemon.flows)
    table = run("list", "--group")
    assert "Turns" in table.output and "Tokens in/out" in table.output
