"""POST /mcp/notify on the real daemon, then the session's next request through an official
SDK: the fake upstream receives the synthetic `tasks_get` exchange before the final user
message, in the upstream's wire format, exactly once."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ccproxy.lightllm.ir import WIRES
from tests.mcp.sdk_calls import ask
from tests.support.daemon import DaemonProcess, provider_entry
from tests.support.fake_provider import FakeProvider

HOOKS = {
    "inbound": ["ccproxy.hooks.inject_auth", "ccproxy.hooks.extract_session_id"],
    "outbound": ["ccproxy.hooks.inject_mcp_notifications"],
}
# The client's SDK -> the upstream's wire; "to-anthropic" models are converted by a transform rule.
CASES = [pytest.param(w, w, id=f"{w}") for w in WIRES] + [
    pytest.param("openai", "anthropic", id="openai-sdk->anthropic-upstream"),
    pytest.param("anthropic", "gemini", id="anthropic-sdk->gemini-upstream"),
]


def _config(fake: FakeProvider, **mcp: Any) -> dict[str, Any]:
    rules = [
        {"match_model": f"^to-{w}$", "action": "transform", "dest_provider": w, "dest_model": f"{w}-model"}
        for w in WIRES
    ]
    return {
        "ccproxy": {
            "providers": {w: provider_entry(fake.hostport, w) for w in WIRES},
            "hooks": HOOKS,
            "lightllm": {"transforms": rules},
            "mcp": mcp,
        }
    }


@pytest.fixture(scope="module")
def fake(shared_fake: FakeProvider) -> FakeProvider:
    return shared_fake


@pytest.fixture(scope="module")
def daemon(fake: FakeProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    d = DaemonProcess(tmp_path_factory.mktemp("notify"), _config(fake))
    d.start()
    yield d
    d.stop()


def notify(daemon: DaemonProcess, payload: Any = None, *, content: bytes | None = None) -> httpx.Response:
    if content is None:
        return httpx.post(daemon.url + "/mcp/notify", json=payload, timeout=10, trust_env=False)
    return httpx.post(daemon.url + "/mcp/notify", content=content, timeout=10, trust_env=False)


def history(body: dict[str, Any], wire: str) -> list[Any]:
    key = {"anthropic": "messages", "openai": "messages", "openai_responses": "input", "gemini": "contents"}[wire]
    items = body[key]
    assert isinstance(items, list)
    return items


def pair_in(items: list[Any], wire: str) -> list[Any]:
    """The synthetic exchange: the two items just before the final user message."""
    assert len(items) == 5, items  # user, assistant, [call, result], final user
    return items[2:4]


def check_pair(pair: list[Any], wire: str, task: str, text: str) -> None:
    call, result = pair
    if wire == "anthropic":
        assert call["role"] == "assistant" and call["content"][0]["type"] == "tool_use"
        assert call["content"][0]["name"] == "tasks_get" and call["content"][0]["input"]["task_id"] == task
        block = result["content"][0]
        assert result["role"] == "user" and block["type"] == "tool_result"
        assert block["tool_use_id"] == call["content"][0]["id"]
        assert block["content"][0]["text"] == f"status: completed\n{text}"
    elif wire == "openai":
        tc = call["tool_calls"][0]
        assert call["role"] == "assistant" and tc["function"]["name"] == "tasks_get"
        assert task in tc["function"]["arguments"]
        assert result == {"role": "tool", "tool_call_id": tc["id"], "content": f"status: completed\n{text}"}
    elif wire == "openai_responses":
        assert call["type"] == "function_call" and call["name"] == "tasks_get" and task in call["arguments"]
        assert result["type"] == "function_call_output" and result["call_id"] == call["call_id"]
        assert result["output"] == f"status: completed\n{text}"
    else:
        fc = call["parts"][0]["functionCall"]
        assert call["role"] == "model" and fc["name"] == "tasks_get" and fc["args"]["task_id"] == task
        fr = result["parts"][0]["functionResponse"]
        assert result["role"] == "user" and fr["name"] == "tasks_get"
        assert fr["id"] == fc["id"] and fr["response"] == {"result": f"status: completed\n{text}"}


@pytest.mark.parametrize(("client", "upstream"), CASES)
def test_notify_then_injected_once(daemon: DaemonProcess, fake: FakeProvider, client: str, upstream: str) -> None:
    session, task = f"sess-{uuid.uuid4()}", f"task-{uuid.uuid4().hex[:8]}"
    model = f"to-{upstream}" if client != upstream else None
    r = notify(daemon, {"session_id": session, "task_id": task, "status": "completed", "text": "build ok"})
    assert r.status_code == 200 and r.json() == {"buffered": 1}
    ask(client, daemon.url, f"other-{session}", model=model)  # another session: nothing for it
    assert len(history(fake.last().json, upstream)) == 3
    ask(client, daemon.url, session, model=model)
    check_pair(pair_in(history(fake.last().json, upstream), upstream), upstream, task, "build ok")
    ask(client, daemon.url, session, model=model)
    assert len(history(fake.last().json, upstream)) == 3  # injected exactly once
    injected = [f for f in daemon.flows() if (f["ccproxy"] or {}).get("mcp_injected")]
    mine = [f for f in injected if f["ccproxy"]["mcp_injected"][0]["task_id"] == task]
    assert len(mine) == 1
    assert mine[0]["ccproxy"]["mcp_injected"] == [
        {"task_id": task, "status": "completed", "text": "build ok", "session_id": session}
    ]
    compare = daemon.cli("flows", "compare", "--jq", f'map(select(.id == "{mine[0]["id"]}"))')
    assert compare.returncode == 0, compare.stderr
    assert "tasks_get" in compare.stdout


def test_several_events_and_sessionless(daemon: DaemonProcess, fake: FakeProvider) -> None:
    session = f"sess-{uuid.uuid4()}"
    assert notify(daemon, {"session_id": session, "task_id": "a", "status": "failed"}).json() == {"buffered": 1}
    assert notify(daemon, {"session_id": session, "task_id": "b", "status": "done", "server": "ci"}).json() == {
        "buffered": 2
    }
    assert notify(daemon, {"task_id": "c", "status": "done"}).json() == {"buffered": 1}  # any session
    ask("anthropic", daemon.url, session)
    call, result = pair_in(history(fake.last().json, "anthropic"), "anthropic")
    expected = [{"task_id": "a"}, {"task_id": "b", "server": "ci"}, {"task_id": "c"}]
    assert [b["input"] for b in call["content"]] == expected
    assert [b["content"][0]["text"] for b in result["content"]] == ["status: failed", "status: done", "status: done"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{not json", "body is not valid JSON"),
        (b"[1, 2]", "body must be a JSON object, got list"),
        (b'{"status": "done"}', "missing field 'task_id'"),
        (b'{"task_id": "t"}', "missing field 'status'"),
        (b'{"task_id": 7, "status": "done"}', "task_id must be a non-empty string"),
        (b'{"task_id": "t", "status": "done", "text": 1}', "text must be a string, got int"),
        (b"", "body is not valid JSON"),
    ],
)
def test_bad_notify_is_400_never_recorded_or_forwarded(
    daemon: DaemonProcess, fake: FakeProvider, content: bytes, reason: str
) -> None:
    flows_before, received_before = len(daemon.flows()), len(fake.received)
    r = notify(daemon, content=content)
    assert r.status_code == 400
    assert reason in r.json()["error"]
    ok = notify(daemon, {"session_id": f"nobody-{uuid.uuid4()}", "task_id": "t", "status": "done"})
    assert ok.status_code == 200 and ok.json() == {"buffered": 1}  # unknown session: fire-and-forget
    assert httpx.get(daemon.url + "/mcp/notify", timeout=10, trust_env=False).status_code == 405
    page = httpx.post(
        daemon.url + "/mcp/notify",
        content=b'{"task_id": "t", "status": "done"}',
        headers={"origin": "http://evil.example", "content-type": "text/plain"},
        timeout=10,
        trust_env=False,
    )
    assert page.status_code == 403  # a web page cannot put text into a prompt
    assert len(daemon.flows()) == flows_before
    assert len(fake.received) == received_before


def test_ttl_expiry(fake: FakeProvider, tmp_path_factory: pytest.TempPathFactory) -> None:
    d = DaemonProcess(tmp_path_factory.mktemp("ttl"), _config(fake, notify_ttl=0.3))
    d.start()
    try:
        session = f"sess-{uuid.uuid4()}"
        assert notify(d, {"session_id": session, "task_id": "late", "status": "done"}).json() == {"buffered": 1}
        time.sleep(0.6)  # longer than the TTL; a slower machine only makes it longer
        # The expired event was dropped when the session was touched again: one is waiting, not two.
        assert notify(d, {"session_id": session, "task_id": "fresh", "status": "done"}).json() == {"buffered": 1}
        time.sleep(0.6)
        ask("openai", d.url, session)
        assert len(history(fake.last().json, "openai")) == 3  # nothing injected: both expired
    finally:
        d.stop()
