"""Providers on the OpenAI wire through the real daemon: DeepSeek's OpenAI endpoint
(reasoning_content <-> thinking, every client format, streamed and buffered), Perplexity's
documented API (search_results / citations, pplx_stamp_headers), and CommitBee through
commitbee_compat, read back by a client that parses streams exactly as CommitBee does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from tests.support.canned import anthropic_events, anthropic_message, sse
from tests.support.daemon import DaemonProcess, provider_entry
from tests.support.fake_provider import FakeProvider, Recorded, Reply

pytestmark = pytest.mark.timeout(120)

THINK = "2 plus 2 makes 4."
ANSWER = "The answer is 4."
SEARCH_RESULTS = [
    {"title": "Arithmetic", "url": "https://example.org/arith", "date": "2024-01-01"},
    {"title": "Numbers", "url": "https://example.org/numbers", "date": None},
]


def deepseek_message(model: str = "deepseek-reasoner") -> dict[str, Any]:
    return {
        "id": "ds-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": ANSWER, "reasoning_content": THINK},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": 12,
            "total_tokens": 22,
            "completion_tokens_details": {"reasoning_tokens": 5},
        },
    }


def deepseek_events(model: str = "deepseek-reasoner") -> list[bytes]:
    base = {"id": "ds-1", "object": "chat.completion.chunk", "created": 1700000000, "model": model}

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        return sse(None, {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra})

    events = [chunk({"role": "assistant", "content": None, "reasoning_content": ""})]
    events += [chunk({"content": None, "reasoning_content": w}) for w in ("2 plus 2 ", "makes 4.")]
    events += [chunk({"content": w, "reasoning_content": None}) for w in ("The answer ", "is 4.")]
    events.append(chunk({}, "stop", usage=deepseek_message()["usage"]))
    events.append(sse(None, "[DONE]"))
    return events


def perplexity_message() -> dict[str, Any]:
    msg = deepseek_message("sonar")
    msg["choices"][0]["message"] = {"role": "assistant", "content": "Four [1]."}
    msg["search_results"] = SEARCH_RESULTS
    msg["citations"] = [r["url"] for r in SEARCH_RESULTS]
    return msg


def perplexity_events() -> list[bytes]:
    """Perplexity streams Chat Completions chunks that repeat search_results and citations."""
    base = {"id": "px-1", "object": "chat.completion.chunk", "created": 1700000000, "model": "sonar"}
    extra = {"search_results": SEARCH_RESULTS, "citations": [r["url"] for r in SEARCH_RESULTS]}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return sse(None, {**base, **extra, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    return [
        chunk({"role": "assistant", "content": "Four "}),
        chunk({"content": "[1]."}),
        chunk({}, "stop"),
        sse(None, "[DONE]"),
    ]


def route(rec: Recorded) -> Reply | None:
    """The fake stands in for DeepSeek (/chat/completions), Perplexity (/pplx/chat/completions)
    and a Gemini / OpenAI provider for CommitBee's routes."""
    path = rec.path.split("?", 1)[0]
    body = rec.json or {}
    stream = body.get("stream") is True
    if path == "/chat/completions":
        return Reply(events=deepseek_events()) if stream else Reply(json=deepseek_message())
    if path == "/pplx/chat/completions":
        return Reply(events=perplexity_events()) if stream else Reply(json=perplexity_message())
    return None


@pytest.fixture(scope="module")
def fake(shared_fake: FakeProvider) -> FakeProvider:
    shared_fake.router = route
    return shared_fake


