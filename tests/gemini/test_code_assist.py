"""Gemini via Code Assist through the real daemon: the gemini_cli hook, the envelope both ways
(buffered and streamed), the one-time prewarm, and the capacity fallback (429 RetryInfo, 503,
fallback models, never after the first streamed byte). Clients are the official SDKs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest
from google import genai
from google.genai import types as gtypes

from tests.support.daemon import DaemonProcess
from tests.support.fake_provider import FakeProvider, Reply

from .fakes import (
    ACCESS_TOKEN,
    PROJECT,
    SENTINEL,
    CodeAssistFake,
    code_assist_config,
    enveloped_events,
    enveloped_response,
    google_creds,
    quota_error,
)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def code_assist(fake: FakeProvider) -> CodeAssistFake:
    return CodeAssistFake(fake)


@pytest.fixture
def ca_daemon(
    fake: FakeProvider, code_assist: CodeAssistFake, tmp_path: Path, start_daemon: Callable[..., DaemonProcess]
) -> DaemonProcess:
    creds = google_creds(tmp_path / "oauth_creds.json")
    return start_daemon(code_assist_config(fake, creds, fallback_models=["gemini-2.5-flash-lite"]))


def gclient(daemon: DaemonProcess) -> genai.Client:
    return genai.Client(api_key=SENTINEL, http_options=gtypes.HttpOptions(base_url=daemon.url))


def generate_calls(code_assist: CodeAssistFake) -> list[Any]:
    return code_assist.calls("generateContent") + code_assist.calls("streamGenerateContent")


def test_generate_is_wrapped_and_unwrapped(ca_daemon: DaemonProcess, code_assist: CodeAssistFake) -> None:
    client = gclient(ca_daemon)
    first = client.models.generate_content(model="gemini-2.5-pro", contents="hello there")
    second = client.models.generate_content(model="gemini-2.5-pro", contents="hello there")
    assert first.text == second.text == "Hello from the fake provider."
    assert first.usage_metadata is not None and first.usage_metadata.total_token_count == 19

    calls = code_assist.calls("generateContent")
    assert len(calls) == 2
    sent = calls[0].json
    assert sent["model"] == "gemini-2.5-pro"
    assert sent["project"] == PROJECT
    assert sent["user_prompt_id"] and sent["user_prompt_id"] != calls[1].json["user_prompt_id"]
    assert sent["request"]["contents"][0]["parts"][0]["text"] == "hello there"
    # the same conversation start keeps its session id
    assert sent["request"]["session_id"] == calls[1].json["request"]["session_id"]
    assert calls[0].headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert "x-goog-api-key" not in calls[0].headers
    # never masquerade: the client's own user-agent goes upstream, not gemini-cli's
    assert "GeminiCLI" not in calls[0].headers.get("user-agent", "")
    assert calls[0].headers.get("user-agent", "").startswith("google-genai-sdk/")
    # prewarm once per credential, with ccproxy's own user-agent
    loads = code_assist.calls("loadCodeAssist")
    assert len(loads) == 1
    assert loads[0].headers["user-agent"].startswith("ccproxy/")
    assert loads[0].json["metadata"]["pluginType"] == "GEMINI"

    flow = ca_daemon.flows(bodies="1")[-1]
    assert flow["request"]["path"] == "/v1internal:generateContent"


def test_stream_is_unwrapped_in_the_state_machine(ca_daemon: DaemonProcess, code_assist: CodeAssistFake) -> None:
    client = gclient(ca_daemon)
    chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="stream please"))
    assert "".join(c.text or "" for c in chunks) == "Hello from the fake provider."
    assert chunks[-1].candidates and chunks[-1].candidates[0].finish_reason == gtypes.FinishReason.STOP
    (call,) = code_assist.calls("streamGenerateContent")
    assert call.path == "/v1internal:streamGenerateContent?alt=sse"
    assert call.json["request"]["contents"][0]["parts"][0]["text"] == "stream please"
    flow = ca_daemon.flows(bodies="1")[-1]
    assert flow["ccproxy"]["upstream_wire"] == "gemini"


def test_anthropic_client_through_code_assist(ca_daemon: DaemonProcess, code_assist: CodeAssistFake) -> None:
    client = anthropic.Anthropic(api_key=SENTINEL, base_url=ca_daemon.url)
    user_id = '{"device_id": "d1", "session_id": "claude-session-7"}'
    msg = client.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=64,
        messages=[{"role": "user", "content": "hi from anthropic"}],
        metadata={"user_id": user_id},
    )
    assert msg.content[0].type == "text" and msg.content[0].text == "Hello from the fake provider."
    with client.messages.stream(
        model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": "stream it"}]
    ) as stream:
        final = stream.get_final_message()
    assert final.content[0].type == "text" and final.content[0].text == "Hello from the fake provider."
    buffered, streamed = code_assist.calls("generateContent"), code_assist.calls("streamGenerateContent")
    assert len(buffered) == 1 and len(streamed) == 1
    assert buffered[0].json["model"] == "gemini-2.5-flash"
    assert buffered[0].json["request"]["contents"][0]["parts"][0]["text"] == "hi from anthropic"
    # the client's own session id (extract_session_id) is the Code Assist session
    assert buffered[0].json["request"]["session_id"] == "claude-session-7"


def test_already_wrapped_passes_through(ca_daemon: DaemonProcess, code_assist: CodeAssistFake) -> None:
    envelope = {
        "model": "gemini-2.5-pro",
        "project": "my-own-project",
        "user_prompt_id": "p-1",
        "request": {"contents": [{"role": "user", "parts": [{"text": "raw"}]}], "session_id": "s-1"},
    }
    r = httpx.post(
        ca_daemon.url + "/v1internal:generateContent",
        json=envelope,
        headers={"x-goog-api-key": SENTINEL},
        trust_env=False,
        timeout=30,
    )
    assert r.status_code == 200, r.text
    # a Code Assist client gets Code Assist's answer, envelope and all
    assert r.json()["response"]["candidates"][0]["content"]["parts"][0]["text"] == "Hello from the fake provider."
    (call,) = code_assist.calls("generateContent")
    assert call.json == envelope
    assert call.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert not code_assist.calls("loadCodeAssist")


def test_count_tokens_envelope(ca_daemon: DaemonProcess, code_assist: CodeAssistFake) -> None:
    client = gclient(ca_daemon)
    result = client.models.count_tokens(model="gemini-2.5-pro", contents="count me")
    assert result.total_tokens == 42
    (call,) = code_assist.calls("countTokens")
    assert call.json == {
        "request": {"model": "models/gemini-2.5-pro", "contents": [{"role": "user", "parts": [{"text": "count me"}]}]}
    }


def test_429_retry_info_then_success(ca_daemon: DaemonProcess, fake: FakeProvider, code_assist: CodeAssistFake) -> None:
    fake.queue(quota_error(429, "0.3s"), Reply(json=enveloped_response("gemini-2.5-pro", "after the wait")))
    client = gclient(ca_daemon)
    out = client.models.generate_content(model="gemini-2.5-pro", contents="busy?")
    assert out.text == "after the wait"
    first, second = code_assist.calls("generateContent")
    # the retry waited as RetryInfo asked (order of arrival is the proof, not a wall-clock bound on us)
    assert second.received_at - first.received_at >= 0.3
    assert second.json["model"] == "gemini-2.5-pro"
    flow = ca_daemon.flows(bodies="1")[-1]
    attempts = flow["ccproxy"]["attempts"]
    assert [a["status"] for a in attempts] == [429, 200]
    assert attempts[1]["waited_s"] == pytest.approx(0.3)


def test_503_walks_to_fallback_model(ca_daemon: DaemonProcess, fake: FakeProvider, code_assist: CodeAssistFake) -> None:
    # first answer + 2 sticky retries on the same model, all 503; then the fallback answers
    fake.queue(
        quota_error(503, "0s"),
        quota_error(503, "0s"),
        quota_error(503, "0s"),
        Reply(json=enveloped_response("gemini-2.5-flash-lite", "from the fallback")),
    )
    client = gclient(ca_daemon)
    out = client.models.generate_content(model="gemini-2.5-pro", contents="anyone?")
    assert out.text == "from the fallback"
    models = [c.json["model"] for c in code_assist.calls("generateContent")]
    assert models == ["gemini-2.5-pro"] * 3 + ["gemini-2.5-flash-lite"]
    flow = ca_daemon.flows(bodies="1")[-1]
    assert [(a["model"], a["status"]) for a in flow["ccproxy"]["attempts"]] == [
        ("gemini-2.5-pro", 503),
        ("gemini-2.5-pro", 503),
        ("gemini-2.5-pro", 503),
        ("gemini-2.5-flash-lite", 200),
    ]
    # the forwarded request is the one that answered: flows list/compare show the final model
    assert '"model":"gemini-2.5-flash-lite"' in flow["request"]["body"]


def test_retry_delay_beyond_budget_goes_to_fallback(
    ca_daemon: DaemonProcess, fake: FakeProvider, code_assist: CodeAssistFake
) -> None:
    fake.queue(quota_error(429, "3600s"), Reply(json=enveloped_response("gemini-2.5-flash-lite", "fallback now")))
    client = gclient(ca_daemon)
    out = client.models.generate_content(model="gemini-2.5-pro", contents="quota?")
    assert out.text == "fallback now"
    assert [c.json["model"] for c in code_assist.calls("generateContent")] == [
        "gemini-2.5-pro",
        "gemini-2.5-flash-lite",
    ]


def test_no_retry_after_first_streamed_byte(
    ca_daemon: DaemonProcess, fake: FakeProvider, code_assist: CodeAssistFake
) -> None:
    fake.queue(Reply(events=enveloped_events("gemini-2.5-pro"), reset_after=1))
    client = gclient(ca_daemon)
    texts: list[str] = []
    with pytest.raises(Exception) as err:
        for chunk in client.models.generate_content_stream(model="gemini-2.5-pro", contents="go"):
            texts.append(chunk.text or "")
    assert texts == ["Hello "]
    assert err.value is not None
    assert len(code_assist.calls("streamGenerateContent")) == 1
    flow = ca_daemon.flows(bodies="1")[-1]
    assert "attempts" not in flow["ccproxy"] or not flow["ccproxy"]["attempts"]


@pytest.fixture
def onboarding_daemon(
    fake: FakeProvider, tmp_path: Path, start_daemon: Callable[..., DaemonProcess]
) -> Iterator[tuple[DaemonProcess, CodeAssistFake]]:
    ca = CodeAssistFake(fake, onboarded=False)
    creds = google_creds(tmp_path / "oauth_creds.json")
    yield start_daemon(code_assist_config(fake, creds)), ca


def test_onboard_user_when_not_set_up(onboarding_daemon: tuple[DaemonProcess, CodeAssistFake]) -> None:
    daemon, ca = onboarding_daemon
    client = gclient(daemon)
    assert client.models.generate_content(model="gemini-2.5-pro", contents="new user").text
    (onboard,) = ca.calls("onboardUser")
    assert onboard.json["tierId"] == "free-tier"
    assert ca.calls("generateContent")[0].json["project"] == PROJECT


@pytest.fixture
def refused_daemon(
    fake: FakeProvider, tmp_path: Path, start_daemon: Callable[..., DaemonProcess]
) -> Iterator[tuple[DaemonProcess, CodeAssistFake]]:
    ca = CodeAssistFake(fake, load_status=403)
    creds = google_creds(tmp_path / "oauth_creds.json")
    yield start_daemon(code_assist_config(fake, creds)), ca


def test_prewarm_refused_is_a_clear_error(refused_daemon: tuple[DaemonProcess, CodeAssistFake]) -> None:
    daemon, ca = refused_daemon
    client = gclient(daemon)
    with pytest.raises(genai.errors.APIError) as err:
        client.models.generate_content(model="gemini-2.5-pro", contents="hi")
    assert err.value.code == 401
    assert "loadCodeAssist" in str(err.value) and "403" in str(err.value) and "permission" in str(err.value)
    assert not ca.calls("generateContent")  # nothing went upstream without a project
    assert ACCESS_TOKEN not in daemon.logs()
