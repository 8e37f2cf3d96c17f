"""TransformAddon on real mitmproxy flows (no sockets): routing left by earlier addons,
credential hooks, passthrough, streams left alone, failures as clean client-format errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import http
from mitmproxy.test import tflow

from ccproxy.addons.transform import TransformAddon, header_map, move_credential
from ccproxy.config.loader import parse_config
from ccproxy.config.models import Provider
from ccproxy.flows import meta
from tests.lightllm.lightllm_builders import WEATHER, Answer, request, response
from tests.lightllm.lightllm_oracles import check_request


def _config(rules: list[dict[str, Any]] | None = None) -> Any:
    providers = {
        "claude": {"type": "anthropic", "host": "api.anthropic.com"},
        "gem": {"type": "gemini", "host": "generativelanguage.googleapis.com"},
        "oa": {"type": "openai", "host": "api.openai.com"},
    }
    return parse_config({"ccproxy": {"providers": providers, "lightllm": {"transforms": rules or []}}}, Path("."))


def _flow(path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> http.HTTPFlow:
    req = http.Request.make("POST", f"http://127.0.0.1:4000{path}", json.dumps(body).encode(), headers or {})
    f = tflow.tflow(req=req)
    f.metadata[meta.CLIENT_REQUEST] = req.get_state()
    return f


async def test_sentinel_route_to_another_wire_is_converted() -> None:
    """inject_auth (earlier in the chain) routed an OpenAI client to the Anthropic provider."""
    f = _flow("/v1/chat/completions", request("openai", WEATHER), {"x-api-key": "real-anthropic-key"})
    f.metadata |= {meta.CLIENT_WIRE: "openai", meta.UPSTREAM_WIRE: "anthropic", meta.PROVIDER: "claude"}
    f.metadata[meta.CREDENTIAL_INJECTED] = True
    await TransformAddon(_config()).request(f)
    assert f.response is None
    assert f.request.path == "/v1/messages"
    check_request("anthropic", json.loads(f.request.content or b""))
    assert f.request.headers["x-api-key"] == "real-anthropic-key"  # injected credential untouched
    assert f.request.headers["anthropic-version"] == "2023-06-01"
    assert f.metadata[meta.TRANSFORM]["action"] == "transform"


async def test_credential_hook_gets_the_destination_provider() -> None:
    seen: list[tuple[str, str]] = []

    async def inject(flow: http.HTTPFlow, name: str, provider: Provider) -> None:
        seen.append((name, provider.type))
        flow.request.headers["x-goog-api-key"] = "injected"

    rules = [{"match_path": "^/v1/messages", "action": "transform", "dest_provider": "gem", "dest_model": "gemini-x"}]
    f = _flow("/v1/messages?beta=true", request("anthropic", WEATHER) | {"stream": True}, {"x-api-key": "client"})
    await TransformAddon(_config(rules), credentials=inject).request(f)
    assert seen == [("gem", "gemini")]
    assert f.request.host == "generativelanguage.googleapis.com"
    assert f.request.path == "/v1beta/models/gemini-x:streamGenerateContent?alt=sse"
    assert f.request.headers["x-goog-api-key"] == "injected"
    assert "x-api-key" not in f.request.headers and "anthropic-version" not in f.request.headers


async def test_passthrough_rule_leaves_the_request_alone() -> None:
    rules = [{"match_model": "^gpt", "action": "passthrough", "dest_provider": "claude"}]
    body = request("openai", WEATHER)
    f = _flow("/v1/chat/completions", body)
    await TransformAddon(_config(rules)).request(f)
    assert json.loads(f.request.content or b"") == body and f.request.host == "127.0.0.1"
    assert f.metadata[meta.TRANSFORM]["action"] == "passthrough"


async def test_unconvertible_request_is_a_400_in_the_client_format() -> None:
    rules = [{"action": "transform", "dest_provider": "claude"}]
    f = _flow("/v1/chat/completions", {"model": "gpt-4o", "messages": "not a list"})
    await TransformAddon(_config(rules)).request(f)
    assert f.response is not None and f.response.status_code == 400
    err = json.loads(f.response.content or b"")["error"]
    assert err["type"] == "invalid_request_error" and "messages: expected an array" in err["message"]


@pytest.mark.parametrize("stream_flag", [True, False])
async def test_streams_are_left_to_the_streaming_addon(stream_flag: bool) -> None:
    rules = [{"action": "transform", "dest_provider": "claude"}]
    f = _flow("/v1/chat/completions", request("openai", WEATHER))
    addon = TransformAddon(_config(rules))
    await addon.request(f)
    upstream = response("anthropic", Answer())
    f.response = http.Response.make(200, b"event: ping\ndata: {}\n\n", {"content-type": "text/event-stream"})
    if stream_flag:
        f.response.stream = True
    addon.response(f)
    assert f.response.content == b"event: ping\ndata: {}\n\n"
    f.response = http.Response.make(200, json.dumps(upstream).encode(), {"content-type": "application/json"})
    addon.response(f)
    assert json.loads(f.response.content or b"")["object"] == "chat.completion"
    assert f.metadata[meta.CLIENT_RESPONSE]["status_code"] == 200
    assert json.loads(f.metadata["ccproxy.upstream_response"]["content"]) == upstream


@pytest.mark.parametrize(
    ("src", "dst", "headers", "query", "want"),
    [
        ("gemini", "openai", {}, {"key": "AIzaK"}, ("authorization", "Bearer AIzaK")),
        ("openai", "anthropic", {"authorization": "Bearer sk-x"}, {}, ("x-api-key", "sk-x")),
        (
            "openai",
            "anthropic",
            {"authorization": "Bearer sk-ant-oat01-t"},
            {},
            ("authorization", "Bearer sk-ant-oat01-t"),
        ),
        ("anthropic", "gemini", {"x-api-key": "k"}, {}, ("x-goog-api-key", "k")),
        ("openai", "gemini", {"Authorization": "Bearer sk-y", "X-Api-Key": "other"}, {}, ("x-goog-api-key", "sk-y")),
        ("anthropic", "openai", {"X-API-KEY": "k\u00e9"}, {}, ("authorization", "Bearer k\u00e9")),
    ],
)
def test_client_key_moves_to_the_destination_slot(
    src: Any, dst: Any, headers: dict[str, str], query: dict[str, str], want: tuple[str, str]
) -> None:
    req = http.Request.make("POST", "http://h/p", b"", headers)
    req.query.update(query)
    move_credential(req, src, dst)
    assert req.headers[want[0]] == want[1]
    assert "key" not in req.query
    assert len([k for k in req.headers if k in ("authorization", "x-api-key", "x-goog-api-key")]) == 1


async def test_unrouted_request_is_answered_unless_a_rule_names_a_provider() -> None:
    from ccproxy.addons.unrouted import UnroutedAddon

    rules = [{"match_model": "^gpt", "dest_model": "x"}, {"match_model": "^claude", "dest_provider": "claude"}]
    addon = TransformAddon(_config(rules))
    for model, routed in (("gpt-4o", False), ("claude-x", True), ("other", False)):
        f = _flow("/v1/messages", request("anthropic", WEATHER) | {"model": model})
        f.metadata[meta.UNROUTED] = "ccproxy: no provider handles anthropic requests"
        await addon.request(f)
        UnroutedAddon().request(f)
        assert (f.response is None) == routed
        assert (f.request.host == "api.anthropic.com") == routed
        if not routed:
            assert f.response is not None and f.response.status_code == 404
            assert b"no provider handles" in f.response.content


@pytest.mark.parametrize(
    "fields",
    [
        (),
        ((b"Content-Type", b"application/json"), (b"Retry-After", b"3")),
        ((b"x-ratelimit-a", b"1"), (b"X-RateLimit-A", b"2"), (b"request-id", b"r"), (b"x-ratelimit-a", b"3")),
        ((b"x-odd", b"caf\xc3\xa9 \xff"),),  # non-UTF-8 bytes survive as mitmproxy decodes them
    ],
)
def test_header_map_is_the_lowercased_items(fields: tuple[tuple[bytes, bytes], ...]) -> None:
    headers = http.Headers(fields)
    assert header_map(headers) == {k.lower(): v for k, v in headers.items()}
    assert list(header_map(headers)) == [k.lower() for k in headers]
