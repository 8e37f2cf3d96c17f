"""Pure parts: Code Assist envelope, retry vocabulary, retry plans, CommitBee detection, and the
envelope stage of the Gemini stream intake (streamed and buffered)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mitmproxy.test import tutils

from ccproxy.addons.capacity import plan
from ccproxy.config.models import GeminiCapacity, RetryPolicy
from ccproxy.hooks.commitbee_compat import fix_gemini, fix_openai, is_commitbee
from ccproxy.lightllm import code_assist as ca
from ccproxy.lightllm.stream import RequestContext, StreamConverter
from ccproxy.lightllm.stream.gemini import unwrap_buffered
from ccproxy.providers.code_assist import default_tier, project_of
from ccproxy.providers.retry import model_of_request, retry_after, retry_info_delay, with_model
from tests.gemini.fakes import enveloped_events, enveloped_response
from tests.support.canned import gemini_response


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1beta/models/gemini-2.5-pro:generateContent", ("gemini-2.5-pro", "generateContent", False)),
        (
            "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
            ("gemini-2.5-pro", "streamGenerateContent", True),
        ),
        ("/v1/models/g:countTokens", ("g", "countTokens", False)),
        ("/v1beta/models/g:embedContent", None),
        ("/v1/messages", None),
    ],
)
def test_public_target(path: str, expected: Any) -> None:
    assert ca.public_target(path) == expected


def test_wrap_generate_and_count() -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "x"}]}], "generationConfig": {"temperature": 0}}
    env = ca.wrap_request(body, "m", "generateContent", project="p", session_id="s", prompt_id="u")
    assert env == {"model": "m", "project": "p", "user_prompt_id": "u", "request": {**body, "session_id": "s"}}
    assert ca.is_wrapped(env) and not ca.is_wrapped(body)
    count = ca.wrap_request(body, "m", "countTokens", project="p", session_id="s", prompt_id="u")
    assert count == {"request": {"model": "models/m", "contents": body["contents"]}}


def test_session_id_is_stable_per_conversation() -> None:
    first = {"contents": [{"role": "user", "parts": [{"text": "start"}]}]}
    later = {"contents": [*first["contents"], {"role": "model", "parts": [{"text": "ok"}]}]}
    other = {"contents": [{"role": "user", "parts": [{"text": "another"}]}]}
    assert ca.session_id_for(first, None) == ca.session_id_for(later, None) != ca.session_id_for(other, None)
    assert ca.session_id_for(first, "client-session") == "client-session"


@pytest.mark.parametrize(
    ("path", "query"),
    [("/v1beta/models/m:generateContent?key=secret&alt=sse&x=1", "x=1"), ("/v1beta/models/m:generateContent", "")],
)
def test_query_that_survives(path: str, query: str) -> None:
    assert ca.strip_query(path) == query


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"response": {"candidates": []}, "traceId": "t"}, {"candidates": []}),
        ({"candidates": [], "response": {"x": 1}}, {"candidates": [], "response": {"x": 1}}),
        ({"error": {"code": 429}}, {"error": {"code": 429}}),
        ([1, 2], [1, 2]),
    ],
)
def test_unwrap(obj: Any, expected: Any) -> None:
    assert ca.unwrap(obj) == expected


def test_buffered_answer_through_the_intake_stage() -> None:
    assert unwrap_buffered(enveloped_response("m")) == gemini_response("m")


@pytest.mark.parametrize("client_sse", [True, False], ids=["sse", "json-array"])
def test_stream_envelope_to_gemini_client(client_sse: bool) -> None:
    conv = StreamConverter("gemini", "gemini", RequestContext(model="m", gemini_sse=client_sse), upstream_envelope=True)
    assert not conv.passthrough
    out = b"".join(conv.feed(e) for e in enveloped_events("m")) + conv.close()
    assert conv.error is None
    text = out.decode()
    assert "traceId" not in text and '"response"' not in text
    if client_sse:
        chunks = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
    else:
        chunks = json.loads(text)
    assert "".join(p.get("text", "") for c in chunks for p in c["candidates"][0]["content"]["parts"]) == (
        "Hello from the fake provider."
    )


def test_stream_envelope_to_anthropic_client() -> None:
    conv = StreamConverter("gemini", "anthropic", RequestContext(model="m"), upstream_envelope=True)
    out = b"".join(conv.feed(e) for e in enveloped_events("m")) + conv.close()
    assert conv.error is None and b"message_stop" in out and b"Hello " in out


@pytest.mark.parametrize(
    ("answer", "project"),
    [
        ({"currentTier": {"id": "free-tier"}, "cloudaicompanionProject": "p1"}, "p1"),
        ({"done": True, "response": {"cloudaicompanionProject": {"id": "p2", "name": "n"}}}, "p2"),
        ({"allowedTiers": []}, None),
        (None, None),
    ],
)
def test_project_of(answer: Any, project: str | None) -> None:
    assert project_of(answer) == project


def test_default_tier() -> None:
    assert default_tier({"allowedTiers": [{"id": "a"}, {"id": "b", "isDefault": True}]}) == "b"
    assert default_tier({}) == "free-tier"


@pytest.mark.parametrize(
    ("body", "delay"),
    [
        ({"error": {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "3.5s"}]}}, 3.5),
        ([{"error": {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}]}}], 1.0),
        ({"error": {"details": [{"@type": "x.QuotaFailure"}]}}, None),
        ({"error": "busy"}, None),
        (None, None),
    ],
)
def test_retry_info(body: Any, delay: float | None) -> None:
    assert retry_info_delay(body) == delay


@pytest.mark.parametrize(
    ("header", "delay"),
    [("2", 2.0), ("0.5", 0.5), ("-3", 0.0), ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0), ("soon", None), (None, None)],
)
def test_retry_after(header: str | None, delay: float | None) -> None:
    now = 1445412480.0  # 07:28:00 that day
    assert retry_after(header, now=now) == delay


def test_with_model_in_each_place() -> None:
    gem = tutils.treq(path=b"/v1beta/models/a:generateContent", content=b"{}")
    assert with_model(gem, "b").path == "/v1beta/models/b:generateContent"
    env = tutils.treq(path=b"/v1internal:generateContent", content=json.dumps({"model": "a", "request": {}}).encode())
    assert json.loads(with_model(env, "b").content or b"")["model"] == "b"
    assert model_of_request(env) == "a" and model_of_request(gem) == "a"


def test_retry_plan() -> None:
    p = RetryPolicy(attempts=2, fallback_models=["x", "m", "y"])
    assert plan(p, "m") == [("m", True), ("m", True), ("x", False), ("y", False)]
    assert GeminiCapacity(max_retries=4).policy().attempts == 4


SYSTEM = "You generate Conventional Commit messages from git diffs.\n..."


@pytest.mark.parametrize(
    ("body", "yes"),
    [
        (
            {
                "model": "m",
                "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "d"}],
                "temperature": 0.3,
                "max_tokens": 256,
                "stream": True,
            },
            True,
        ),
        (
            {"model": "m", "system": SYSTEM, "messages": [], "temperature": 0.3, "max_tokens": 256, "stream": True},
            True,
        ),
        ({"model": "m", "system": SYSTEM, "messages": [], "max_tokens": 256, "stream": True, "tools": []}, False),
        ({"model": "m", "system": "other", "messages": [], "temperature": 0, "max_tokens": 1, "stream": True}, False),
        ({"model": "m", "system": SYSTEM, "messages": [], "temperature": 0, "max_tokens": 1, "stream": False}, False),
    ],
)
def test_commitbee_detection(body: dict[str, Any], yes: bool) -> None:
    assert is_commitbee(body) is yes


def test_commitbee_fixes() -> None:
    o = {"model": "gpt-5-mini", "max_tokens": 256, "temperature": 0.3}
    fix_openai(o, 4096)
    assert o == {"model": "gpt-5-mini", "max_completion_tokens": 4096, "reasoning_effort": "low"}
    plain = {"model": "gpt-4o", "max_tokens": 256, "temperature": 0.3}
    assert fix_openai(dict(plain), 4096) == []
    g: dict[str, Any] = {"model": "gemini-2.5-pro", "request": {"generationConfig": {"maxOutputTokens": 256}}}
    fix_gemini(g, "", 4096)
    assert g["request"]["generationConfig"] == {"maxOutputTokens": 4096, "thinkingConfig": {"includeThoughts": False}}
    old: dict[str, Any] = {"generationConfig": {"maxOutputTokens": 256}}
    assert fix_gemini(old, "gemini-2.0-flash", 4096) == []


def test_transport_keys() -> None:
    from ccproxy.config.models import Provider

    plain = Provider(type="openai", host="h", transport="curl_cffi")
    assert plain.uses_curl_cffi and plain.fingerprint_profile is None
    chrome = Provider(type="openai", host="h", fingerprint_profile="chrome136")
    assert chrome.uses_curl_cffi and chrome.transport == "curl_cffi"
    with pytest.raises(ValueError, match="fingerprint_profile needs transport: curl_cffi"):
        Provider(type="openai", host="h", fingerprint_profile="chrome136", transport="mitmproxy")
    assert not Provider(type="openai", host="h").uses_curl_cffi


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"type": "perplexity_pro", "host": "x"}, "declined on purpose"),
        ({"type": "perplexity_web", "host": "x"}, "declined on purpose"),
        ({"type": "perplexity", "host": "www.perplexity.ai"}, "declined on purpose"),
        ({"type": "perplexity", "host": "api.perplexity.ai"}, None),
    ],
)
def test_perplexity_web_is_declined(entry: dict[str, Any], message: str | None) -> None:
    from ccproxy.config.models import Provider

    if message is None:
        assert Provider.model_validate(entry).wire == "openai"
    else:
        with pytest.raises(ValueError, match=message):
            Provider.model_validate(entry)