@pytest.fixture(scope="module")
def daemon(fake: FakeProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    key = {"type": "command", "command": "printenv FAKE_KEY"}
    config = {
        "ccproxy": {
            "providers": {
                "deepseek": provider_entry(fake.hostport, "openai", path="/chat/completions", auth=key),
                "perplexity": {
                    "type": "perplexity",
                    "host": fake.hostport,
                    "scheme": "http",
                    "path": "/pplx/chat/completions",
                    "auth": key,
                },
                "gemini": provider_entry(fake.hostport, "gemini", auth=key),
                "openai": provider_entry(fake.hostport, "openai", auth=key),
                "flaky": provider_entry(
                    fake.hostport,
                    "anthropic",
                    auth=key,
                    retry={"codes": [529], "attempts": 1, "budget_seconds": 5, "fallback_models": ["claude-backup"]},
                ),
            },
            "hooks": {
                "outbound": [
                    "ccproxy.hooks.pplx_stamp_headers",
                    "ccproxy.hooks.verbose_mode",
                    "ccproxy.hooks.commitbee_compat",
                ]
            },
        }
    }
    d = DaemonProcess(tmp_path_factory.mktemp("daemon"), config, env={"FAKE_KEY": "real-key"})
    d.start()
    yield d
    d.stop()


def sentinel(name: str) -> str:
    return f"sk-ant-oat-ccproxy-{name}"


# ---- DeepSeek: reasoning_content <-> thinking ------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["buffered", "streamed"])
def test_deepseek_anthropic_client_gets_thinking(daemon: DaemonProcess, stream: bool) -> None:
    client = anthropic.Anthropic(api_key=sentinel("deepseek"), base_url=daemon.url)
    kwargs: dict[str, Any] = {
        "model": "deepseek-reasoner",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": "2+2?"}],
    }
    if stream:
        with client.messages.stream(**kwargs) as s:
            msg = s.get_final_message()
    else:
        msg = client.messages.create(**kwargs)
    kinds = [(b.type, getattr(b, "thinking", None) or getattr(b, "text", None)) for b in msg.content]
    assert kinds == [("thinking", THINK), ("text", ANSWER)]


@pytest.mark.parametrize("stream", [False, True], ids=["buffered", "streamed"])
def test_deepseek_openai_client_keeps_reasoning_content(daemon: DaemonProcess, stream: bool) -> None:
    client = openai.OpenAI(api_key=sentinel("deepseek"), base_url=daemon.url + "/v1")
    messages: Any = [{"role": "user", "content": "2+2?"}]
    if stream:
        reasoning, text = "", ""
        for chunk in client.chat.completions.create(model="deepseek-reasoner", messages=messages, stream=True):
            for c in chunk.choices:
                reasoning += (c.delta.model_extra or {}).get("reasoning_content") or ""
                text += c.delta.content or ""
    else:
        out = client.chat.completions.create(model="deepseek-reasoner", messages=messages)
        reasoning = (out.choices[0].message.model_extra or {}).get("reasoning_content")
        text = out.choices[0].message.content or ""
    assert (reasoning, text) == (THINK, ANSWER)


@pytest.mark.parametrize("stream", [False, True], ids=["buffered", "streamed"])
def test_deepseek_responses_client_gets_reasoning_item(daemon: DaemonProcess, stream: bool) -> None:
    client = openai.OpenAI(api_key=sentinel("deepseek"), base_url=daemon.url + "/v1")
    if stream:
        with client.responses.stream(model="deepseek-reasoner", input="2+2?") as s:
            r = s.get_final_response()
    else:
        r = client.responses.create(model="deepseek-reasoner", input="2+2?")
    reasoning = ["".join(p.text for p in (i.content or i.summary or [])) for i in r.output if i.type == "reasoning"]
    assert reasoning == [THINK]
    assert r.output_text == ANSWER


@pytest.mark.parametrize("stream", [False, True], ids=["buffered", "streamed"])
def test_deepseek_gemini_client_gets_thought_parts(daemon: DaemonProcess, stream: bool) -> None:
    client = genai.Client(api_key=sentinel("deepseek"), http_options=gtypes.HttpOptions(base_url=daemon.url))
    if stream:
        parts = [
            p
            for c in client.models.generate_content_stream(model="deepseek-reasoner", contents="2+2?")
            for p in (c.candidates[0].content.parts if c.candidates and c.candidates[0].content else None) or []
        ]
    else:
        out = client.models.generate_content(model="deepseek-reasoner", contents="2+2?")
        parts = list(out.candidates[0].content.parts or []) if out.candidates and out.candidates[0].content else []
    thought = "".join(p.text or "" for p in parts if p.thought)
    text = "".join(p.text or "" for p in parts if not p.thought)
    assert (thought, text) == (THINK, ANSWER)


def test_deepseek_request_reaches_its_openai_endpoint(daemon: DaemonProcess, fake: FakeProvider) -> None:
    client = anthropic.Anthropic(api_key=sentinel("deepseek"), base_url=daemon.url)
    client.messages.create(model="deepseek-chat", max_tokens=32, messages=[{"role": "user", "content": "x"}])
    got = fake.last()
    assert got.path == "/chat/completions"
    assert got.headers["authorization"] == "Bearer real-key"
    assert got.json["model"] == "deepseek-chat"


# ---- Perplexity -----------------------------------------------------------------------------


def test_perplexity_openai_client_sees_search_results(daemon: DaemonProcess, fake: FakeProvider) -> None:
    client = openai.OpenAI(api_key=sentinel("perplexity"), base_url=daemon.url + "/v1")
    out = client.chat.completions.create(model="sonar", messages=[{"role": "user", "content": "2+2?"}])
    assert out.choices[0].message.content == "Four [1]."
    extra = out.model_extra or {}
    assert extra["search_results"] == SEARCH_RESULTS
    assert extra["citations"] == [r["url"] for r in SEARCH_RESULTS]
    got = fake.last()
    assert got.path == "/pplx/chat/completions"
    assert got.headers["authorization"] == "Bearer real-key"
    # pplx_stamp_headers: the documented API's headers, nothing of other vendors
    assert got.headers["accept"] == "application/json"
    assert got.headers["content-type"] == "application/json"


def test_perplexity_stream_keeps_search_results(daemon: DaemonProcess, fake: FakeProvider) -> None:
    client = openai.OpenAI(api_key=sentinel("perplexity"), base_url=daemon.url + "/v1")
    chunks = list(
        client.chat.completions.create(model="sonar", messages=[{"role": "user", "content": "2+2?"}], stream=True)
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Four [1]."
    assert all((c.model_extra or {}).get("search_results") == SEARCH_RESULTS for c in chunks)
    assert fake.last().headers["accept"] == "text/event-stream"


def test_perplexity_anthropic_client_gets_the_answer(daemon: DaemonProcess, fake: FakeProvider) -> None:
    client = anthropic.Anthropic(api_key=sentinel("perplexity"), base_url=daemon.url)
    msg = client.messages.create(model="sonar", max_tokens=64, messages=[{"role": "user", "content": "2+2?"}])
    assert msg.content[0].type == "text" and msg.content[0].text == "Four [1]."
    got = fake.last()
    assert "anthropic-version" not in got.headers and "x-api-key" not in got.headers


# ---- CommitBee ------------------------------------------------------------------------------

COMMITBEE_SYSTEM = (
    "You generate Conventional Commit messages from git diffs.\n\nUse exactly one type:\n"
    "feat, fix, refactor, chore, docs, test, style, perf, build, ci, revert\n"
)


def commitbee_openai(url: str, key: str, model: str) -> str:
    """What CommitBee's OpenAI provider sends, and how it reads the stream (crate source)."""
    body = {
        "model": model,
        "messages": [{"role": "system", "content": COMMITBEE_SYSTEM}, {"role": "user", "content": "diff --git a"}],
        "temperature": 0.3,
        "max_tokens": 256,
        "stream": True,
    }
    text = ""
    with httpx.stream(
        "POST", url + "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}, timeout=30
    ) as r:
        assert r.status_code == 200, r.read()
        buf = ""
        for piece in r.iter_text():
            buf += piece
            while "\n" in buf:
                line, buf = buf.split("\n", 1)
                line = line.strip()
                if not line or line == "data: [DONE]" or not line.startswith("data: "):
                    continue
                try:
                    chunk = json.loads(line[6:])
                    choices = chunk["choices"]  # serde: a chunk without choices is skipped
                    deltas = [(c["delta"], c.get("finish_reason")) for c in choices]
                except (ValueError, KeyError, TypeError):
                    continue
                for delta, finish in deltas:
                    text += delta.get("content") or ""
                    if finish is not None:
                        return text.strip()
    return text.strip()


def commitbee_anthropic(url: str, key: str, model: str) -> str:
    body = {
        "model": model,
        "system": COMMITBEE_SYSTEM,
        "messages": [{"role": "user", "content": "diff --git a"}],
        "temperature": 0.3,
        "max_tokens": 256,
        "stream": True,
    }
    headers = {"x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json"}
    text = ""
    with httpx.stream("POST", url + "/v1/messages", json=body, headers=headers, timeout=30) as r:
        assert r.status_code == 200, r.read()
        for line in r.iter_lines():
            line = line.strip()
            if not line or line.startswith("event:") or not line.startswith("data: "):
                continue
            try:
                event = json.loads(line[6:])
            except ValueError:
                continue
            if event.get("type") == "content_block_delta":
                text += (event.get("delta") or {}).get("text") or ""
            elif event.get("type") == "message_stop":
                return text.strip()
    return text.strip()


def test_commitbee_to_gemini_thinking_model(daemon: DaemonProcess, fake: FakeProvider) -> None:
    text = commitbee_openai(daemon.url, sentinel("gemini"), "gemini-2.5-flash")
    assert text == "Hello from the fake provider."
    got = fake.last()
    assert got.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    gc = got.json["generationConfig"]
    assert gc["maxOutputTokens"] == 4096  # CommitBee's 256 would all go to thinking
    assert gc["thinkingConfig"] == {"includeThoughts": False, "thinkingBudget": 0}


def test_commitbee_anthropic_mode_to_openai_reasoning_model(daemon: DaemonProcess, fake: FakeProvider) -> None:
    text = commitbee_anthropic(daemon.url, sentinel("openai"), "o4-mini")
    assert text == "Hello from the fake provider."
    got = fake.last().json
    assert "max_tokens" not in got and got["max_completion_tokens"] == 4096
    assert "temperature" not in got
    assert got["reasoning_effort"] == "low"


def test_commitbee_deepseek_reasoner_stream_reads_only_the_answer(daemon: DaemonProcess, fake: FakeProvider) -> None:
    assert commitbee_openai(daemon.url, sentinel("deepseek"), "deepseek-reasoner") == ANSWER
    assert fake.last().json["max_tokens"] == 4096


def test_other_clients_are_left_alone(daemon: DaemonProcess, fake: FakeProvider) -> None:
    client = openai.OpenAI(api_key=sentinel("openai"), base_url=daemon.url + "/v1")
    client.chat.completions.create(model="o4-mini", max_tokens=256, messages=[{"role": "user", "content": "hi"}])
    got = fake.last().json
    assert got["max_tokens"] == 256 and "max_completion_tokens" not in got


# ---- retry: on any provider -----------------------------------------------------------------


def overloaded(retry_after: str | None = None) -> Reply:
    headers = {"retry-after": retry_after} if retry_after else {}
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    return Reply(status=529, json=body, headers=headers)


def test_provider_retry_same_model_then_fallback(daemon: DaemonProcess, fake: FakeProvider) -> None:
    before = len(fake.received)
    fake.queue(overloaded("0.2"), overloaded(), Reply(json=anthropic_message("claude-backup", "from the backup")))
    client = anthropic.Anthropic(api_key=sentinel("flaky"), base_url=daemon.url, max_retries=0)
    msg = client.messages.create(model="claude-main", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    assert msg.content[0].type == "text" and msg.content[0].text == "from the backup"
    sent = fake.received[before:]
    assert [r.json["model"] for r in sent] == ["claude-main", "claude-main", "claude-backup"]
    assert sent[1].received_at - sent[0].received_at >= 0.2  # retry-after honoured
    flow = daemon.flows(bodies="1")[-1]
    assert [(a["model"], a["status"]) for a in flow["ccproxy"]["attempts"]] == [
        ("claude-main", 529),
        ("claude-main", 529),
        ("claude-backup", 200),
    ]


def test_provider_retry_gives_up_with_the_last_answer(daemon: DaemonProcess, fake: FakeProvider) -> None:
    fake.queue(overloaded(), overloaded(), overloaded())
    client = anthropic.Anthropic(api_key=sentinel("flaky"), base_url=daemon.url, max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as err:
        client.messages.create(model="claude-main", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    assert err.value.status_code == 529
    assert len(daemon.flows()[-1]["ccproxy"]["attempts"]) == 3


def test_retry_before_a_stream_started_delivers_the_stream(daemon: DaemonProcess, fake: FakeProvider) -> None:
    fake.queue(overloaded(), Reply(events=anthropic_events("claude-main", "streamed after retry")))
    client = anthropic.Anthropic(api_key=sentinel("flaky"), base_url=daemon.url, max_retries=0)
    with client.messages.stream(model="claude-main", max_tokens=8, messages=[{"role": "user", "content": "hi"}]) as s:
        final = s.get_final_message()
    assert final.content[0].type == "text" and final.content[0].text == "streamed after retry"


def test_retry_to_converted_stream(daemon: DaemonProcess, fake: FakeProvider) -> None:
    """An OpenAI client on the flaky Anthropic provider: the retried stream is converted too."""
    fake.queue(overloaded(), Reply(events=anthropic_events("claude-main", "converted after retry")))
    client = openai.OpenAI(api_key=sentinel("flaky"), base_url=daemon.url + "/v1", max_retries=0)
    text = "".join(
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(
            model="claude-main", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        if c.choices
    )
    assert text == "converted after retry"


# ---- Perplexity search results in other clients' citation fields ------------------------------
# Mapped through lightllm's citation IR (ccproxy.lightllm.citations).

URLS = {r["url"] for r in SEARCH_RESULTS}


def _urls(obj: Any) -> set[str]:
    """Every string value under a url/uri/source key, anywhere in a dumped SDK object."""
    found: set[str] = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("url", "uri", "source") and isinstance(v, str):
                found.add(v)
            found |= _urls(v)
    elif isinstance(obj, list):
        for v in obj:
            found |= _urls(v)
    return found


def test_perplexity_citations_for_anthropic_client(daemon: DaemonProcess) -> None:
    client = anthropic.Anthropic(api_key=sentinel("perplexity"), base_url=daemon.url)
    msg = client.messages.create(model="sonar", max_tokens=64, messages=[{"role": "user", "content": "2+2?"}])
    text_blocks = [b.model_dump() for b in msg.content if b.type == "text"]
    assert _urls([b.get("citations") for b in text_blocks]) & URLS


def test_perplexity_citations_for_responses_client(daemon: DaemonProcess) -> None:
    client = openai.OpenAI(api_key=sentinel("perplexity"), base_url=daemon.url + "/v1")
    r = client.responses.create(model="sonar", input="2+2?")
    annotations = [p.model_dump().get("annotations") for i in r.output if i.type == "message" for p in i.content]
    assert _urls(annotations) & URLS


def test_perplexity_citations_for_gemini_client(daemon: DaemonProcess) -> None:
    client = genai.Client(api_key=sentinel("perplexity"), http_options=gtypes.HttpOptions(base_url=daemon.url))
    out = client.models.generate_content(model="sonar", contents="2+2?")
    assert out.candidates
    grounding = out.candidates[0].grounding_metadata
    assert grounding is not None and _urls(grounding.model_dump()) & URLS
