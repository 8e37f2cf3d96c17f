"""Requests of each wire format reach the provider through the real daemon."""

from __future__ import annotations

import time

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from tests.support.canned import TEXT
from tests.support.daemon import DaemonProcess
from tests.support.fake_provider import FakeProvider, Reply


def test_anthropic_sdk_through_daemon(shared_daemon: DaemonProcess, shared_fake: FakeProvider) -> None:
    client = anthropic.Anthropic(base_url=shared_daemon.url, api_key="sk-ant-client-key", max_retries=0)
    msg = client.messages.create(model="claude-test", max_tokens=32, messages=[{"role": "user", "content": "hi"}])
    assert msg.content[0].text == TEXT
    rec = shared_fake.last()
    assert rec.path == "/v1/messages"
    assert rec.json["messages"] == [{"role": "user", "content": "hi"}]
    # Without a provider credential configured, the client's own key passes through.
    sent = rec.headers.get("x-api-key") or rec.headers.get("authorization", "")
    assert sent.endswith("sk-ant-client-key")
    assert rec.headers["host"] == shared_fake.hostport


def test_openai_chat_and_responses_sdk(shared_daemon: DaemonProcess, shared_fake: FakeProvider) -> None:
    client = openai.OpenAI(base_url=shared_daemon.url + "/v1", api_key="sk-openai-client", max_retries=0)
    chat = client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
    assert chat.choices[0].message.content == TEXT
    assert shared_fake.last().path == "/v1/chat/completions"
    resp = client.responses.create(model="gpt-test", input="hi")
    assert resp.output_text == TEXT
    assert shared_fake.last().path == "/v1/responses"


def test_google_genai_sdk(shared_daemon: DaemonProcess, shared_fake: FakeProvider) -> None:
    client = genai.Client(
        api_key="AIza-client-key-000000000000000", http_options=gtypes.HttpOptions(base_url=shared_daemon.url)
    )
    out = client.models.generate_content(model="gemini-test", contents="hi")
    assert out.text == TEXT
    assert shared_fake.last().path.startswith("/v1beta/models/gemini-test:generateContent")
    chunks = list(client.models.generate_content_stream(model="gemini-test", contents="hi"))
    assert "".join(c.text or "" for c in chunks) == TEXT
    assert ":streamGenerateContent" in shared_fake.last().path


def test_anthropic_stream_through_daemon(shared_daemon: DaemonProcess) -> None:
    client = anthropic.Anthropic(base_url=shared_daemon.url, api_key="k", max_retries=0)
    with client.messages.stream(model="claude-test", max_tokens=32, messages=[{"role": "user", "content": "hi"}]) as s:
        final = s.get_final_message()
    assert final.content[0].text == TEXT
    flows = shared_daemon.flows(bodies="1")
    # The streamed body is recorded into the flow although it was relayed chunk by chunk.
    assert "message_stop" in flows[-1]["response"]["body"]


def test_stream_is_not_buffered(shared_daemon: DaemonProcess, shared_fake: FakeProvider) -> None:
    """The fake sends one event and pauses; the client must see it before the second is sent."""
    from tests.support.canned import anthropic_events

    shared_fake.queue(Reply(events=anthropic_events(), pause_after=1, pause=1.5))
    shared_fake.sent_at.clear()
    first_seen = None
    lines = []
    with httpx.stream(
        "POST",
        shared_daemon.url + "/v1/messages",
        json={"model": "m", "stream": True, "max_tokens": 5, "messages": []},
        headers={"x-api-key": "k"},
        timeout=10,
        trust_env=False,
    ) as r:
        for line in r.iter_lines():
            if first_seen is None and line.startswith("event: message_start"):
                first_seen = time.time()
            lines.append(line)
    body = "\n".join(lines)
    assert first_seen is not None
    assert len(shared_fake.sent_at) >= 2
    assert first_seen < shared_fake.sent_at[1], "first event arrived only after the upstream's pause ended"
    assert "message_stop" in body


@pytest.mark.parametrize(
    ("path", "expect"),
    [
        ("/v1/messages", {"type": "error"}),
        ("/v1/chat/completions", {"error": "message"}),
        ("/v1beta/models/g:generateContent", {"error": "status"}),
    ],
)
def test_unrouted_request_gets_error_in_wire_format(start_daemon, path: str, expect: dict[str, str]) -> None:
    d = start_daemon(
        {"ccproxy": {"providers": {"only": {"type": "openai_responses", "host": "127.0.0.1:9", "scheme": "http"}}}}
    )
    r = httpx.post(d.url + path, json={}, trust_env=False)
    assert r.status_code == 404
    body = r.json()
    for key, sub in expect.items():
        assert key in body
        if key == "error":
            assert sub in body["error"]
    assert "no provider handles" in r.text


def test_unknown_path_is_404(shared_daemon: DaemonProcess, shared_fake: FakeProvider) -> None:
    before = len(shared_fake.received)
    r = httpx.post(shared_daemon.url + "/nothing/here", json={}, trust_env=False)
    assert r.status_code == 404
    assert len(shared_fake.received) == before


def test_upstream_error_status_passes_through(shared_daemon: DaemonProcess, shared_fake: FakeProvider) -> None:
    shared_fake.queue(
        Reply(
            status=429,
            json={"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}},
            headers={"retry-after": "7"},
        )
    )
    r = httpx.post(shared_daemon.url + "/v1/messages", json={"model": "m"}, trust_env=False)
    assert r.status_code == 429
    assert r.headers["retry-after"] == "7"
    assert r.json()["error"]["type"] == "rate_limit_error"
