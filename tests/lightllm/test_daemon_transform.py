"""Through the real daemon: an official SDK of format A talks to the fake upstream of format B
via a `transform` rule, for all 12 cross pairs (non-streaming); errors come back as the
client SDK's exception; GET /v1/models and count_tokens estimates are answered locally."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types as gt

from ccproxy.lightllm.ir import WIRES
from tests.lightllm.lightllm_builders import SCHEMA, Answer, Call, response
from tests.lightllm.lightllm_oracles import check_request
from tests.support.daemon import DaemonProcess, provider_entry
from tests.support.fake_provider import FakeProvider, Reply

PAIRS = [pytest.param(a, b, id=f"{a}-sdk->{b}-upstream") for a in WIRES for b in WIRES if a != b]
ANSWER = Answer(text="Checking.", calls=[Call("call_1", "get_weather", {"city": "Paris"})], stop="tool_use")


def _rules() -> list[dict[str, Any]]:
    # The model name a client asks for picks the upstream: "to-gemini" goes to the gemini provider.
    return [
        {"match_model": f"^to-{w}$", "action": "transform", "dest_provider": w, "dest_model": f"{w}-model"}
        for w in WIRES
    ]


@pytest.fixture(scope="module")
def fake(shared_fake: FakeProvider) -> FakeProvider:
    return shared_fake


@pytest.fixture(scope="module")
def daemon(fake: FakeProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    providers = {w: provider_entry(fake.hostport, w) for w in WIRES}
    config = {"ccproxy": {"providers": providers, "lightllm": {"transforms": _rules()}}}
    d = DaemonProcess(tmp_path_factory.mktemp("transform"), config)
    d.start()
    yield d
    d.stop()


def _call(client: str, url: str, model: str) -> dict[str, Any]:
    """Ask for the weather with one tool through the SDK of `client`; returns what the SDK
    surfaced: text, tool calls and stop reason."""
    if client == "anthropic":
        a = anthropic.Anthropic(base_url=url, api_key="sk-ant-client", max_retries=0)
        msg = a.messages.create(
            model=model,
            max_tokens=256,
            system="Be brief.",
            messages=[{"role": "user", "content": "Weather in Paris?"}],
            tools=[{"name": "get_weather", "description": "Weather for a city", "input_schema": SCHEMA}],
        )
        return {
            "text": "".join(b.text for b in msg.content if b.type == "text"),
            "calls": [(b.name, b.input) for b in msg.content if b.type == "tool_use"],
            "stop": msg.stop_reason,
            "tokens": (msg.usage.input_tokens, msg.usage.output_tokens),
        }
    if client == "openai":
        o = openai.OpenAI(base_url=url + "/v1", api_key="sk-client", max_retries=0)
        chat = o.chat.completions.create(
            model=model,
            messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris?"}],
            tools=[
                {
                    "type": "function",
                    "function": {"name": "get_weather", "description": "Weather for a city", "parameters": SCHEMA},
                }
            ],
        )
        m = chat.choices[0].message
        return {
            "text": m.content or "",
            "calls": [(c.function.name, json.loads(c.function.arguments)) for c in m.tool_calls or []],  # type: ignore[union-attr]
            "stop": chat.choices[0].finish_reason,
            "tokens": (chat.usage.prompt_tokens, chat.usage.completion_tokens),  # type: ignore[union-attr]
        }
    if client == "openai_responses":
        o = openai.OpenAI(base_url=url + "/v1", api_key="sk-client", max_retries=0)
        r = o.responses.create(
            model=model,
            instructions="Be brief.",
            input="Weather in Paris?",
            tools=[
                {
                    "type": "function",
                    "name": "get_weather",
                    "description": "Weather for a city",
                    "parameters": SCHEMA,
                    "strict": False,
                }
            ],
        )
        return {
            "text": r.output_text,
            "calls": [(i.name, json.loads(i.arguments)) for i in r.output if i.type == "function_call"],
            "stop": r.status,
            "tokens": (r.usage.input_tokens, r.usage.output_tokens),  # type: ignore[union-attr]
        }
    g = genai.Client(api_key="AIza-client-000000000000000000000", http_options=gt.HttpOptions(base_url=url))
    out = g.models.generate_content(
        model=model,
        contents="Weather in Paris?",
        config=gt.GenerateContentConfig(
            system_instruction="Be brief.",
            tools=[
                gt.Tool(
                    function_declarations=[
                        gt.FunctionDeclaration(
                            name="get_weather", description="Weather for a city", parameters_json_schema=SCHEMA
                        )
                    ]
                )
            ],
            automatic_function_calling=gt.AutomaticFunctionCallingConfig(disable=True),
        ),
    )
    parts = out.candidates[0].content.parts or []  # type: ignore[index,union-attr]
    return {
        "text": "".join(p.text for p in parts if p.text and not p.thought),
        "calls": [(p.function_call.name, p.function_call.args) for p in parts if p.function_call],
        "stop": out.candidates[0].finish_reason,  # type: ignore[index]
        "tokens": (out.usage_metadata.prompt_token_count, out.usage_metadata.candidates_token_count),  # type: ignore[union-attr]
    }


STOP = {
    "anthropic": "tool_use",
    "openai": "tool_calls",
    "openai_responses": "completed",
    "gemini": gt.FinishReason.STOP,
}


@pytest.mark.parametrize(("client", "upstream"), PAIRS)
def test_sdk_through_transform_rule(client: str, upstream: str, daemon: DaemonProcess, fake: FakeProvider) -> None:
    fake.queue(Reply(json=response(upstream, ANSWER)))
    got = _call(client, daemon.url, f"to-{upstream}")
    assert got["text"] == "Checking."
    assert got["calls"] == [("get_weather", {"city": "Paris"})]
    assert got["stop"] == STOP[client]
    # Anthropic counts cached prompt tokens apart from input_tokens (20 of the 100 were cached).
    assert got["tokens"][0] == (80 if client == "anthropic" else 100)

    rec = fake.last()
    sent = rec.json
    check_request(upstream, sent)
    if upstream == "gemini":
        assert rec.path == "/v1beta/models/gemini-model:generateContent"
        assert sent["systemInstruction"]["parts"] == [{"text": "Be brief."}]
        assert sent["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
    else:
        assert rec.path == {"anthropic": "/v1/messages", "openai": "/v1/chat/completions"}.get(
            upstream, "/v1/responses"
        )
        assert sent["model"] == f"{upstream}-model"
    # The client's key went to the destination wire's slot; no foreign API headers leaked.
    slot = {"anthropic": "x-api-key", "gemini": "x-goog-api-key"}.get(upstream, "authorization")
    assert "client" in rec.headers[slot]
    if upstream != "anthropic":
        assert "anthropic-version" not in rec.headers
    summary = daemon.flows()[-1]["ccproxy"]
    assert (summary["client_wire"], summary["upstream_wire"], summary["provider"]) == (client, upstream, upstream)
    assert summary["transform"]["action"] == "transform"
    assert summary["transform"]["dest_model"] == f"{upstream}-model"


ERRORS = [
    ("anthropic", "openai", anthropic.RateLimitError),
    ("anthropic", "gemini", anthropic.OverloadedError),
    ("openai", "anthropic", openai.InternalServerError),
    ("openai_responses", "gemini", openai.RateLimitError),
]
UPSTREAM_ERRORS = {
    "openai": (
        429,
        {"error": {"message": "Slow down", "type": "requests", "param": None, "code": "rate_limit_exceeded"}},
    ),
    "gemini": (503, {"error": {"code": 503, "message": "Overloaded", "status": "UNAVAILABLE"}}),
    "anthropic": (529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
}


@pytest.mark.parametrize(("client", "upstream", "exc"), ERRORS)
def test_upstream_error_becomes_the_client_sdk_exception(
    client: str, upstream: str, exc: type[Exception], daemon: DaemonProcess, fake: FakeProvider
) -> None:
    status, body = UPSTREAM_ERRORS[upstream]
    if (client, upstream) == ("openai_responses", "gemini"):
        status, body = 429, {"error": {"code": 429, "message": "Quota", "status": "RESOURCE_EXHAUSTED"}}
    fake.queue(Reply(status=status, json=body, headers={"retry-after": "3", "x-request-id": "req_up_1"}))
    with pytest.raises(exc) as info:
        _call(client, daemon.url, f"to-{upstream}")
    err: Any = info.value
    assert err.response.headers["retry-after"] == "3"
    rid = "request-id" if client == "anthropic" else "x-request-id"
    assert err.response.headers[rid] == "req_up_1"


def test_unconvertible_response_is_a_clean_error_in_the_client_format(
    daemon: DaemonProcess, fake: FakeProvider
) -> None:
    fake.queue(Reply(body=b"<html>not json</html>", content_type="application/json"))
    with pytest.raises(openai.InternalServerError) as info:
        _call("openai", daemon.url, "to-anthropic")
    assert info.value.response.json()["error"]["type"] == "server_error"
    assert "cannot convert" in info.value.response.json()["error"]["message"]


def test_models_list(daemon: DaemonProcess) -> None:
    o = openai.OpenAI(base_url=daemon.url + "/v1", api_key="k", max_retries=0)
    ids = [m.id for m in o.models.list()]
    assert ids[:4] == [f"{w}-model" for w in WIRES]
    assert "to-gemini" in ids
    a = anthropic.Anthropic(base_url=daemon.url, api_key="k", max_retries=0)
    assert [m.id for m in a.models.list()][:2] == ["anthropic-model", "openai-model"]


def test_count_tokens_estimated_when_routed_to_another_format(daemon: DaemonProcess, fake: FakeProvider) -> None:
    before = len(fake.received)
    a = anthropic.Anthropic(base_url=daemon.url, api_key="k", max_retries=0)
    n = a.messages.count_tokens(model="to-openai", messages=[{"role": "user", "content": "x" * 400}])
    assert n.input_tokens == 100 + 4
    g = genai.Client(api_key="AIza-client-000000000000000000000", http_options=gt.HttpOptions(base_url=daemon.url))
    total = g.models.count_tokens(model="to-anthropic", contents="y" * 40).total_tokens
    assert total == 10 + 4
    assert len(fake.received) == before  # answered by ccproxy, nothing sent upstream


def test_rule_routes_a_wire_no_provider_serves(
    fake: FakeProvider, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> None:
    """Only an Anthropic provider; the seeds' example rule sends gpt-4o Chat requests to it."""
    config = {
        "ccproxy": {
            "providers": {"anthropic": provider_entry(fake.hostport, "anthropic")},
            "inspector": {
                "transforms": [
                    {
                        "match_path": "^/v1/chat/completions",
                        "match_model": "^gpt-4o",
                        "action": "transform",
                        "dest_provider": "anthropic",
                        "dest_model": "claude-haiku-4-5-20251001",
                    }
                ]
            },
        }
    }
    d = DaemonProcess(tmp_path_factory.mktemp("seed_rule"), config).start()
    request.addfinalizer(d.stop)
    fake.queue(Reply(json=response("anthropic", Answer(text="Hi there."))))
    o = openai.OpenAI(base_url=d.url + "/v1", api_key="sk-client", max_retries=0)
    chat = o.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert chat.choices[0].message.content == "Hi there."
    assert fake.last().json["model"] == "claude-haiku-4-5-20251001"
    # Not matched by the rule and no OpenAI provider: a clean 404 in OpenAI's format.
    with pytest.raises(openai.NotFoundError):
        o.chat.completions.create(model="gpt-5", messages=[{"role": "user", "content": "hi"}])


def test_deepseek_redirect_by_one_rule(
    fake: FakeProvider, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> None:
    """Anthropic requests go to DeepSeek's /anthropic/v1/messages: same wire, body kept."""
    config = {
        "ccproxy": {
            "providers": {
                "anthropic": provider_entry(fake.hostport, "anthropic"),
                "deepseek": provider_entry(fake.hostport, "anthropic", path="/anthropic/v1/messages"),
            },
            "lightllm": {"transforms": [{"match_model": "^deepseek", "dest_provider": "deepseek"}]},
        }
    }
    d = DaemonProcess(tmp_path_factory.mktemp("deepseek"), config).start()
    request.addfinalizer(d.stop)
    body = {"model": "deepseek-chat", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    r = httpx.post(d.url + "/v1/messages", json=body, headers={"x-api-key": "k"}, trust_env=False, timeout=10)
    assert r.status_code == 200
    assert fake.last().path == "/anthropic/v1/messages"
    assert fake.last().json == body


@pytest.mark.parametrize("upstream", ["openai", "openai_responses", "gemini"])
def test_claude_code_request_routed_to_another_format(upstream: str, daemon: DaemonProcess, fake: FakeProvider) -> None:
    """Claude Code 2.1.x sends `role: "system"` messages, `output_config`, `context_management`:
    routed to another format it gets an answer (it got a 400 before), its system messages in
    place, and the answer's id in Anthropic's shape with the upstream id kept in the flow."""
    import json
    from pathlib import Path

    body = json.loads((Path(__file__).parent / "data" / "claude_code_2_1_request.json").read_text())
    body = {**body, "model": f"to-{upstream}", "stream": False}
    fake.queue(Reply(json=response(upstream, ANSWER)))
    a = anthropic.Anthropic(base_url=daemon.url, api_key="sk-ant-client", max_retries=0)
    msg = a.post("/v1/messages", cast_to=anthropic.types.Message, body=body)
    assert msg.id.startswith("msg_")
    assert [(b.name, b.input) for b in msg.content if b.type == "tool_use"] == [("get_weather", {"city": "Paris"})]
    sent = fake.last().json
    check_request(upstream, sent)
    agents = body["messages"][1]["content"]
    if upstream == "openai":
        assert {"role": "system", "content": agents} in sent["messages"]
    elif upstream == "openai_responses":
        dev = [i["content"] for i in sent["input"] if i.get("role") == "developer"]
        texts = [c if isinstance(c, str) else "".join(p.get("text", "") for p in c) for c in dev]
        assert agents in texts
    else:
        assert any(agents in p.get("text", "") for c in sent["contents"] for p in c["parts"])
    flow = daemon.flows()[-1]
    assert flow["ccproxy"]["transform"]["action"] == "transform"
